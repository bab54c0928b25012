import type pg from 'pg';
import { withIdentity, type RlsViewer } from '../db/identity.js';
import { toOutageError } from '../errors/databaseErrors.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { exactTimestampTypes } from '../platform/pgTypes.js';
import { statementConfig, type NamedStatement } from '../platform/pool.js';
import {
  EXPORT_SECTIONS,
  profileRecord,
  type ExportRecord,
  type ProfileRow,
  type ReadRows,
} from './exportSections.js';
import { exportProfileSql } from './exportSql.js';

/**
 * A person's privacy export (issue #19, docs/privacy.md#export) as NDJSON lines: a header, the profile,
 * every Postgres section in keyset pages, the parts kept in Redis and memory, and an end line with the
 * counts. It is an async generator, so the HTTP response pulls one page at a time: a page is read when
 * the previous one has been handed to the socket (backpressure), and a long history never sits in
 * memory. Each page is its own short transaction under the reader's identity (the pool's statement
 * timeout bounds it), so an export holds no connection while the client reads.
 */

/** Bump when a record's shape changes incompatibly (docs/privacy.md#export). */
export const EXPORT_VERSION = 1;

/** Rows per page: one statement and one chunk of the response each. */
export const EXPORT_PAGE_SIZE = 1000;

/** What the export reads outside Postgres; each throws when its store cannot be read. */
export interface ExportSources {
  /** The feature cache's entry for the person (null: nothing cached). */
  cachedFeatures: (userId: string) => Promise<{ features: unknown; expiresAt: Date } | null>;
  /** The arm recorded for the person in each experiment. */
  experimentArms: (
    userId: string,
  ) => Promise<{ experiment: string; active: boolean; arm: string | null; expiresAt: Date | null }[]>;
  /** What is left of the person's write budgets in the current window. */
  rateLimits: (
    userId: string,
  ) => Promise<{ action: string; limit: number; remaining: number; resetAt: Date }[]>;
}

/** How an export ended: complete, failed part-way (after an error line), or left by its client. */
export interface ExportSummary {
  ok: boolean;
  /** Records per section written before the end (or the failure). */
  counts: Record<string, number>;
  /** Sections whose store could not be read (Redis down): an `unavailable` line each. */
  unavailable: string[];
  error?: string;
}

export interface ExportRequest {
  /** Whose data: the profile already read (readExportProfile), so a missing person is a 404, not a stream. */
  profile: ProfileRow;
  /** Who reads it: the person, or an admin (the RLS identity of every statement). */
  reader: RlsViewer;
  requestId: string;
  /** Called once when the export ends, however it ends (never throws into the stream). */
  onEnd?: (summary: ExportSummary) => Promise<void>;
}

export interface ExportDeps {
  pool: pg.Pool;
  sources: ExportSources;
  logger: Logger;
  /** @default EXPORT_PAGE_SIZE */
  pageSize?: number;
}

/** One statement under the reader's identity, in its own transaction, timestamps exact. */
function rowReader(pool: pg.Pool, reader: RlsViewer): ReadRows {
  return async <R extends pg.QueryResultRow>(statement: NamedStatement, values: unknown[]) =>
    withIdentity(pool, reader, async (client) => {
      const query = { ...statementConfig(pool, statement, values), types: exactTimestampTypes };
      return (await client.query<R>(query)).rows;
    });
}

/** The person's profile as the reader may see it; null when there is no such profile (or not for them). */
export async function readExportProfile(
  pool: pg.Pool,
  reader: RlsViewer,
  userId: string,
): Promise<ProfileRow | null> {
  const rows = await rowReader(pool, reader)<ProfileRow>(exportProfileSql, [userId]);
  return rows[0] ?? null;
}

