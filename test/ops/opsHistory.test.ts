import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS } from '../../src/flags/exposureStats.js';
import { defaultMaintenanceTasks, runDueMaintenance } from '../../src/worker/maintenance.js';
import { insertCategory, insertDiscoveryItem, insertEvent, insertInterest } from '../support/fixtures.js';
import { graphql } from '../support/graphql.js';
import { openOpsFile, type OpsFile } from '../support/opsHarness.js';

/** Issue #20, item 3: the history the ops console charts, snapshotted by the worker and read by admins. */

const History = graphql(`
  query History($metrics: [String!]!, $since: DateTime, $until: DateTime, $maxPoints: Int) {
    ops {
      history(metrics: $metrics, since: $since, until: $until, maxPoints: $maxPoints) {
        metric
        subject
        points {
          at
          value
        }
      }
    }
  }
`);

const KernelHistory = graphql(`
  query KernelHistory($kernel: String, $since: DateTime, $maxPoints: Int) {
    ops {
      kernelLatencyHistory(kernel: $kernel, since: $since, maxPoints: $maxPoints) {
        kernel
        points {
          at
          n
          p50Ms
          p95Ms
          p99Ms
          errorRate
        }
      }
    }
  }
`);

const FlagHistory = graphql(`
  query FlagHistory($key: String, $since: DateTime) {
    ops {
      flagExposureHistory(key: $key, since: $since) {
        flagKey
        variant
        points {
          at
          requests
          errors
          errorRate
          p95Ms
        }
      }
    }
  }
`);

