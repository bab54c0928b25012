import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  insertCategory,
  insertDiscoveryItem,
  insertEvent,
  insertInterest,
  insertKernelSample,
  insertListing,
  insertProfile,
  insertUserInterest,
  percentileCont,
  withRollback,
  type QueueItemOptions,
} from '../support/fixtures.js';

interface QueueHealth {
  queued_ct: number;
  in_flight_ct: number;
  done_ct: number;
  error_ct: number;
  total_ct: number;
  oldest_age_sec: number;
  p95_age_sec: number;
  high_retry_ct: number;
  stuck_lease_ct: number;
}

interface QueueCase {
  view: string;
  table: string;
  inFlight: 'leased' | 'processing';
  insert: (client: pg.PoolClient, opts: QueueItemOptions) => Promise<number>;
}

let db: TestDatabase;
let interestId = 0;

const queues: QueueCase[] = [
  {
    view: 'vw_events_queue_health',
    table: 'events_queue',
    inFlight: 'leased',
    insert: (client, opts) => insertEvent(client, opts),
  },
  {
    view: 'vw_discovery_queue_health',
    table: 'marketplace_discovery_queue',
    inFlight: 'processing',
    insert: (client, opts) => insertDiscoveryItem(client, { ...opts, interestId }),
  },
];

