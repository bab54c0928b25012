import pg from 'pg';
import { afterEach, describe, expect } from 'vitest';
import { createConsumer, type JobHandler } from '../../src/worker/consumer.js';
import { createLeaseQueue, type LeasedItem, type LeaseQueue } from '../../src/queue/leaseQueue.js';
import { startWorker } from '../../src/worker/startWorker.js';
import type { TestDatabase } from '../support/db.js';
import { testConfig } from '../support/gateway.js';
import {
  createGate,
  enqueueEvents,
  queueRow,
  silentLogger,
  statusCounts,
  waitUntil,
} from '../support/workerHarness.js';
import { it, test } from '../support/testFixtures.js';

type Outcome = 'claimed' | 'succeeded' | 'failed' | 'lost' | 'released';

/** The handler's effect: one row per run that committed. */
const recordEffect: JobHandler = async (item, tx) => {
  await tx.query('INSERT INTO worker_effects (item_id) VALUES ($1)', [item.id]);
};

describe('queue consumer', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const pools: pg.Pool[] = [];

  /** A pool of its own, as a separate worker would have; ended after each test. */
  const workerPool = (max = 10) => {
    const created = new pg.Pool({ connectionString: db.url, max });
    pools.push(created);
    return created;
  };

  const effects = async (id: string) =>
    (
      await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM worker_effects WHERE item_id = $1', [
        id,
      ])
    ).rows[0]!.n;

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
    pool = db.pool;
    await pool.query('CREATE TABLE worker_effects (item_id bigint NOT NULL, at timestamptz DEFAULT now())');
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
    // Nothing a test left behind holds a lease.
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events_queue WHERE status = 'leased'`,
    );
    expect(rows[0]!.n).toBe(0);
    await pool.query('TRUNCATE events_queue, worker_effects');
  });

  it('two workers on 1,000 items apply every effect exactly once', async () => {
    const ids = await enqueueEvents(
      pool,
      'test',
      Array.from({ length: 1000 }, (_, i) => ({ i })),
    );
    const outcomes: Outcome[] = [];
    const consumers = [workerPool(), workerPool()].map((p) =>
      createConsumer({
        queue: createLeaseQueue('events'),
        handler: recordEffect,
        pool: p,
        logger: silentLogger,
        concurrency: 8,
        pollMs: 50,
        onOutcome: (outcome) => {
          if (outcome !== 'claimed' && outcome !== 'released') outcomes.push(outcome);
        },
      }),
    );
    await Promise.all(consumers.map((c) => c.start()));
    try {
      await waitUntil(
        async () => (await statusCounts(pool, 'events', ids)).done === 1000,
        '1,000 items done',
        15_000,
        50,
      );
    } finally {
      await Promise.all(consumers.map((c) => c.stop(5000)));
    }
    const { rows } = await pool.query<{ item_id: string; n: number }>(
      'SELECT item_id::text, count(*)::int AS n FROM worker_effects GROUP BY item_id',
    );
    expect(rows).toHaveLength(1000);
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    expect(new Set(rows.map((r) => r.item_id))).toEqual(new Set(ids));
    expect(outcomes.filter((o) => o === 'succeeded')).toHaveLength(1000);
  });

  it('a failing handler backs off, retries and lands in error after 5 attempts', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const attemptsSeen: number[] = [];
    const backoffChecked = new Set<number>();
    const consumer = createConsumer({
      queue: createLeaseQueue('events'),
      handler: async (item, tx) => {
        attemptsSeen.push(item.attempts);
        await recordEffect(item, tx);
        throw new Error(`attempt ${item.attempts + 1} failed`);
      },
      pool: workerPool(),
      logger: silentLogger,
      pollMs: 20,
    });
    await consumer.start();
    try {
      await waitUntil(async () => {
        const row = await queueRow(pool, 'events', id!);
        if (row.status === 'queued' && row.attempts > 0) {
          // A retry is scheduled in the future (the backoff); skip the wait. Checked once per attempt:
          // after the skip the row stays queued until the consumer's next poll.
          if (!backoffChecked.has(row.attempts)) expect(row.due_in).toBeGreaterThan(0);
          backoffChecked.add(row.attempts);
          await pool.query(`UPDATE events_queue SET run_after = now() WHERE id = $1 AND status = 'queued'`, [
            id,
          ]);
        }
        return row.status === 'error';
      }, 'the item to land in error');
    } finally {
      await consumer.stop(5000);
    }
    expect(attemptsSeen).toEqual([0, 1, 2, 3, 4]);
    expect(await queueRow(pool, 'events', id!)).toMatchObject({
      status: 'error',
      attempts: 5,
      last_error: 'attempt 5 failed',
    });
    // Every failed attempt was rolled back.
    expect(await effects(id!)).toBe(0);
  });

  it("a lease lost mid-handler rolls the first run's effect back; the item completes once", async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const queue = createLeaseQueue('events');
    const started = createGate();
    const proceed = createGate();
    const outcomes: Outcome[] = [];
    const slow = createConsumer({
      queue,
      handler: async (item, tx) => {
        await recordEffect(item, tx);
        started.open();
        await proceed.wait;
      },
      pool: workerPool(),
      logger: silentLogger,
      // One slot: this worker cannot claim the item again itself while its first run is in flight.
      concurrency: 1,
      pollMs: 20,
      onOutcome: (outcome) => {
        if (outcome !== 'claimed' && outcome !== 'released') outcomes.push(outcome);
      },
    });
    await slow.start();
    let second: LeasedItem | undefined;
    try {
      await started.wait;
      // The lease runs out while the handler waits; another worker reclaims and leases the item.
      await pool.query(
        `UPDATE events_queue SET lease_expires_at = now() - interval '1 second' WHERE id = $1`,
        [id],
      );
      expect(await queue.reclaimExpired(pool)).toBe(1);
      [second] = await queue.claim(pool, 1, 30_000);
      expect(second?.id).toBe(id);
      proceed.open();
      await waitUntil(() => outcomes.length === 1, 'the first run to finish');
    } finally {
      proceed.open();
      await slow.stop(5000);
    }
    expect(outcomes).toEqual(['lost']);
    expect(await effects(id!)).toBe(0);
    expect((await queueRow(pool, 'events', id!)).status).toBe('leased');

    // The second holder finishes the item.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await recordEffect(second!, client);
      expect(await queue.complete(client, second!)).toBe(true);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await effects(id!)).toBe(1);
    expect((await queueRow(pool, 'events', id!)).status).toBe('done');
  });

  it('stop waits for in-flight items to finish', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const started = createGate();
    const consumer = createConsumer({
      queue: createLeaseQueue('events'),
      handler: async (item, tx) => {
        started.open();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await recordEffect(item, tx);
      },
      pool: workerPool(),
      logger: silentLogger,
      pollMs: 20,
    });
    await consumer.start();
    await started.wait;
    await consumer.stop(5000);
    expect((await queueRow(pool, 'events', id!)).status).toBe('done');
    expect(await effects(id!)).toBe(1);
  });

  it('stop releases unfinished items after the deadline, without counting an attempt', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const started = createGate();
    const proceed = createGate();
    const outcomes: Outcome[] = [];
    const consumer = createConsumer({
      queue: createLeaseQueue('events'),
      handler: async (item, tx) => {
        await recordEffect(item, tx);
        started.open();
        await proceed.wait;
      },
      pool: workerPool(),
      logger: silentLogger,
      pollMs: 20,
      onOutcome: (outcome) => {
        if (outcome !== 'claimed' && outcome !== 'released') outcomes.push(outcome);
      },
    });
    await consumer.start();
    await started.wait;
    const stopping = performance.now();
    await consumer.stop(200);
    expect(performance.now() - stopping).toBeLessThan(2000);
    expect(await queueRow(pool, 'events', id!)).toMatchObject({
      status: 'queued',
      attempts: 0,
      lease_token: null,
      lease_expires_at: null,
    });
    // The abandoned run, when it finally ends, cannot complete the released item.
    proceed.open();
    await waitUntil(() => outcomes.length === 1, 'the abandoned run to end');
    expect(outcomes).toEqual(['lost']);
    expect(await effects(id!)).toBe(0);
    expect((await queueRow(pool, 'events', id!)).status).toBe('queued');
  });

  it('stop returns promptly even when it lands while a claim is in progress', async () => {
    const real = createLeaseQueue('events');
    const claiming = createGate();
    const letClaim = createGate();
    // A queue whose first claim waits for the test: stop() arrives mid-claim.
    let first = true;
    const queue: LeaseQueue = {
      ...real,
      claim: async (client, limit, leaseMs) => {
        if (first) {
          first = false;
          claiming.open();
          await letClaim.wait;
        }
        return real.claim(client, limit, leaseMs);
      },
    };
    const consumer = createConsumer({
      queue,
      handler: recordEffect,
      pool: workerPool(),
      logger: silentLogger,
      // Long enough to tell "stopped at once" from "slept a poll interval", short enough to fail fast.
      pollMs: 5000,
    });
    await consumer.start();
    await claiming.wait;
    const stopping = performance.now();
    const stopped = consumer.stop(1000);
    letClaim.open();
    await stopped;
    expect(performance.now() - stopping).toBeLessThan(2000);
  });

  it('a NOTIFY wakes a worker polling once a minute: an item enqueued after start is done within a second', async () => {
    const worker = await startWorker(
      testConfig(db, { WORKER_POLL_MS: '60000', WORKER_DISCOVERY: 'false' }),
      silentLogger,
    );
    try {
      // Let the consumer reach its (minute-long) sleep first.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const enqueued = performance.now();
      const [id] = await enqueueEvents(pool, 'follow.created', [{}]);
      await waitUntil(
        async () => (await queueRow(pool, 'events', id!)).status === 'done',
        'the item to be done',
        1000,
      );
      expect(performance.now() - enqueued).toBeLessThan(1000);
    } finally {
      await worker.stop(5000);
    }
  });

  it('a wake-up that arrives while a claim is running is not lost: the item starts at once, not a poll later', async () => {
    const real = createLeaseQueue('events');
    const claimed = createGate();
    const letReturn = createGate();
    // The first claim finds nothing, then waits for the test before returning: the item and its
    // wake-up arrive in between, as a NOTIFY does when it lands mid-claim.
    let first = true;
    const queue: LeaseQueue = {
      ...real,
      claim: async (client, limit, leaseMs) => {
        const items = await real.claim(client, limit, leaseMs);
        if (first) {
          first = false;
          claimed.open();
          await letReturn.wait;
        }
        return items;
      },
    };
    const consumer = createConsumer({
      queue,
      handler: recordEffect,
      pool: workerPool(),
      logger: silentLogger,
      pollMs: 60_000,
    });
    await consumer.start();
    try {
      await claimed.wait;
      const [id] = await enqueueEvents(pool, 'test', [{}]);
      consumer.wake();
      const woken = performance.now();
      letReturn.open();
      await waitUntil(async () => (await queueRow(pool, 'events', id!)).status === 'done', 'the item', 2000);
      expect(performance.now() - woken).toBeLessThan(2000);
    } finally {
      await consumer.stop(1000);
    }
  });
});
