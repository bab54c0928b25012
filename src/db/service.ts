import type pg from 'pg';
import { createPool } from '../platform/pool.js';
import { withTransaction } from './checkout.js';

/**
 * The service path: statements that run as lodestar_service with the 'service' identity — the feed's
 * candidate reads and the insert-only learning-event writes. On a real server it is its own small pool
 * whose sessions start in that role (one statement per query, no transaction wrapper), and a second one
 * whose sessions plan generically (queryGeneric). On the embedded
 * database (one shared session) each query runs in a transaction that switches role locally.
 */
export interface ServiceDb {
  /**
   * Runs one statement. A `name` makes it a prepared statement on each pooled session (parsed once per
   * session, planned per call): for the long statements run on every request. One name, one text.
   */
  query: <R extends pg.QueryResultRow>(text: string, values: unknown[], name?: string) => Promise<R[]>;
  /**
   * The same for a named statement whose plan must not depend on its parameters' values: it runs on
   * sessions in `plan_cache_mode = force_generic_plan`, so it is planned once per session instead of on
   * every call. Only for statements whose one plan suits every call (the feed's cached-candidates read:
   * key lookups and short index scans); a statement that needs the values to plan well (the vector
   * search) stays on `query`.
   */
  queryGeneric: <R extends pg.QueryResultRow>(text: string, values: unknown[], name: string) => Promise<R[]>;
  close: () => Promise<void>;
}

/** VECTOR_IVFFLAT_PROBES's default: recall@20 ≥ 0.95 on ivfflat indexes of up to ~200 lists (docs/benchmarks.md). */
export const DEFAULT_IVFFLAT_PROBES = 10;

/**
 * Search settings for the ivfflat indexes: `probes` lists searched per query (VECTOR_IVFFLAT_PROBES: recall
 * against speed, to follow the indexes' lists as the catalogue grows), scans that keep going past filters.
 */
export const vectorSearchSettings = (probes: number = DEFAULT_IVFFLAT_PROBES) => ({
  'ivfflat.probes': String(probes),
  'ivfflat.iterative_scan': 'relaxed_order',
});

/** How long a service-path statement waits for a pool connection before it fails. */
export const SERVICE_CONNECTION_TIMEOUT_MS = 3000;

/** The same settings for the current transaction (set_config(..., true)), as one statement. */
export const setVectorSearchSql = `SELECT set_config('ivfflat.probes', $1, true), set_config('ivfflat.iterative_scan', $2, true)`;
export const vectorSearchValues = (probes: number = DEFAULT_IVFFLAT_PROBES): string[] => {
  const settings = vectorSearchSettings(probes);
  return [settings['ivfflat.probes'], settings['ivfflat.iterative_scan']];
};

export function createServiceDb(options: {
  url: string;
  statementTimeoutMs: number;
  poolMax: number;
  /** Embedded mode: the gateway's single-connection pool. */
  shared?: pg.Pool;
  /** ivfflat lists searched per query (VECTOR_IVFFLAT_PROBES). @default DEFAULT_IVFFLAT_PROBES */
  ivfflatProbes?: number;
  onPoolError: (error: Error) => void;
  /**
   * A read replica's service path: a statement that fails because the replica is down or unreachable
   * (`fallback.when`) runs again on `fallback.db` (the primary's), after `fallback.onFailure` is told.
   * Only reads go to a replica, so running one again is safe.
   */
  fallback?: { db: ServiceDb; when: (error: unknown) => boolean; onFailure: (error: Error) => void };
  /** @default 'lodestar-gateway-service' */
  applicationName?: string;
}): ServiceDb {
  const { shared, fallback } = options;
  const search = vectorSearchSettings(options.ivfflatProbes);
  if (shared) {
    const inTransaction = <R extends pg.QueryResultRow>(text: string, values: unknown[]) =>
      withTransaction(shared, async (client) => {
        await client.query('SET LOCAL ROLE lodestar_service');
        await client.query(
          `SELECT set_config('lodestar.role', 'service', true), set_config('ivfflat.probes', $1, true),
                  set_config('ivfflat.iterative_scan', $2, true)`,
          [search['ivfflat.probes'], search['ivfflat.iterative_scan']],
        );
        return (await client.query<R>(text, values)).rows;
      });
    return {
      query: inTransaction,
      // Statements are unnamed on the shared session (a generic plan would be built per call and
      // save nothing), so the cached read is planned like any other there.
      queryGeneric: inTransaction,
      close: async () => undefined,
    };
  }
  const poolOf = (settings: Record<string, string | number>, applicationName: string) =>
    createPool({
      url: options.url,
      role: 'lodestar_service',
      settings: {
        'lodestar.role': 'service',
        statement_timeout: options.statementTimeoutMs,
        // No JIT: these statements take milliseconds, and a plan whose estimate crosses jit_above_cost
        // (the cached read's generic plan at 1M listings counts pools it never runs) spent 1.5–2.6 s per
        // call compiling it with LLVM (docs/benchmarks.md, the scale phase).
        jit: 'off',
        ...search,
        ...settings,
      },
      applicationName,
      max: options.poolMax,
      connectionTimeoutMillis: SERVICE_CONNECTION_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      onError: options.onPoolError,
    });
  const applicationName = options.applicationName ?? 'lodestar-gateway-service';
  const pool = poolOf({}, applicationName);
  // Sessions of their own for generic plans (plan_cache_mode is per session): opened on first use, and
  // closed again when idle like the others, so a process that never serves a cached feed holds none.
  const genericPool = poolOf({ plan_cache_mode: 'force_generic_plan' }, `${applicationName}-generic`);
  const orFallback = async <R>(run: () => Promise<R>, again: (db: ServiceDb) => Promise<R>): Promise<R> => {
    try {
      return await run();
    } catch (error) {
      if (!fallback?.when(error)) throw error;
      fallback.onFailure(error instanceof Error ? error : new Error(String(error)));
      return again(fallback.db);
    }
  };
  return {
    query: <R extends pg.QueryResultRow>(text: string, values: unknown[], name?: string) =>
      orFallback(
        async () =>
          (await pool.query<R>(name === undefined ? { text, values } : { name, text, values })).rows,
        (db) => db.query<R>(text, values, name),
      ),
    queryGeneric: <R extends pg.QueryResultRow>(text: string, values: unknown[], name: string) =>
      orFallback(
        async () => (await genericPool.query<R>({ name, text, values })).rows,
        (db) => db.queryGeneric<R>(text, values, name),
      ),
    close: async () => {
      await Promise.all([pool.end(), genericPool.end()]);
    },
  };
}