async function health(client: pg.PoolClient, q: QueueCase): Promise<QueueHealth> {
  const { rows } = await client.query<QueueHealth>(
    `SELECT queued_ct::int, ${q.inFlight}_ct::int AS in_flight_ct, done_ct::int, error_ct::int, total_ct::int,
            oldest_age_sec, p95_age_sec, high_retry_ct::int, stuck_lease_ct::int
     FROM ${q.view}`,
  );
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

beforeAll(async () => {
  db = await createTestDatabase();
  interestId = await insertInterest(db.pool, { categoryId: await insertCategory(db.pool) });
});

afterAll(async () => {
  await db?.drop();
});

describe.each(queues)('$view', (q) => {
  // Inside one transaction now() is fixed, so ages relative to now() are exact.
  const seedQueue = async (client: pg.PoolClient): Promise<number[]> => {
    await client.query(`DELETE FROM ${q.table}`);
    await q.insert(client, { status: 'queued', createdAgo: '10 minutes' });
    await q.insert(client, { status: 'queued', createdAgo: '20 minutes', attempts: 3 });
    await q.insert(client, {
      status: q.inFlight,
      createdAgo: '30 minutes',
      leaseExpiresIn: '-5 minutes',
      attempts: 1,
    });
    await q.insert(client, {
      status: q.inFlight,
      createdAgo: '5 minutes',
      leaseExpiresIn: '5 minutes',
      attempts: 4,
    });
    await q.insert(client, { status: 'done', createdAgo: '2 hours', attempts: 3 });
    await q.insert(client, { status: 'error', createdAgo: '50 minutes', attempts: 5, lastError: 'x' });
    await q.insert(client, { status: 'error', createdAgo: '40 minutes', attempts: 1, lastError: 'x' });
    return [600, 1200, 1800, 300];
  };

  it('counts items by status', async () => {
    await withRollback(db, async (client) => {
      await seedQueue(client);
      expect(await health(client, q)).toMatchObject({
        queued_ct: 2,
        in_flight_ct: 2,
        done_ct: 1,
        error_ct: 2,
        total_ct: 7,
      });
    });
  });

  it('measures oldest_age_sec and p95_age_sec over waiting items only (done and error excluded)', async () => {
    await withRollback(db, async (client) => {
      const waitingAges = await seedQueue(client);
      const h = await health(client, q);
      expect(h.oldest_age_sec).toBeCloseTo(Math.max(...waitingAges), 0);
      expect(Math.abs(h.p95_age_sec - percentileCont(waitingAges, 0.95))).toBeLessThan(1);
      expect(h.p95_age_sec).toBeLessThan(1800);
    });
  });

  it('counts unfinished or failed items with attempts >= 3 as high retry, but not done ones', async () => {
    await withRollback(db, async (client) => {
      await seedQueue(client);
      // queued(3), in-flight(4), error(5); done(3) and error(1) do not count.
      expect((await health(client, q)).high_retry_ct).toBe(3);
    });
  });

  it(`counts an expired lease as stuck and an unexpired one not`, async () => {
    await withRollback(db, async (client) => {
      await seedQueue(client);
      expect((await health(client, q)).stuck_lease_ct).toBe(1);
      await client.query(
        `UPDATE ${q.table} SET lease_expires_at = now() - interval '1 second' WHERE status = $1`,
        [q.inFlight],
      );
      expect((await health(client, q)).stuck_lease_ct).toBe(2);
    });
  });

  it('does not count done items as waiting', async () => {
    await withRollback(db, async (client) => {
      await client.query(`DELETE FROM ${q.table}`);
      await q.insert(client, { status: 'done', createdAgo: '3 hours' });
      await q.insert(client, { status: 'error', createdAgo: '2 hours', lastError: 'x' });
      const h = await health(client, q);
      expect(h).toMatchObject({ queued_ct: 0, in_flight_ct: 0, oldest_age_sec: 0, p95_age_sec: 0 });
    });
  });

  it('reports zeros, not NULL, for an empty queue', async () => {
    await withRollback(db, async (client) => {
      await client.query(`DELETE FROM ${q.table}`);
      expect(await health(client, q)).toEqual({
        queued_ct: 0,
        in_flight_ct: 0,
        done_ct: 0,
        error_ct: 0,
        total_ct: 0,
        oldest_age_sec: 0,
        p95_age_sec: 0,
        high_retry_ct: 0,
        stuck_lease_ct: 0,
      });
    });
  });
});

interface SloRow {
  kernel: string;
  n: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  error_rate: number;
}

describe('vw_kernel_slos', () => {
  it('reports n, p50/p95/p99 (percentile_cont) and error rate per kernel over the last hour only', async () => {
    await withRollback(db, async (client) => {
      await client.query('DELETE FROM kernel_latency');
      const auth = [
        { ms: 12, ok: true, ago: '1 minute' },
        { ms: 40, ok: true, ago: '10 minutes' },
        { ms: 7, ok: false, ago: '20 minutes' },
        { ms: 250, ok: true, ago: '30 minutes' },
        { ms: 33, ok: true, ago: '59 minutes' },
      ];
      const onboarding = [
        { ms: 100, ok: true, ago: '2 minutes' },
        { ms: 300, ok: false, ago: '3 minutes' },
      ];
      for (const s of auth)
        await insertKernelSample(client, { kernel: 'auth', durationMs: s.ms, ok: s.ok, ago: s.ago });
      for (const s of onboarding)
        await insertKernelSample(client, { kernel: 'onboarding', durationMs: s.ms, ok: s.ok, ago: s.ago });
      // Older than the window: would dominate every statistic if counted.
      await insertKernelSample(client, { kernel: 'auth', durationMs: 99999, ok: false, ago: '61 minutes' });
      await insertKernelSample(client, { kernel: 'stale', durationMs: 5, ago: '2 hours' });

      const { rows } = await client.query<SloRow>(
        `SELECT kernel, n::int, p50_ms, p95_ms, p99_ms, error_rate FROM vw_kernel_slos ORDER BY kernel`,
      );
      const expected = (kernel: string, samples: { ms: number; ok: boolean }[]): SloRow => {
        const ms = samples.map((s) => s.ms);
        return {
          kernel,
          n: samples.length,
          p50_ms: percentileCont(ms, 0.5),
          p95_ms: percentileCont(ms, 0.95),
          p99_ms: percentileCont(ms, 0.99),
          error_rate: samples.filter((s) => !s.ok).length / samples.length,
        };
      };
      expect(rows.map((r) => r.kernel)).toEqual(['auth', 'onboarding']);
      for (const [row, want] of [
        [rows[0]!, expected('auth', auth)],
        [rows[1]!, expected('onboarding', onboarding)],
      ] as const) {
        expect(row.n).toBe(want.n);
        for (const key of ['p50_ms', 'p95_ms', 'p99_ms', 'error_rate'] as const) {
          expect(row[key], `${row.kernel} ${key}`).toBeCloseTo(want[key], 9);
        }
      }
    });
  });
});

interface GapRow {
  interest_id: number;
  demand_users: number;
  demand_weight: number;
  supply_listings: number;
  candidate_listings: number;
  severity: number;
}

describe('vw_gap_severity', () => {
  it('ranks interests worst first by demand_weight / (active supply + 1), listing only picked interests', async () => {
    await withRollback(db, async (client) => {
      const [c1, c2, c3] = [
        await insertCategory(client),
        await insertCategory(client),
        await insertCategory(client),
      ];
      const i1 = await insertInterest(client, { categoryId: c1 });
      const i2 = await insertInterest(client, { categoryId: c2 });
      const unpicked = await insertInterest(client, { categoryId: c3 });
      const i4 = await insertInterest(client, { categoryId: c1 });
      const [u1, u2, u3] = [
        await insertProfile(client),
        await insertProfile(client),
        await insertProfile(client),
      ];
      const active1 = await insertListing(client, { categoryId: c1 });
      await insertListing(client, { categoryId: c1 });
      await insertListing(client, { categoryId: c1, status: 'inactive' });
      await insertListing(client, { categoryId: c2, status: 'inactive' });
      await client.query(
        `INSERT INTO interest_listing_candidates (interest_id, listing_id, score) VALUES ($1, $2, 0.9)`,
        [i1, active1],
      );
      await insertUserInterest(client, { userId: u1, interestId: i1, affinity: 0.75 });
      await insertUserInterest(client, { userId: u2, interestId: i1, affinity: 0.5 });
      await insertUserInterest(client, { userId: u1, interestId: i2, affinity: 0.875 });
      await insertUserInterest(client, { userId: u3, interestId: i4, affinity: 0.25 });

      const { rows } = await client.query<GapRow>(
        `SELECT interest_id, demand_users::int, demand_weight, supply_listings::int, candidate_listings::int, severity
         FROM vw_gap_severity`,
      );
      expect(rows.map((r) => r.interest_id)).toEqual([i2, i1, i4]);
      expect(rows.map((r) => r.interest_id)).not.toContain(unpicked);
      expect(rows[0]).toMatchObject({ demand_users: 1, supply_listings: 0, candidate_listings: 0 });
      expect(rows[1]).toMatchObject({ demand_users: 2, supply_listings: 2, candidate_listings: 1 });
      expect(rows[2]).toMatchObject({ demand_users: 1, supply_listings: 2 });
      expect(rows[0]!.severity).toBeCloseTo(0.875 / 1, 6);
      expect(rows[1]!.demand_weight).toBeCloseTo(1.25, 6);
      expect(rows[1]!.severity).toBeCloseTo(1.25 / 3, 6);
      expect(rows[2]!.severity).toBeCloseTo(0.25 / 3, 6);
    });
  });
});