describe('ops history (the console’s charts)', () => {
  let file: OpsFile;
  let worker: pg.Pool;

  beforeAll(async () => {
    file = await openOpsFile();
    // The worker's login: lodestar_worker with the service identity, as the worker process runs.
    worker = new pg.Pool({
      connectionString: file.db.url,
      max: 2,
      options: '-c role=lodestar_worker -c lodestar.role=service',
    });
    worker.on('error', () => undefined);
  });

  afterAll(async () => {
    await worker.end();
    await file.close();
  });

  const snapshotTask = () => defaultMaintenanceTasks().filter((t) => t.name === 'snapshot_ops_history');

  it('the worker snapshots the queue views and alert inputs once a minute, however often it runs', async () => {
    await insertEvent(file.db.pool, { status: 'queued', createdAgo: '10 minutes' });
    await insertEvent(file.db.pool, { status: 'queued', createdAgo: '2 minutes' });
    await insertEvent(file.db.pool, { status: 'error', attempts: 5 });
    const categoryId = await insertCategory(file.db.pool);
    const interestId = await insertInterest(file.db.pool, { categoryId });
    await insertDiscoveryItem(file.db.pool, {
      status: 'processing',
      leaseExpiresIn: '-5 minutes',
      interestId,
    });
    const logger = pino({ level: 'silent' });
    expect(await runDueMaintenance(worker, snapshotTask(), logger)).toEqual(['snapshot_ops_history']);
    // The task is due at every check; within the same minute a second snapshot writes nothing.
    const { rows: runs } = await file.db.pool.query<{ last_result: number }>(
      `SELECT last_result FROM maintenance_runs WHERE task = 'snapshot_ops_history'`,
    );
    expect(runs[0]?.last_result).toBe(19);
    await file.db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'snapshot_ops_history'`);
    await runDueMaintenance(worker, snapshotTask(), logger);
    const { rows } = await file.db.pool.query<{ metric: string; subject: string; n: string; value: number }>(
      `SELECT metric, subject, count(*) AS n, max(value) AS value FROM ops_history GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    // Unless the minute turned between the two runs, each series has one row.
    const minutes = Number(
      (await file.db.pool.query<{ n: string }>('SELECT count(DISTINCT taken_at) AS n FROM ops_history'))
        .rows[0]?.n,
    );
    expect(rows.every((r) => Number(r.n) === minutes)).toBe(true);
    const value = (metric: string, subject = '') =>
      rows.find((r) => r.metric === metric && r.subject === subject)?.value;
    expect(rows).toHaveLength(19);
    expect(value('queue.queued', 'events')).toBe(2);
    expect(value('queue.error', 'events')).toBe(1);
    expect(value('queue.oldest_age_sec', 'events')).toBeGreaterThanOrEqual(600);
    expect(value('queue.stuck_leases', 'discovery')).toBe(1);
    expect(value('queue.in_flight', 'discovery')).toBe(1);
    expect(rows.map((r) => r.metric)).toContain('alert.discovery_p95_age_sec');
  });

  it('admins read the series, bucketed to at most maxPoints, each bucket its largest value', async () => {
    // Two hours of a backlog that grows, one row a minute, then drains.
    await file.db.pool.query(`DELETE FROM ops_history`);
    await file.db.pool.query(
      `INSERT INTO ops_history (metric, subject, taken_at, value)
       SELECT 'queue.queued', 'events', date_trunc('minute', now()) - make_interval(mins => m), 120 - m
       FROM generate_series(1, 120) m`,
    );
    const since = new Date(Date.now() - 2 * 3600_000 - 60_000).toISOString();
    const data = await file.data(History, { metrics: ['queue.queued', 'queue.error'], since, maxPoints: 12 });
    const [series] = data.ops.history;
    expect(data.ops.history).toHaveLength(1);
    expect(series).toMatchObject({ metric: 'queue.queued', subject: 'events' });
    expect(series?.points.length).toBeLessThanOrEqual(12);
    expect(series?.points.length).toBeGreaterThanOrEqual(11);
    // The newest bucket holds the newest minutes: its largest value is the last snapshot's, 119.
    expect(series?.points.at(-1)?.value).toBe(119);
    const times = series?.points.map((p) => Date.parse(String(p.at))) ?? [];
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    // The last hour by default: only the newest 60 minutes.
    const lastHour = await file.data(History, { metrics: ['queue.queued'] });
    const values = lastHour.ops.history[0]?.points.map((p) => p.value) ?? [];
    expect(Math.min(...values.map(Number))).toBeGreaterThanOrEqual(60);
  });

  it('refuses what it cannot answer with BAD_USER_INPUT, and everyone but admins with FORBIDDEN', async () => {
    const codeOf = async (variables: Record<string, unknown>) =>
      (await file.execute(History, { metrics: ['queue.queued'], ...variables })).errors?.[0]?.extensions
        ?.code;
    expect(await codeOf({ metrics: ['queue.nope'] })).toBe('BAD_USER_INPUT');
    expect(await codeOf({ metrics: [] })).toBe('BAD_USER_INPUT');
    expect(await codeOf({ maxPoints: 0 })).toBe('BAD_USER_INPUT');
    expect(await codeOf({ maxPoints: 5000 })).toBe('BAD_USER_INPUT');
    expect(
      await codeOf({ since: new Date().toISOString(), until: new Date(Date.now() - 60_000).toISOString() }),
    ).toBe('BAD_USER_INPUT');
    // Instants new Date() would guess at, or whose window would leave the range of a date: refused while
    // the variables are read (over HTTP, 400 BAD_USER_INPUT), before any resolver or statement runs.
    for (const until of ['-271821-04-20T00:00:00Z', '2026-02-30T00:00:00Z', '2026-12-05', 'Dec 5 2026']) {
      const result = await file.execute(History, { metrics: ['queue.queued'], until });
      expect(result.errors?.[0]?.message, until).toContain('DateTime must be an ISO 8601 date and time');
      expect(result.data ?? null).toBeNull();
    }
    const unknown = await file.execute(History, { metrics: ['queue.nope'] });
    expect(unknown.errors?.[0]?.message).toContain('queue.queued');
    const user = await file.execute(
      History,
      { metrics: ['queue.queued'] },
      { viewer: { role: 'user', userId: '00000000-0000-4000-8000-000000000001' } },
    );
    expect(user.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(user.data?.ops ?? null).toBeNull();
  });

  it('kernel latency over time: p50/p95/p99 and error rate per bucket from the samples', async () => {
    // 100 feed samples a few minutes ago: 1..100 ms, every tenth one failed.
    await file.db.pool.query(
      `INSERT INTO kernel_latency (kernel, duration_ms, ok, at)
       SELECT 'feed', g, g % 10 <> 0, now() - interval '3 minutes' FROM generate_series(1, 100) g`,
    );
    const data = await file.data(KernelHistory, { kernel: 'feed', maxPoints: 1 });
    const [series] = data.ops.kernelLatencyHistory;
    expect(series?.kernel).toBe('feed');
    expect(series?.points).toHaveLength(1);
    const point = series?.points[0];
    expect(point?.n).toBe(100);
    expect(point?.p50Ms).toBeCloseTo(50.5, 5);
    expect(point?.p95Ms).toBeCloseTo(95.05, 5);
    expect(point?.errorRate).toBeCloseTo(0.1, 5);
  });

  it('flag exposure over time: requests, errors and p95 per variant from the gateways’ aggregates', async () => {
    const buckets = (at: number, n: number) => {
      const b = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
      b[at] = n;
      return b;
    };
    // Two flushes of variant "on": 90 requests in the 10 ms bucket, 10 in the 100 ms one; 5 errors.
    const fast = LATENCY_BUCKETS_MS.indexOf(10);
    const slow = LATENCY_BUCKETS_MS.indexOf(100);
    await file.db.pool.query(
      `INSERT INTO flag_exposure_stats (flag_key, variant, requests, errors, latency_buckets, at)
       VALUES ('history-flag', 'on', 90, 2, $1, now() - interval '2 minutes'),
              ('history-flag', 'on', 10, 3, $2, now() - interval '1 minute'),
              ('history-flag', 'off', 50, 0, $1, now() - interval '1 minute')`,
      [buckets(fast, 90), buckets(slow, 10)],
    );
    const data = await file.data(FlagHistory, { key: 'history-flag' });
    const on = data.ops.flagExposureHistory.find((s) => s.variant === 'on');
    const totals = on?.points.reduce((sum, p) => ({ r: sum.r + p.requests, e: sum.e + p.errors }), {
      r: 0,
      e: 0,
    });
    expect(totals).toEqual({ r: 100, e: 5 });
    const off = data.ops.flagExposureHistory.find((s) => s.variant === 'off');
    expect(off?.points.map((p) => p.requests)).toEqual([50]);
    expect(off?.points[0]?.p95Ms).toBeGreaterThan(5);
    expect(off?.points[0]?.p95Ms).toBeLessThanOrEqual(10);
    expect(off?.points[0]?.errorRate).toBe(0);
  });

  it('gc_ops_telemetry removes history older than 7 days with the rest of the telemetry', async () => {
    await file.db.pool.query(
      `INSERT INTO ops_history (metric, subject, taken_at, value)
       VALUES ('queue.queued', 'gc-test', now() - interval '8 days', 1),
              ('queue.queued', 'gc-test', now() - interval '6 days', 2)`,
    );
    const gc = defaultMaintenanceTasks().filter((t) => t.name === 'gc_ops_telemetry');
    await file.db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'gc_ops_telemetry'`);
    expect(await runDueMaintenance(worker, gc, pino({ level: 'silent' }))).toEqual(['gc_ops_telemetry']);
    const { rows } = await file.db.pool.query<{ value: number }>(
      `SELECT value FROM ops_history WHERE subject = 'gc-test' ORDER BY value`,
    );
    expect(rows.map((r) => r.value)).toEqual([2]);
  });

  it('nobody but the snapshot function writes the history', async () => {
    const app = new pg.Client({
      connectionString: file.db.url,
      options: '-c role=lodestar_app -c lodestar.role=admin',
    });
    app.on('error', () => undefined);
    await app.connect();
    try {
      await expect(
        app.query(
          `INSERT INTO ops_history (metric, subject, taken_at, value) VALUES ('queue.queued', 'x', now(), 1)`,
        ),
      ).rejects.toMatchObject({ code: '42501' });
    } finally {
      await app.end();
    }
  });
});
