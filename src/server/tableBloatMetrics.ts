import type pg from 'pg';
import { Gauge } from 'prom-client';
import { coerceError } from '../errors/errors.js';
import { readTableBloat, type TableBloat } from '../ops/tableBloat.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';

/** Scrapes closer together than this share one read of pg_stat_user_tables. */
const CACHE_MS = 10_000;

/**
 * Runbook "Monitor bloat with pg_stat_user_tables" on /metrics, per hot table: `lodestar_table_live_tuples`,
 * `lodestar_table_dead_tuples`, `lodestar_table_dead_tuple_share` and
 * `lodestar_table_last_vacuum_timestamp_seconds{by="manual"|"autovacuum"}` (absent until the first one).
 * Read at scrape time (at most every 10 s); when the database cannot answer the gauges keep their last
 * values (the table_bloat alert and `lodestar_alert_evaluation_ok` say the rest).
 */
export function registerTableBloatMetrics(
  metrics: Metrics,
  pool: Pick<pg.Pool, 'query'>,
  logger: Logger,
): void {
  let cached: { at: number; tables: TableBloat[] } | undefined;
  let pending: Promise<TableBloat[]> | undefined;
  const current = (): Promise<TableBloat[]> => {
    if (cached && Date.now() - cached.at < CACHE_MS) return Promise.resolve(cached.tables);
    pending ??= readTableBloat(pool)
      .then((tables) => {
        cached = { at: Date.now(), tables };
        return tables;
      })
      .catch((error: unknown) => {
        logger.warn({ err: coerceError(error) }, 'table bloat read for /metrics failed');
        return cached?.tables ?? [];
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const gauge = (name: string, help: string, value: (t: TableBloat) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['table'],
      registers: [metrics.registry],
      async collect() {
        for (const t of await current()) this.set({ table: t.table }, value(t));
      },
    });
  gauge('lodestar_table_live_tuples', 'Hot tables: n_live_tup (pg_stat_user_tables)', (t) => t.liveTuples);
  gauge('lodestar_table_dead_tuples', 'Hot tables: n_dead_tup (pg_stat_user_tables)', (t) => t.deadTuples);
  gauge(
    'lodestar_table_dead_tuple_share',
    'Hot tables: n_dead_tup / (n_live_tup + n_dead_tup), 0 when empty (alert table_bloat: ALERT_DEAD_TUPLE_SHARE)',
    (t) => t.deadTupleShare,
  );
  new Gauge({
    name: 'lodestar_table_last_vacuum_timestamp_seconds',
    help: 'Hot tables: when VACUUM (by="manual") and autovacuum (by="autovacuum") last ran, Unix seconds',
    labelNames: ['table', 'by'],
    registers: [metrics.registry],
    async collect() {
      for (const t of await current()) {
        if (t.lastVacuum) this.set({ table: t.table, by: 'manual' }, t.lastVacuum.getTime() / 1000);
        if (t.lastAutovacuum) {
          this.set({ table: t.table, by: 'autovacuum' }, t.lastAutovacuum.getTime() / 1000);
        }
      }
    },
  });
}
