import type pg from 'pg';
import { markBroken, withClient } from '../checkout.js';
import { buildSeedPlan } from './buildSeedPlan.js';
import { createStatementQueue } from './createStatementQueue.js';
import type { StatementQueue } from './createStatementQueue.js';
import { loadComments, loadFollows, loadIntentSignals, loadLikes } from './engagementLoaders.js';
import {
  analyzeSeededTables,
  computeProfileEmbeddings,
  rebuildListingVectorIndex,
  syncIdentitySequences,
} from './finalizeDatabase.js';
import { assertMigrated, ensureEmpty, SEEDED_TABLES, type SeededTable } from './prepareDatabase.js';
import { SeedError } from './SeedError.js';
import { DEFAULT_AS_OF, validateSeedOptions } from './seedOptions.js';
import type { SeedOptions } from './seedOptions.js';
import { resumeTriggers, suspendTriggers } from './suspendTriggers.js';
import {
  loadCategories,
  loadInterests,
  loadListings,
  loadProfiles,
  loadUserInterests,
} from './tableLoaders.js';
import { isoTimestamp } from './timeSpans.js';
import { verifyForeignKeys } from './verifyForeignKeys.js';

export type SeedPhase =
  | 'prepare'
  | 'plan'
  | 'suspend_triggers'
  | SeededTable
  | 'profile_embeddings'
  | 'verify'
  | 'reindex'
  | 'analyze'
  | 'commit'
  | 'vacuum';

export interface SeedProgress {
  phase: SeedPhase;
  /** Rows written by the phase, when it writes rows. */
  rows?: number;
  /** Extra detail worth showing, e.g. that the tables were reset. */
  note?: string;
  elapsedMs: number;
  totalElapsedMs: number;
}

export interface SeedSummary {
  rows: Record<SeededTable, number>;
  phases: SeedProgress[];
  elapsedMs: number;
}

function isPool(db: pg.ClientBase | pg.Pool): db is pg.Pool {
  // Only a Pool tracks its clients; checked structurally so a second copy of pg still works.
  return 'totalCount' in db;
}

/**
 * Fills an empty, migrated database with a deterministic synthetic marketplace: same options →
 * byte-identical rows. Runs in one transaction on one connection (taken from the pool if given
 * a pool), so a failure leaves the database as it was. Do not call inside an open transaction.
 */
export async function seedDatabase(
  db: pg.ClientBase | pg.Pool,
  options: SeedOptions,
  onProgress?: (progress: SeedProgress) => void,
): Promise<SeedSummary> {
  const problems = validateSeedOptions(options);
  if (problems.length > 0) throw new SeedError(`invalid seed options: ${problems.join('; ')}`);

  // From a pool: one checked-out client, guarded (and destroyed if it broke) by withClient.
  if (isPool(db)) return withClient(db, (pooled) => seedOnClient(pooled, options, onProgress, pooled));
  return seedOnClient(db, options, onProgress);
}

async function seedOnClient(
  client: pg.ClientBase,
  options: SeedOptions,
  onProgress: ((progress: SeedProgress) => void) | undefined,
  pooled?: pg.PoolClient,
): Promise<SeedSummary> {
  const started = performance.now();
  const phases: SeedProgress[] = [];
  const rows: Record<SeededTable, number> = {
    categories: 0,
    interest_catalog: 0,
    profiles: 0,
    user_interests: 0,
    marketplace_listings: 0,
    likes: 0,
    comments: 0,
    follows: 0,
    intent_signals: 0,
  };
  let phaseStarted = started;
  const done = (phase: SeedPhase, count?: number, note?: string): void => {
    const now = performance.now();
    const progress: SeedProgress = {
      phase,
      ...(count === undefined ? {} : { rows: count }),
      ...(note === undefined ? {} : { note }),
      elapsedMs: Math.round(now - phaseStarted),
      totalElapsedMs: Math.round(now - started),
    };
    phaseStarted = now;
    phases.push(progress);
    onProgress?.(progress);
  };
  const queue: StatementQueue = createStatementQueue(client);
  const load = async (table: SeededTable, run: () => Promise<number>): Promise<void> => {
    rows[table] = await run();
    await queue.drain();
    done(table, rows[table]);
  };

  try {
    await client.query('BEGIN');
    await assertMigrated(client);
    const emptied = await ensureEmpty(client, options.reset === true);
    done('prepare', undefined, emptied === 'reset' ? 'seeded tables emptied (--reset)' : 'database is empty');

    const asOfMs = (options.asOf ?? DEFAULT_AS_OF).getTime();
    const plan = buildSeedPlan(options, asOfMs);
    done('plan');

    const suspended = await suspendTriggers(client);
    done(
      'suspend_triggers',
      undefined,
      suspended.foreignKeysSkipped ? 'row-by-row FK checks skipped' : undefined,
    );
    await load('categories', () => loadCategories(queue, plan));
    await load('interest_catalog', () => loadInterests(queue, plan));
    await load('profiles', () => loadProfiles(queue, plan));
    await load('user_interests', () => loadUserInterests(queue, plan));
    await load('marketplace_listings', () => loadListings(queue, plan));
    await load('likes', () => loadLikes(queue, plan));
    await load('comments', () => loadComments(queue, plan));
    await load('follows', () => loadFollows(queue, plan));
    await load('intent_signals', () => loadIntentSignals(queue, plan));

    done(
      'profile_embeddings',
      await computeProfileEmbeddings(client, isoTimestamp(asOfMs)),
      'HNSW index rebuilt',
    );
    await resumeTriggers(client, suspended);
    if (suspended.foreignKeysSkipped) {
      done('verify', undefined, `${await verifyForeignKeys(client)} foreign keys checked`);
    }
    await syncIdentitySequences(client);
    await rebuildListingVectorIndex(client);
    done('reindex');
    await analyzeSeededTables(client);
    done('analyze');
    await client.query('COMMIT');
    done('commit');
    // After the commit (VACUUM cannot run in a transaction): setting the profile embeddings left a dead
    // version of every profile behind, and no page is in the visibility map yet. Autovacuum would see to
    // both in its own time (on a server without it, never); until then every profile lookup steps over
    // the dead version. Plain VACUUM: the column statistics stay the ones just taken (it only refreshes the
    // tables' row and page counts).
    await client.query(`VACUUM ${SEEDED_TABLES.join(', ')}`);
    done('vacuum');
    return { rows, phases, elapsedMs: Math.round(performance.now() - started) };
  } catch (error) {
    // Let already-queued statements settle so ROLLBACK is not interleaved with them.
    await queue.drain().catch(() => undefined);
    const rolledBack = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    // A pooled connection that cannot even roll back is broken: destroy it rather than reuse it.
    if (pooled && !rolledBack) markBroken(pooled, new Error('ROLLBACK failed after a seed error'));
    throw error;
  }
}
