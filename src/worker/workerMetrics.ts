import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { serveMetrics } from '../platform/metricsServer.js';
import { QUEUES, type QueueName } from '../queue/leaseQueue.js';

export type ItemOutcome = 'claimed' | 'succeeded' | 'failed' | 'lost' | 'released';

export interface WorkerMetrics {
  registry: Registry;
  count: (queue: QueueName, outcome: ItemOutcome, ms?: number) => void;
  /** Cached feature keys the worker could not drop (Redis down): they go stale until their TTL. */
  invalidationSkipped: (keys: number) => void;
  /** Serves GET /metrics on a port of its own; resolves with the bound port. */
  serve: (host: string, port: number) => Promise<{ port: number; close: () => Promise<void> }>;
}

/** queue depth: counts by status and the age of the oldest waiting item, read from the runbook's views. */
const depthSql = (name: QueueName) => `
SELECT status, count(*)::float8 AS n FROM ${QUEUES[name].table} GROUP BY status`;
const ageSql = (name: QueueName) =>
  `SELECT oldest_age_sec, p95_age_sec FROM ${name === 'events' ? 'vw_events_queue_health' : 'vw_discovery_queue_health'}`;

/**
 * Worker metrics: items by outcome, processing time, and queue depth and age per queue (read from the
 * database at scrape time, so every worker reports the same numbers for the shared queues).
 */
export function createWorkerMetrics(pool: pg.Pool, queues: QueueName[]): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lodestar_worker_' });
  const items = new Counter({
    name: 'lodestar_worker_items_total',
    help: 'Queue items by queue and outcome (claimed, succeeded, failed = retried or moved to error, lost = lease lost, released)',
    labelNames: ['queue', 'outcome'],
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'lodestar_worker_feature_invalidations_skipped_total',
    help: 'Cached feature keys not dropped because Redis was unavailable (they expire by TTL instead)',
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'lodestar_worker_item_duration_seconds',
    help: 'Processing time per item, by queue',
    labelNames: ['queue'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'lodestar_queue_items',
    help: 'Items per queue and status, at scrape time',
    labelNames: ['queue', 'status'],
    registers: [registry],
    async collect() {
      for (const name of queues) {
        const { rows } = await pool.query<{ status: string; n: number }>(depthSql(name));
        for (const row of rows) this.set({ queue: name, status: row.status }, row.n);
      }
    },
  });
  new Gauge({
    name: 'lodestar_queue_age_seconds',
    help: 'Age of waiting items per queue: oldest and p95 (the runbook alerts on p95 > 300)',
    labelNames: ['queue', 'stat'],
    registers: [registry],
    async collect() {
      for (const name of queues) {
        const { rows } = await pool.query<{ oldest_age_sec: number; p95_age_sec: number }>(ageSql(name));
        this.set({ queue: name, stat: 'oldest' }, rows[0]?.oldest_age_sec ?? 0);
        this.set({ queue: name, stat: 'p95' }, rows[0]?.p95_age_sec ?? 0);
      }
    },
  });

  return {
    registry,
    count: (queue, outcome, ms) => {
      items.inc({ queue, outcome });
      if (ms !== undefined && outcome !== 'claimed') duration.observe({ queue }, ms / 1000);
    },
    invalidationSkipped: (keys) => skipped.inc(keys),
    serve: async (host, port) => {
      const served = await serveMetrics(registry, host, port);
      return { port: served.port, close: served.close };
    },
  };
}
