import type pg from 'pg';
import { createPool } from '../platform/pool.js';
import { withTransaction } from './checkout.js';

/**
 * The service path: statements that run as lodestar_service with the 'service' identity — the feed's
 * candidate reads and the insert-only learning-event writes. On a real server it is its own small pool
 * whose sessions start in that role (one statement per query, no transaction wrapper). On the embedded
 * database (one shared session) each query runs in a transaction that switches role locally.
 */
export interface ServiceDb {
  /**
   * Runs one statement. A `name` makes it a prepared statement on each pooled session (parsed once per
   * session, planned per call): for the long statements run on every request. One name, one text.
   */
  query: <R extends pg.QueryResultRow>(text: string, values: unknown[], name?: string) => Promise<R[]>;
  close: () => Promise<void>;
}

/** Search settings for the ivfflat index: enough lists probed for recall, scans that keep going past filters. */
export const vectorSearchSettings = { 'ivfflat.probes': '10', 'ivfflat.iterative_scan': 'relaxed_order' };

export function createServiceDb(options: {
  url: string;
  statementTimeoutMs: number;
  poolMax: number;
  /** Embedded mode: the gateway's single-connection pool. */
  shared?: pg.Pool;
  onPoolError: (error: Error) => void;
}): ServiceDb {
  const { shared } = options;
  if (shared) {
    return {
      query: <R extends pg.QueryResultRow>(text: string, values: unknown[]) =>
        withTransaction(shared, async (client) => {
          await client.query('SET LOCAL ROLE lodestar_service');
          await client.query(
            `SELECT set_config('lodestar.role', 'service', true), set_config('ivfflat.probes', $1, true),
                    set_config('ivfflat.iterative_scan', $2, true)`,
            [vectorSearchSettings['ivfflat.probes'], vectorSearchSettings['ivfflat.iterative_scan']],
          );
          return (await client.query<R>(text, values)).rows;
        }),
      close: async () => undefined,
    };
  }
  const pool = createPool({
    url: options.url,
    role: 'lodestar_service',
    settings: {
      'lodestar.role': 'service',
      statement_timeout: options.statementTimeoutMs,
      ...vectorSearchSettings,
    },
    applicationName: 'lodestar-gateway-service',
    max: options.poolMax,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    onError: options.onPoolError,
  });
  return {
    query: async <R extends pg.QueryResultRow>(text: string, values: unknown[], name?: string) =>
      (await pool.query<R>(name === undefined ? { text, values } : { name, text, values })).rows,
    close: () => pool.end(),
  };
}
