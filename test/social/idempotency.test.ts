import { afterEach, describe, expect } from 'vitest';
import type { UserViewer } from '../../src/auth/viewer.js';
import { runWrite } from '../../src/social/runWrite.js';
import type { TestDatabase } from '../support/db.js';
import type { InProcess, TestGateway } from '../support/gateway.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { postGraphQL } from '../support/http.js';
import {
  hasLike,
  insertUsers,
  openTransactions,
  LIKE,
  likeState,
  outboxFor,
  seedSocialWorld,
  serviceContext,
  storedKeys,
  UNLIKE,
  type SocialWorld,
} from '../support/socialWorld.js';
import { it, test } from '../support/testFixtures.js';

describe('idempotency keys on likeListing and unlikeListing', () => {
  let db: TestDatabase;
  let world: SocialWorld;
  let h: InProcess;
  let gateway: TestGateway;
  /** Two fresh listings per test, so counts and outbox items start at zero. */
  let first: number;
  let second: number;

  const like = (viewer: UserViewer, id: number, key?: string) =>
    h.execute(LIKE, { viewer, variables: { listingId: String(id), key } });
  const unlike = (viewer: UserViewer, id: number, key?: string) =>
    h.execute(UNLIKE, { viewer, variables: { listingId: String(id), key } });
  const oneUser = async () => (await insertUsers(db.pool, 1))[0]!;
  const newListing = async () => {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO marketplace_listings (category_id, seller_id, title, price) VALUES ($1, $2, 'Keyed', 10)
       RETURNING id`,
      [world.categoryId, world.sellerId],
    );
    return rows[0]!.id;
  };

  test.beforeAll(async ({ db: fileDb, inProcess, gateway: fileGateway }) => {
    db = fileDb;
    h = inProcess;
    gateway = fileGateway;
    world = await seedSocialWorld(db.pool, 1);
  });

  test.beforeEach(async ({ redis }) => {
    await redis.flush();
    first = await newListing();
    second = await newListing();
  });

  afterEach(async () => {
    // Every write committed or rolled back: no connection is left holding a transaction (and its locks).
    expect(await openTransactions(db.pool, db.name)).toBe(0);
  });

  describe('replay', () => {
    it('the same key and input return the first result again, with no second like or event', async () => {
      const [viewer, other] = await insertUsers(db.pool, 2);
      const original = dataOf(await like(viewer!, first, 'k-replay')).likeListing;
      dataOf(await like(other!, first));
      const replayed = dataOf(await like(viewer!, first, 'k-replay')).likeListing;
      // The stored first result, not a fresh "already liked" answer; the listing itself is read live.
      expect(replayed).toEqual({ ...original, listing: { id: String(first), likeCount: 2 } });
      expect(replayed).toMatchObject({ changed: true, likeCount: 1 });
      expect(await likeState(db.pool, first)).toEqual({ likeCount: 2, rows: 2 });
      expect(
        (await outboxFor(db.pool, first)).filter((e) => e.payload.userId === viewer!.userId),
      ).toHaveLength(1);
      expect(await storedKeys(db.pool, viewer!.userId)).toEqual([
        {
          key: 'k-replay',
          operation: 'likeListing',
          response: { listingId: first, liked: true, changed: true, likeCount: 1 },
        },
      ]);
    });

    it('a replayed unlike has no effect, even after the listing was liked again', async () => {
      const viewer = await oneUser();
      dataOf(await like(viewer, first));
      const removed = dataOf(await unlike(viewer, first, 'k-unlike')).unlikeListing;
      expect(removed).toMatchObject({ changed: true, likeCount: 0 });
      dataOf(await like(viewer, first));
      const replayed = dataOf(await unlike(viewer, first, 'k-unlike')).unlikeListing;
      expect(replayed).toMatchObject({ liked: false, changed: true, likeCount: 0 });
      expect(await hasLike(db.pool, viewer.userId, first)).toBe(true);
      expect((await outboxFor(db.pool, first)).map((e) => e.kind)).toEqual([
        'like.created',
        'like.deleted',
        'like.created',
      ]);
    });

    it('a key is scoped to its user: another user may use the same key for another input', async () => {
      const [a, b] = await insertUsers(db.pool, 2);
      expect(dataOf(await like(a!, first, 'shared-key')).likeListing.changed).toBe(true);
      expect(dataOf(await like(b!, second, 'shared-key')).likeListing.changed).toBe(true);
      expect(await hasLike(db.pool, b!.userId, second)).toBe(true);
      expect((await storedKeys(db.pool, a!.userId)).map((k) => k.key)).toEqual(['shared-key']);
      expect((await storedKeys(db.pool, b!.userId)).map((k) => k.key)).toEqual(['shared-key']);
    });
  });

  describe('refusals', () => {
    it('the same key with a different input is IDEMPOTENCY_KEY_REUSED, and nothing is written', async () => {
      const viewer = await oneUser();
      dataOf(await like(viewer, first, 'k-bound'));
      const { message } = expectErrorCode(await like(viewer, second, 'k-bound'), 'IDEMPOTENCY_KEY_REUSED');
      expect(message).toBe(
        'this idempotency key was already used with a different input; use a new key for a new request',
      );
      // The same listing under another operation is a different input too.
      expectErrorCode(await unlike(viewer, first, 'k-bound'), 'IDEMPOTENCY_KEY_REUSED');
      expect(await hasLike(db.pool, viewer.userId, second)).toBe(false);
      expect(await hasLike(db.pool, viewer.userId, first)).toBe(true);
      expect(await outboxFor(db.pool, second)).toEqual([]);
    });

    it('a key of 256 characters (or none at all) is BAD_USER_INPUT; 255 is accepted', async () => {
      const viewer = await oneUser();
      for (const key of ['k'.repeat(256), '', 'tab\there']) {
        const { message, extensions } = expectErrorCode(await like(viewer, first, key), 'BAD_USER_INPUT');
        expect(message).toBe('idempotencyKey must be 1 to 255 printable characters');
        expect(extensions.field).toBe('idempotencyKey');
      }
      expect(await hasLike(db.pool, viewer.userId, first)).toBe(false);
      expect(dataOf(await like(viewer, first, 'k'.repeat(255))).likeListing.changed).toBe(true);
      expect((await storedKeys(db.pool, viewer.userId)).map((k) => k.key.length)).toEqual([255]);
    });

    it('a validation failure is not stored, so a corrected retry with the same key works', async () => {
      const viewer = await oneUser();
      expectErrorCode(await like(viewer, world.soldListingId, 'k-fix'), 'BAD_USER_INPUT');
      expectErrorCode(await like(viewer, 2_000_000_000, 'k-fix'), 'NOT_FOUND');
      expect(await storedKeys(db.pool, viewer.userId)).toEqual([]);
      expect(dataOf(await like(viewer, first, 'k-fix')).likeListing).toMatchObject({
        changed: true,
        likeCount: 1,
      });
      expect((await storedKeys(db.pool, viewer.userId)).map((k) => k.key)).toEqual(['k-fix']);
    });
  });

  describe('concurrent requests with one key', () => {
    it('10 at once: one effect; every other request replays the first result or is IDEMPOTENCY_KEY_IN_PROGRESS', async () => {
      const viewer = await oneUser();
      const results = await Promise.all(Array.from({ length: 10 }, () => like(viewer, first, 'k-burst')));
      const payloads = results.filter((r) => !r.errors).map((r) => dataOf(r).likeListing);
      const codes = results.flatMap((r) => r.errors ?? []).map((e) => e.extensions.code);
      expect(
        codes.every((c) => c === 'IDEMPOTENCY_KEY_IN_PROGRESS'),
        JSON.stringify(codes),
      ).toBe(true);
      expect(payloads.length).toBeGreaterThanOrEqual(1);
      // A replay is the first result itself (changed: true), never a second "already liked" attempt.
      for (const p of payloads) expect(p).toMatchObject({ liked: true, changed: true, likeCount: 1 });
      expect(await likeState(db.pool, first)).toEqual({ likeCount: 1, rows: 1 });
      expect(await outboxFor(db.pool, first)).toHaveLength(1);
    });

    it('a request whose key is held by a running request waits, then replays the committed result', async () => {
      const viewer = await oneUser();
      dataOf(await like(viewer, first, 'k-held'));
      const [stored] = await db.pool
        .query<{ operation: string; request_hash: string; response: unknown }>(
          'DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 RETURNING operation, request_hash, response',
          [viewer.userId, 'k-held'],
        )
        .then((r) => r.rows);
      // Another request is mid-flight: it has claimed the key and not yet committed.
      const holder = await db.pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(
          `INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response) VALUES ($1, $2, $3, $4, $5)`,
          [
            viewer.userId,
            'k-held',
            stored!.operation,
            stored!.request_hash,
            JSON.stringify(stored!.response),
          ],
        );
        const waiting = like(viewer, first, 'k-held');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await holder.query('COMMIT');
        const replayed = dataOf(await waiting).likeListing;
        expect(replayed).toMatchObject({ changed: true, likeCount: 1 });
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        holder.release();
      }
      expect(await outboxFor(db.pool, first)).toHaveLength(1);
    });

    it('a request whose key stays held past 3 s is IDEMPOTENCY_KEY_IN_PROGRESS, 409 over HTTP', async () => {
      const viewer = await oneUser();
      const holder = await db.pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(
          `INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response)
           VALUES ($1, 'k-stuck', 'likeListing', 'x', 'null')`,
          [viewer.userId],
        );
        const started = performance.now();
        const res = await postGraphQL(gateway, LIKE, {
          token: await gateway.token({ sub: viewer.userId, role: 'user' }),
          variables: { listingId: String(first), key: 'k-stuck' },
        });
        const waited = performance.now() - started;
        expect(res.status).toBe(409);
        expect(res.body.errors?.map((e) => e.extensions?.code)).toEqual(['IDEMPOTENCY_KEY_IN_PROGRESS']);
        expect(waited).toBeGreaterThanOrEqual(2900);
        expect(waited).toBeLessThan(6000);
      } finally {
        await holder.query('ROLLBACK');
        holder.release();
      }
      expect(await hasLike(db.pool, viewer.userId, first)).toBe(false);
    });
  });

  describe('the Idempotency-Key header', () => {
    const post = async (
      viewer: UserViewer,
      listingId: number,
      headers: Record<string, string>,
      key?: string,
    ) =>
      postGraphQL(gateway, LIKE, {
        token: await gateway.token({ sub: viewer.userId, role: 'user' }),
        variables: { listingId: String(listingId), key },
        headers,
      });

    it('a request repeated with the same header key replays the first response', async () => {
      const viewer = await oneUser();
      const one = await post(viewer, first, { 'idempotency-key': 'hdr-1' });
      const two = await post(viewer, first, { 'idempotency-key': 'hdr-1' });
      expect(one.status).toBe(200);
      expect(one.body.errors).toBeUndefined();
      expect(two.body).toEqual(one.body);
      expect(one.body.data?.likeListing).toMatchObject({ changed: true, likeCount: 1 });
      expect(await outboxFor(db.pool, first)).toHaveLength(1);
      expect((await storedKeys(db.pool, viewer.userId)).map((k) => k.key)).toEqual(['hdr-1']);
      // The header binds the key to the input as the argument does.
      const other = await post(viewer, second, { 'idempotency-key': 'hdr-1' });
      expect(other.body.errors?.map((e) => e.extensions?.code)).toEqual(['IDEMPOTENCY_KEY_REUSED']);
    });

    it('the idempotencyKey argument wins over the header', async () => {
      const viewer = await oneUser();
      const res = await post(viewer, first, { 'idempotency-key': 'hdr-2' }, 'arg-2');
      expect(res.body.errors).toBeUndefined();
      expect((await storedKeys(db.pool, viewer.userId)).map((k) => k.key)).toEqual(['arg-2']);
      // The header key was not used, so it is free for a different input.
      const other = await post(viewer, second, { 'idempotency-key': 'hdr-2' });
      expect(other.body.data?.likeListing).toMatchObject({ changed: true });
    });
  });

  describe('retention', () => {
    it('a key older than 24 h counts as new: the different input runs, and the key is rebound to it', async () => {
      const viewer = await oneUser();
      dataOf(await like(viewer, first, 'k-old'));
      await db.pool.query(
        `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1 AND key = 'k-old'`,
        [viewer.userId],
      );
      expect(dataOf(await like(viewer, second, 'k-old')).likeListing).toMatchObject({ changed: true });
      expect(await hasLike(db.pool, viewer.userId, second)).toBe(true);
      const { rows } = await db.pool.query<{ fresh: boolean }>(
        `SELECT created_at > now() - interval '1 minute' AS fresh FROM idempotency_keys WHERE user_id = $1`,
        [viewer.userId],
      );
      expect(rows).toEqual([{ fresh: true }]);
      expectErrorCode(await like(viewer, first, 'k-old'), 'IDEMPOTENCY_KEY_REUSED');
    });

    it('two concurrent requests with a key older than 24 h run the effect once', async () => {
      const viewer = await oneUser();
      dataOf(await like(viewer, first, 'k-stale'));
      await db.pool.query(
        `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1 AND key = 'k-stale'`,
        [viewer.userId],
      );
      // Test-only: retaking a stale key pauses while it holds the row, so both requests have read the
      // stale row before either commits (the interleaving two real requests can hit by chance).
      await db.pool.query(`CREATE FUNCTION social_test_slow_retake() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.created_at < now() - interval '24 hours' THEN PERFORM pg_sleep(0.3); END IF;
          RETURN NEW;
        END $$`);
      await db.pool.query(
        `CREATE TRIGGER social_test_slow_retake BEFORE UPDATE ON idempotency_keys
           FOR EACH ROW EXECUTE FUNCTION social_test_slow_retake()`,
      );
      // An effect that leaves a visible trace, so a second run would show as a second event.
      const attempt = () =>
        runWrite(
          serviceContext(h, viewer),
          { operation: 'probe', idempotencyKey: 'k-stale', input: { listingId: second } },
          async (tx) => {
            await tx.enqueue('like.created', {
              userId: viewer.userId,
              listingId: second,
              sellerId: world.sellerId,
            });
            return { ran: true };
          },
        );
      try {
        const outcomes = await Promise.allSettled([attempt(), attempt()]);
        const replayed = outcomes.map((o) =>
          o.status === 'fulfilled' ? o.value.replayed : String(o.reason),
        );
        expect(await outboxFor(db.pool, second), JSON.stringify(replayed)).toHaveLength(1);
        expect(replayed.sort()).toEqual([false, true]);
      } finally {
        await db.pool.query('DROP TRIGGER social_test_slow_retake ON idempotency_keys');
        await db.pool.query('DROP FUNCTION social_test_slow_retake()');
      }
    });

    it('gc_idempotency_keys keeps keys at least 24 h and deletes them after 48 h by default', async () => {
      const viewer = await oneUser();
      dataOf(await like(viewer, first, 'k-25h'));
      dataOf(await like(viewer, second, 'k-49h'));
      await db.pool.query(
        `UPDATE idempotency_keys SET created_at = now() - CASE key WHEN 'k-25h' THEN interval '25 hours'
           ELSE interval '49 hours' END WHERE user_id = $1`,
        [viewer.userId],
      );
      await expect(db.pool.query(`SELECT gc_idempotency_keys(interval '1 hour')`)).rejects.toMatchObject({
        code: '22023',
      });
      await db.pool.query('SELECT gc_idempotency_keys()');
      expect((await storedKeys(db.pool, viewer.userId)).map((k) => k.key)).toEqual(['k-25h']);
    });
  });
});
