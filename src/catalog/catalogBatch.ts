import type { GraphQLError } from 'graphql';
import { actorOf } from '../auth/actor.js';
import type { Viewer } from '../auth/viewer.js';
import type { Database } from '../db/database.js';
import { withIdentity } from '../db/identity.js';
import { createBadUserInputError, createError } from '../errors/errors.js';
import type { FeatureStore } from '../features/featureStore.js';
import { appendAudit } from '../ops/audit.js';
import type { Queryable } from '../queue/leaseQueue.js';
import {
  CatalogRowError,
  checkBatch,
  checkInterest,
  checkListing,
  checkStatusChange,
  sourceProblem,
  type Checked,
  type InterestRow,
  type ListingRow,
  type StatusChange,
} from './rows.js';
import {
  setListingStatuses,
  upsertInterests,
  upsertListings,
  type BatchResult,
  type RowOutcome,
} from './writeCatalog.js';
import { interestSlugHoldersSql } from './sql.js';

/**
 * The catalogue API's batches (upsertListings, setListingStatus, upsertInterests): checked whole before
 * anything runs, written in one transaction under the caller's RLS identity (a service or an admin), so
 * a refused row leaves nothing of its batch behind, and recorded as one ops_audit row per batch.
 */

/**
 * Most rows in one batch. 1000 listings with 384-float embeddings at full double precision are 7.7 MB of
 * JSON (measured in test/catalog/catalogApi.test.ts), inside SERVICE_BODY_LIMIT_BYTES' default of
 * 16 MiB; their upsert is one statement of 1.5–2.5 s on the test machine, well under
 * STATEMENT_TIMEOUT_MS' default of 5 s.
 */
export const MAX_CATALOG_BATCH = 1000;

/** Deadlock or serialization failure: two batches touching the same rows in different orders; retried. */
const RETRYABLE_STATES = new Set(['40P01', '40001']);
const ATTEMPTS = 3;
const UNIQUE_VIOLATION = '23505';

export type CatalogOperation = 'upsertListings' | 'setListingStatus' | 'upsertInterests';

/** What a batch uses of the request: who asks (RLS and audit), the pool, the feature cache to invalidate. */
export interface CatalogWriteContext {
  viewer: Viewer;
  requestId: string;
  db: Pick<Database, 'pool'>;
  features: Pick<FeatureStore, 'invalidate'>;
}

/** A batch checked and ready to write. */
export interface CatalogBatch<T> {
  operation: CatalogOperation;
  /** The argument the rows came in, for error paths (`listings[3].embedding`). */
  arg: string;
  source: string;
  rows: T[];
}

export interface CatalogBatchResult extends BatchResult {
  inserted: number;
  updated: number;
  unchanged: number;
}

/** A refused row as the API reports it: `field` is its path in the arguments, `index` its position. */
export function catalogRowInputError(error: CatalogRowError, arg: string): GraphQLError {
  const field = `${arg}[${error.index}].${error.field}`;
  return createError('BAD_USER_INPUT', `${field} ${error.problem}`, { field, index: error.index });
}

type Input = Readonly<Record<string, unknown>>;

function parseBatch<T extends { externalId: string }>(
  operation: CatalogOperation,
  arg: string,
  source: string,
  inputs: readonly Input[],
  check: (input: Input) => Checked<T>,
): CatalogBatch<T> {
  const problem = sourceProblem(source);
  if (problem) throw createBadUserInputError(`source ${problem}`, 'source');
  if (inputs.length === 0) throw createBadUserInputError(`${arg} must not be empty`, arg);
  // Before any row is looked at: a batch over the limit costs nothing but this comparison.
  if (inputs.length > MAX_CATALOG_BATCH) {
    throw createBadUserInputError(
      `${arg} may hold at most ${MAX_CATALOG_BATCH} rows per batch, got ${inputs.length}; send several batches`,
      arg,
    );
  }
  try {
    return { operation, arg, source, rows: checkBatch(inputs, check) };
  } catch (error) {
    if (error instanceof CatalogRowError) throw catalogRowInputError(error, arg);
    throw error;
  }
}

export const parseListings = (source: string, listings: readonly Input[]) =>
  parseBatch('upsertListings', 'listings', source, listings, (input) => checkListing(input));
