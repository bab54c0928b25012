import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, describe, expect } from 'vitest';
import type { TestDatabase } from '../support/db.js';
import { insertCategory, insertListing } from '../support/fixtures.js';
import {
  enqueueEvents,
  killWorkerProcesses,
  queueRow,
  startWorkerProcess,
  statusCounts,
  waitForWorkerLog,
  waitUntil,
} from '../support/workerHarness.js';
import { it, test } from '../support/testFixtures.js';

describe('worker process', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let listingId: number;

  const env = () => ({ DATABASE_URL: db.url, WORKER_POLL_MS: '100', WORKER_LEASE_MS: '1000' });
  const popularity = async () =>
    (
      await pool.query<{ p: number }>('SELECT popularity AS p FROM marketplace_listings WHERE id = $1', [
        listingId,
      ])
    ).rows[0]!.p;

  /** Holds the listing's row lock, so a like.created for it stays in flight until `release`. */
  async function lockListing(): Promise<{ release: () => Promise<void> }> {
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query('SELECT 1 FROM marketplace_listings WHERE id = $1 FOR UPDATE', [listingId]);
    return {
      release: async () => {
        await client.query('COMMIT');
        client.release();
      },
    };
  }

  /** Waits until the worker's statement is blocked on the held lock. */
  const waitForBlockedWorker = () =>
    waitUntil(
      async () =>
        (
          await pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'lodestar-worker' AND wait_event_type = 'Lock'`,
          )
        ).rows[0]!.n > 0,
      'the worker to block on the listing lock',
    );

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
    pool = db.pool;
    listingId = await insertListing(pool, { categoryId: await insertCategory(pool) });
  });

  afterAll(async () => {
    killWorkerProcesses();
  });

  it('works items enqueued while it runs, and exits 0 on SIGTERM', async () => {
    const worker = startWorkerProcess(env());
    await waitForWorkerLog(worker, 'Lodestar worker is running');
    const ids = await enqueueEvents(
      pool,
      'follow.created',
      Array.from({ length: 20 }, (_, i) => ({ i })),
    );
    await waitUntil(async () => (await statusCounts(pool, 'events', ids)).done === 20, '20 items done');
    worker.child.kill('SIGTERM');
    expect(await worker.exit).toEqual({ code: 0, signal: null });
    await waitForWorkerLog(worker, 'worker stopped').catch(() => undefined);
    expect(worker.output()).toContain('"msg":"worker stopped"');
  });

  it('finishes an in-flight item before exiting on SIGTERM', async () => {
    const before = await popularity();
    const worker = startWorkerProcess(env());
    await waitForWorkerLog(worker, 'Lodestar worker is running');
    const lock = await lockListing();
    const [id] = await enqueueEvents(pool, 'like.deleted', [{ listingId, userId: randomUUID() }]);
    await waitForBlockedWorker();
    worker.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(worker.child.exitCode).toBeNull();
    await lock.release();
    expect(await worker.exit).toEqual({ code: 0, signal: null });
    expect((await queueRow(pool, 'events', id!)).status).toBe('done');
    expect(await popularity()).toBe(Math.max(0, before - 1));
  });

  it('an item whose worker was killed mid-lease is reclaimed after expiry and applied once', async () => {
    await pool.query('UPDATE marketplace_listings SET popularity = 10 WHERE id = $1', [listingId]);
    const killed = startWorkerProcess(env());
    await waitForWorkerLog(killed, 'Lodestar worker is running');
    const lock = await lockListing();
    const [id] = await enqueueEvents(pool, 'comment.created', [{ listingId }]);
    await waitForBlockedWorker();
    killed.child.kill('SIGKILL');
    expect((await killed.exit).signal).toBe('SIGKILL');
    // The dead worker's backend runs its UPDATE once the lock is free, then finds its client gone.
    await lock.release();
    expect((await queueRow(pool, 'events', id!)).status).toBe('leased');

    const next = startWorkerProcess(env());
    await waitForWorkerLog(next, 'Lodestar worker is running');
    await waitUntil(
      async () => (await queueRow(pool, 'events', id!)).status === 'done',
      'the item to be done',
    );
    next.child.kill('SIGTERM');
    expect((await next.exit).code).toBe(0);
    expect(await popularity()).toBe(12);
  });
});