/** The parts outside Postgres, after the Postgres sections. */
function outsideSections(sources: ExportSources) {
  return [
    {
      name: 'cachedFeatures',
      read: async (userId: string): Promise<ExportRecord[]> => {
        const cached = await sources.cachedFeatures(userId);
        return cached ? [{ expiresAt: cached.expiresAt.toISOString(), features: cached.features }] : [];
      },
    },
    {
      name: 'experimentArm',
      read: async (userId: string): Promise<ExportRecord[]> =>
        (await sources.experimentArms(userId)).map((arm) => ({
          experiment: arm.experiment,
          active: arm.active,
          arm: arm.arm,
          expiresAt: arm.expiresAt?.toISOString() ?? null,
        })),
    },
    {
      name: 'rateLimit',
      read: async (userId: string): Promise<ExportRecord[]> =>
        (await sources.rateLimits(userId)).map((status) => ({
          action: status.action,
          limit: status.limit,
          remaining: status.remaining,
          resetAt: status.resetAt.toISOString(),
        })),
    },
  ];
}

const line = (value: Record<string, unknown>): string => `${JSON.stringify(value)}\n`;
const lines = (type: string, records: readonly ExportRecord[]): string =>
  records.map((record) => line({ type, ...record })).join('');

/**
 * The export as chunks of NDJSON (one per page). A failure after the first line ends it with an
 * `error` line (the headers are sent: a truncated export must be recognisable), logged with the request
 * id; a store outside Postgres that cannot be read becomes an `unavailable` line and the export goes on.
 */
export async function* streamUserExport(
  deps: ExportDeps,
  request: ExportRequest,
): AsyncGenerator<string, void, undefined> {
  const { pool, logger } = deps;
  // The database readers (migration 20261210030000) return at most EXPORT_PAGE_SIZE rows: a larger page
  // would end their sections after one short page.
  const pageSize = Math.min(deps.pageSize ?? EXPORT_PAGE_SIZE, EXPORT_PAGE_SIZE);
  const userId = request.profile.user_id;
  const read = rowReader(pool, request.reader);
  const counts: Record<string, number> = {};
  const unavailable: string[] = [];
  // Until the end line is written, an export that stops was left by its client (the stream destroyed).
  let outcome: { ok: boolean; error?: string } = { ok: false, error: 'the client closed the connection' };
  try {
    yield line({ type: 'export', version: EXPORT_VERSION, userId, generatedAt: new Date().toISOString() });
    yield lines('profile', [profileRecord(request.profile)]);
    counts.profile = 1;
    for (const section of EXPORT_SECTIONS) {
      let n = 0;
      counts[section.name] = n;
      for await (const records of section.pages(read, userId, pageSize)) {
        n += records.length;
        counts[section.name] = n;
        yield lines(section.name, records);
      }
    }
    for (const section of outsideSections(deps.sources)) {
      let records: ExportRecord[];
      try {
        records = await section.read(userId);
      } catch (error) {
        logger.warn(
          { err: coerceError(error), section: section.name },
          'privacy export: section unavailable',
        );
        unavailable.push(section.name);
        yield line({
          type: 'unavailable',
          section: section.name,
          // Redis, mostly; an experiment list that Postgres could not give is logged above as what it was.
          reason: 'it could not be read (Redis or the database failed); export again later for this section',
        });
        continue;
      }
      counts[section.name] = records.length;
      if (records.length > 0) yield lines(section.name, records);
    }
    yield line({ type: 'end', counts, unavailable });
    outcome = { ok: true };
  } catch (error) {
    const failure = coerceError(error);
    outcome = { ok: false, error: failure.message };
    logger.error({ err: failure, userId, counts }, 'privacy export failed part-way');
    const reason = toOutageError(error)?.message ?? 'internal server error';
    yield line({
      type: 'error',
      message: `the export stopped before its end: ${reason}`,
      requestId: request.requestId,
    });
  } finally {
    await request.onEnd?.({ ...outcome, counts, unavailable }).catch((error: unknown) => {
      logger.error({ err: coerceError(error) }, 'privacy export: recording its end failed');
    });
  }
}