export const parseStatusChanges = (source: string, changes: readonly Input[]) =>
  parseBatch('setListingStatus', 'changes', source, changes, checkStatusChange);
export const parseInterests = (source: string, interests: readonly Input[]) =>
  parseBatch('upsertInterests', 'interests', source, interests, checkInterest);

const sqlStateOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * A unique violation that the writers' checks could not see coming: another transaction took an
 * interest's slug between the check and the insert. Postgres leaves the key out of the error for a
 * role without SELECT on every column of the index, so the slugs are looked up again, after the
 * rollback: the first row whose slug someone else now holds is the one refused.
 */
async function slugRace(
  ctx: CatalogWriteContext,
  error: unknown,
  source: string,
  rows: readonly { externalId: string; slug?: string }[],
): Promise<CatalogRowError | undefined> {
  if (sqlStateOf(error) !== UNIQUE_VIOLATION) return undefined;
  if ((error as { constraint?: unknown }).constraint !== 'interest_catalog_slug_key') return undefined;
  const slugs = rows.flatMap((r) => (r.slug === undefined ? [] : [r.slug]));
  const { rows: holders } = await withIdentity(ctx.db.pool, ctx.viewer, (client) =>
    client.query<{ slug: string; source: string | null; external_id: string | null }>(
      interestSlugHoldersSql,
      [slugs],
    ),
  );
  const holderOf = new Map(holders.map((h) => [h.slug, h]));
  const index = rows.findIndex((r) => {
    const holder = r.slug === undefined ? undefined : holderOf.get(r.slug);
    return holder !== undefined && (holder.source !== source || holder.external_id !== r.externalId);
  });
  return index >= 0
    ? new CatalogRowError(index, 'slug', `"${rows[index]?.slug}" was just taken by another interest`)
    : undefined;
}

function counted(result: BatchResult): CatalogBatchResult {
  const count = (outcome: RowOutcome) => result.rows.filter((r) => r.outcome === outcome).length;
  return { ...result, inserted: count('inserted'), updated: count('updated'), unchanged: count('unchanged') };
}

async function writeBatch<T extends { externalId: string }>(
  ctx: CatalogWriteContext,
  batch: CatalogBatch<T>,
  write: (client: Queryable, source: string, rows: readonly T[]) => Promise<BatchResult>,
  staleListings: boolean,
): Promise<CatalogBatchResult> {
  const started = performance.now();
  for (let attempt = 1; ; attempt += 1) {
    try {
      const result = await withIdentity(ctx.db.pool, ctx.viewer, async (client) => {
        const written = counted(await write(client, batch.source, batch.rows));
        // One row per batch, in its transaction: a refused batch leaves no audit row either.
        await appendAudit(client, actorOf(ctx), {
          action: batch.operation,
          args: { source: batch.source, rows: batch.rows.length },
          result: {
            inserted: written.inserted,
            updated: written.updated,
            unchanged: written.unchanged,
            discoveryQueued: written.discoveryQueued,
          },
          ok: true,
          durationMs: performance.now() - started,
        });
        return written;
      });
      if (staleListings) {
        // Cached listing features carry the category and creation time: drop those of changed listings.
        const changed = result.rows.filter((r) => r.outcome === 'updated').map((r) => r.id);
        if (changed.length > 0) await ctx.features.invalidate({ listings: changed });
      }
      return result;
    } catch (error) {
      if (error instanceof CatalogRowError) throw catalogRowInputError(error, batch.arg);
      const race = await slugRace(ctx, error, batch.source, batch.rows);
      if (race) throw catalogRowInputError(race, batch.arg);
      const state = sqlStateOf(error);
      if (state !== undefined && RETRYABLE_STATES.has(state) && attempt < ATTEMPTS) continue;
      throw error;
    }
  }
}

export const writeListings = (ctx: CatalogWriteContext, batch: CatalogBatch<ListingRow>) =>
  writeBatch(ctx, batch, upsertListings, true);
export const writeStatusChanges = (ctx: CatalogWriteContext, batch: CatalogBatch<StatusChange>) =>
  writeBatch(ctx, batch, setListingStatuses, true);
export const writeInterests = (ctx: CatalogWriteContext, batch: CatalogBatch<InterestRow>) =>
  writeBatch(ctx, batch, upsertInterests, false);
