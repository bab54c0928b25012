import pg from 'pg';
import { afterEach, describe, expect } from 'vitest';
import { createLeaseQueue, PermanentJobError, type LeasedItem } from '../../src/queue/leaseQueue.js';
import type { TestDatabase } from '../support/db.js';
import { insertCategory, insertInterest } from '../support/fixtures.js';
import { enqueueEvents, queueRow } from '../support/workerHarness.js';
import { it, test } from '../support/testFixtures.js';

// The runbook's requeue statements, verbatim.
const requeueExpiredEventsSql = `UPDATE public.events_queue SET status='queued', lease_token=NULL, lease_expires_at=NULL WHERE status='leased' AND lease_expires_at < now();`;
const requeueDiscoveryErrorsSql = `UPDATE public.marketplace_discovery_queue SET status='queued', attempts=0, last_error=NULL WHERE status='error' AND attempts < 5;`;

const events = createLeaseQueue('events');
const discovery = createLeaseQueue('discovery');
const LEASE_MS = 30_000;

describe('lease queue', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
    pool = db.pool;
  });

  afterEach(async () => {
    await pool.query('TRUNCATE events_queue, marketplace_discovery_queue');
  });

  /** Claims exactly one item (the only runnable one). */
  async function claimOne(queue = events): Promise<LeasedItem> {
    const claimed = await queue.claim(pool, 10, LEASE_MS);
    expect(claimed).toHaveLength(1);
    return claimed[0]!;
  }

  /** One discovery item for a fresh interest; returns its id. */
  async function enqueueDiscovery(): Promise<string> {
    const categoryId = await insertCategory(pool);
    const interestId = await insertInterest(pool, { categoryId });
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason) VALUES ($1, $2, 'test')
       RETURNING id::text`,
      [interestId, categoryId],
    );
    return rows[0]!.id;
  }

  /** Makes a backed-off item due now, as if its backoff had passed. */
  const makeDue = (table: string, id: string) =>
    pool.query(`UPDATE ${table} SET run_after = now() WHERE id = $1`, [id]);

  it('claim leases a runnable item with a fresh token and an expiry one lease from now', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const item = await claimOne();
    expect(item.id).toBe(id);
    expect(item.attempts).toBe(0);
    const row = await queueRow(pool, 'events', id!);
    expect(row.status).toBe('leased');
    expect(row.lease_token).toBe(item.leaseToken);
    expect(row.lease_in).toBeGreaterThan(LEASE_MS / 1000 - 5);
    expect(row.lease_in).toBeLessThanOrEqual(LEASE_MS / 1000);
    // Leased items are not claimable again.
    expect(await events.claim(pool, 10, LEASE_MS)).toEqual([]);
  });

  it('claim skips items whose run_after is in the future', async () => {
    await pool.query(`INSERT INTO events_queue (kind, run_after) VALUES ('test', now() + interval '1 hour')`);
    expect(await events.claim(pool, 10, LEASE_MS)).toEqual([]);
  });

  it('concurrent claims never lease the same item twice', async () => {
    const ids = await enqueueEvents(
      pool,
      'test',
      Array.from({ length: 200 }, (_, i) => ({ i })),
    );
    const many = new pg.Pool({ connectionString: db.url, max: 10 });
    try {
      const batches = await Promise.all(Array.from({ length: 40 }, () => events.claim(many, 7, LEASE_MS)));
      const claimed = batches.flat().map((item) => item.id);
      expect(new Set(claimed).size).toBe(claimed.length);
      expect(claimed.length).toBe(200);
      expect(new Set(claimed)).toEqual(new Set(ids));
      const tokens = batches.flat().map((item) => item.leaseToken);
      expect(new Set(tokens).size).toBe(tokens.length);
    } finally {
      await many.end();
    }
  });

  it('complete with a wrong token is refused and leaves the row unchanged', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const item = await claimOne();
    const before = await queueRow(pool, 'events', id!);
    const forged = { ...item, leaseToken: '00000000-0000-4000-8000-000000000000' };
    expect(await events.complete(pool, forged)).toBe(false);
    expect(await events.fail(pool, forged, new Error('x'))).toBe(false);
    expect(await events.heartbeat(pool, forged, LEASE_MS)).toBe(false);
    expect(await events.release(pool, forged)).toBe(false);
    const after = await queueRow(pool, 'events', id!);
    expect({ ...after, due_in: 0, lease_in: 0 }).toEqual({ ...before, due_in: 0, lease_in: 0 });
  });

  it('an expired, reclaimed and re-leased item refuses the old holder and accepts the new one', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const old = await claimOne();
    await pool.query(`UPDATE events_queue SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [
      id,
    ]);
    expect(await events.reclaimExpired(pool)).toBe(1);
    const current = await claimOne();
    expect(current.id).toBe(id);
    expect(current.leaseToken).not.toBe(old.leaseToken);

    expect(await events.heartbeat(pool, old, LEASE_MS)).toBe(false);
    expect(await events.complete(pool, old)).toBe(false);
    expect(await events.fail(pool, old, new Error('late failure'))).toBe(false);
    const stillLeased = await queueRow(pool, 'events', id!);
    expect(stillLeased).toMatchObject({ status: 'leased', lease_token: current.leaseToken, attempts: 0 });
    expect(stillLeased.last_error).toBeNull();

    expect(await events.complete(pool, current)).toBe(true);
    expect(await queueRow(pool, 'events', id!)).toMatchObject({
      status: 'done',
      lease_token: null,
      lease_expires_at: null,
    });
  });

  it('reclaimExpired leaves live leases alone', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const item = await claimOne();
    expect(await events.reclaimExpired(pool)).toBe(0);
    expect(await queueRow(pool, 'events', id!)).toMatchObject({
      status: 'leased',
      lease_token: item.leaseToken,
    });
  });

  it('fail queues the item again after a backoff, counting the attempt and keeping the error', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    const item = await claimOne();
    expect(await events.fail(pool, item, new Error('boom'))).toBe(true);
    const row = await queueRow(pool, 'events', id!);
    expect(row).toMatchObject({ status: 'queued', attempts: 1, last_error: 'boom', lease_token: null });
    // Retry 1: 2 s × uniform(0.5, 1.5).
    expect(row.due_in).toBeGreaterThan(0.9);
    expect(row.due_in).toBeLessThan(3.1);
    expect(await events.claim(pool, 10, LEASE_MS)).toEqual([]);
  });

  it('an item that fails 5 times stays in error', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      await makeDue('events_queue', id!);
      const item = await claimOne();
      expect(item.attempts).toBe(attempt - 1);
      expect(await events.fail(pool, item, new Error(`failure ${attempt}`))).toBe(true);
      expect((await queueRow(pool, 'events', id!)).status).toBe(attempt < 5 ? 'queued' : 'error');
    }
    expect(await queueRow(pool, 'events', id!)).toMatchObject({
      status: 'error',
      attempts: 5,
      last_error: 'failure 5',
    });
    await makeDue('events_queue', id!);
    expect(await events.claim(pool, 10, LEASE_MS)).toEqual([]);
  });

  it("an events item's own max_attempts decides when it gives up", async () => {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO events_queue (kind, max_attempts) VALUES ('test', 2) RETURNING id::text`,
    );
    const id = rows[0]!.id;
    await events.fail(pool, await claimOne(), new Error('one'));
    await makeDue('events_queue', id);
    await events.fail(pool, await claimOne(), new Error('two'));
    expect(await queueRow(pool, 'events', id)).toMatchObject({ status: 'error', attempts: 2 });
  });

  it('a PermanentJobError puts the item in error at once', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    expect(await events.fail(pool, await claimOne(), new PermanentJobError('cannot work'))).toBe(true);
    expect(await queueRow(pool, 'events', id!)).toMatchObject({
      status: 'error',
      attempts: 1,
      last_error: 'cannot work',
    });
  });

  it('release gives the item back at once without counting an attempt', async () => {
    const [id] = await enqueueEvents(pool, 'test', [{}]);
    expect(await events.release(pool, await claimOne())).toBe(true);
    expect(await queueRow(pool, 'events', id!)).toMatchObject({
      status: 'queued',
      attempts: 0,
      lease_token: null,
    });
    expect((await claimOne()).id).toBe(id);
  });

  it("the runbook's events requeue brings expired leases back, claimable again", async () => {
    const [expired, live] = await enqueueEvents(pool, 'test', [{ n: 1 }, { n: 2 }]);
    const claimed = await events.claim(pool, 10, LEASE_MS);
    expect(claimed).toHaveLength(2);
    await pool.query(`UPDATE events_queue SET lease_expires_at = now() - interval '1 minute' WHERE id = $1`, [
      expired,
    ]);
    expect((await pool.query(requeueExpiredEventsSql)).rowCount).toBe(1);
    expect(await queueRow(pool, 'events', expired!)).toMatchObject({ status: 'queued', lease_token: null });
    expect((await queueRow(pool, 'events', live!)).status).toBe('leased');
    const again = await claimOne();
    expect(again.id).toBe(expired);
    const stale = claimed.find((item) => item.id === expired)!;
    expect(await events.complete(pool, stale)).toBe(false);
    expect(await events.complete(pool, again)).toBe(true);
  });

  it("the runbook's discovery requeue brings permanently failed items back, claimable again", async () => {
    const id = await enqueueDiscovery();
    const item = await claimOne(discovery);
    expect((await queueRow(pool, 'discovery', id)).status).toBe('processing');
    expect(await discovery.fail(pool, item, new PermanentJobError('no embedding yet'))).toBe(true);
    expect(await queueRow(pool, 'discovery', id)).toMatchObject({ status: 'error', attempts: 1 });

    expect((await pool.query(requeueDiscoveryErrorsSql)).rowCount).toBe(1);
    expect(await queueRow(pool, 'discovery', id)).toMatchObject({
      status: 'queued',
      attempts: 0,
      last_error: null,
    });
    // Requeued by the runbook means runnable now, not after a backoff left over from the failure.
    const again = await discovery.claim(pool, 10, LEASE_MS);
    expect(again.map((i) => i.id)).toEqual([id]);
  });

  it('enqueueing twice with one idempotency key keeps one item', async () => {
    const insert = `INSERT INTO events_queue (kind, payload, idempotency_key) VALUES ('test', $1, 'same-key')
                    ON CONFLICT (idempotency_key) DO NOTHING`;
    expect((await pool.query(insert, [{ n: 1 }])).rowCount).toBe(1);
    expect((await pool.query(insert, [{ n: 2 }])).rowCount).toBe(0);
    const { rows } = await pool.query<{ payload: unknown }>(
      `SELECT payload FROM events_queue WHERE idempotency_key = 'same-key'`,
    );
    expect(rows).toEqual([{ payload: { n: 1 } }]);
  });

  it("an item that exhausted its 5 attempts is left by the runbook's requeue until a higher threshold asks", async () => {
    const id = await enqueueDiscovery();
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      await makeDue('marketplace_discovery_queue', id);
      await discovery.fail(pool, await claimOne(discovery), new Error(`failure ${attempt}`));
    }
    expect(await queueRow(pool, 'discovery', id)).toMatchObject({ status: 'error', attempts: 5 });
    // attempts < 5 means "failed before its retries ran out": an exhausted item is a poison item to
    // inspect first, so the runbook statement leaves it.
    expect((await pool.query(requeueDiscoveryErrorsSql)).rowCount).toBe(0);
    // The same statement with the threshold raised (ops requeueDiscoveryErrors(maxAttempts: 6)) takes it.
    const raised = requeueDiscoveryErrorsSql.replace('attempts < 5', 'attempts < 6');
    expect((await pool.query(raised)).rowCount).toBe(1);
    expect((await discovery.claim(pool, 10, LEASE_MS)).map((i) => i.id)).toEqual([id]);
  });
});
