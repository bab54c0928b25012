import { afterEach, describe, expect } from 'vitest';
import { anonymousViewer, type Viewer } from '../../src/auth/viewer.js';
import * as likes from '../../src/social/likes.js';
import { runWrite } from '../../src/social/runWrite.js';
import type { TestDatabase } from '../support/db.js';
import type { InProcess } from '../support/gateway.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
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

// 100 concurrent likes need more than the default 10 connections to finish quickly.
test.override('env', { DATABASE_POOL_MAX: '20' });

describe('likeListing and unlikeListing', () => {
  let db: TestDatabase;
  let world: SocialWorld;
  let h: InProcess;
  /** A fresh listing per test, so counts and outbox items start at zero. */
  let listingId: number;

  const like = (viewer: Viewer, id: number | string, key?: string) =>
    h.execute(LIKE, { viewer, variables: { listingId: String(id), key } });
  const unlike = (viewer: Viewer, id: number | string, key?: string) =>
    h.execute(UNLIKE, { viewer, variables: { listingId: String(id), key } });
  const oneUser = async () => (await insertUsers(db.pool, 1))[0]!;

  test.beforeAll(async ({ db: fileDb, inProcess }) => {
    db = fileDb;
    h = inProcess;
    world = await seedSocialWorld(db.pool, 1);
  });

  test.beforeEach(async ({ redis }) => {
    await redis.flush();
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO marketplace_listings (category_id, seller_id, title, price) VALUES ($1, $2, 'Likeable', 10)
       RETURNING id`,
      [world.categoryId, world.sellerId],
    );
    listingId = rows[0]!.id;
  });

  afterEach(async () => {
    // Every write committed or rolled back: no connection is left holding a transaction (and its locks).
    expect(await openTransactions(db.pool, db.name)).toBe(0);
  });

  describe('validation', () => {
    it('liking an unknown listing is NOT_FOUND naming it, and writes nothing', async () => {
      const viewer = await oneUser();
      const { message } = expectErrorCode(await like(viewer, 2_000_000_000), 'NOT_FOUND');
      expect(message).toBe('listing 2000000000 was not found');
      const { message: unlikeMessage } = expectErrorCode(await unlike(viewer, 2_000_000_000), 'NOT_FOUND');
      expect(unlikeMessage).toBe('listing 2000000000 was not found');
      expect(await outboxFor(db.pool, 2_000_000_000)).toEqual([]);
    });

    it.each(['abc', '0', '-3', '1.5', '99999999999'])(
      'a malformed listing id (%s) is BAD_USER_INPUT on listingId',
      async (id) => {
        const viewer = await oneUser();
        const { message, extensions } = expectErrorCode(await like(viewer, id), 'BAD_USER_INPUT');
        expect(message).toBe(`listingId must be a listing id (a positive whole number), got "${id}"`);
        expect(extensions.field).toBe('listingId');
        expectErrorCode(await unlike(viewer, id), 'BAD_USER_INPUT');
      },
    );

    it('liking a sold listing is BAD_USER_INPUT naming the listing and its status; nothing is written', async () => {
      const viewer = await oneUser();
      const before = await likeState(db.pool, world.soldListingId);
      const { message, extensions } = expectErrorCode(
        await like(viewer, world.soldListingId),
        'BAD_USER_INPUT',
      );
      expect(message).toBe(`listing ${world.soldListingId} is sold, not active: it cannot be liked`);
      expect(extensions.field).toBe('listingId');
      expect(await likeState(db.pool, world.soldListingId)).toEqual(before);
      expect(await hasLike(db.pool, viewer.userId, world.soldListingId)).toBe(false);
      expect(await outboxFor(db.pool, world.soldListingId)).toEqual([]);
    });

    it('liking twice counts once: the second like succeeds with changed false', async () => {
      const viewer = await oneUser();
      const first = dataOf(await like(viewer, listingId)).likeListing;
      const second = dataOf(await like(viewer, listingId)).likeListing;
      expect(first).toEqual({
        listing: { id: String(listingId), likeCount: 1 },
        liked: true,
        changed: true,
        likeCount: 1,
      });
      expect(second).toEqual({ ...first, changed: false });
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 1, rows: 1 });
    });

    it('unliking a listing never liked is a no-op with changed false', async () => {
      const [viewer, other] = await insertUsers(db.pool, 2);
      dataOf(await like(other!, listingId));
      const result = dataOf(await unlike(viewer!, listingId)).unlikeListing;
      expect(result).toEqual({
        listing: { id: String(listingId), likeCount: 1 },
        liked: false,
        changed: false,
        likeCount: 1,
      });
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 1, rows: 1 });
      expect(await hasLike(db.pool, other!.userId, listingId)).toBe(true);
    });

    it('the payload carries the count after each like and unlike, matching the database', async () => {
      const [a, b] = await insertUsers(db.pool, 2);
      expect(dataOf(await like(a!, listingId)).likeListing.likeCount).toBe(1);
      const second = dataOf(await like(b!, listingId)).likeListing;
      expect(second).toMatchObject({ likeCount: 2, listing: { likeCount: 2 } });
      const removed = dataOf(await unlike(a!, listingId)).unlikeListing;
      expect(removed).toEqual({
        listing: { id: String(listingId), likeCount: 1 },
        liked: false,
        changed: true,
        likeCount: 1,
      });
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 1, rows: 1 });
      expect(await hasLike(db.pool, a!.userId, listingId)).toBe(false);
    });

    it('an anonymous caller is UNAUTHENTICATED and a service token FORBIDDEN; nothing is written', async () => {
      expectErrorCode(await like(anonymousViewer, listingId), 'UNAUTHENTICATED');
      expectErrorCode(await unlike(anonymousViewer, listingId), 'UNAUTHENTICATED');
      const service = await h.execute(LIKE, {
        viewer: { role: 'service', userId: null, subject: 'worker' },
        variables: { listingId: String(listingId) },
      });
      expectErrorCode(service, 'FORBIDDEN');
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 0, rows: 0 });
      expect(await outboxFor(db.pool, listingId)).toEqual([]);
    });
  });

  describe('consistency under concurrency', () => {
    it('100 concurrent likes by 100 distinct users add exactly 100', async () => {
      const viewers = await insertUsers(db.pool, 100);
      const results = await Promise.all(viewers.map((v) => like(v, listingId)));
      const payloads = results.map((r) => dataOf(r).likeListing);
      expect(payloads.every((p) => p.changed && p.liked)).toBe(true);
      // Each like reads the count under the listing's row lock, so each sees a different total.
      expect(payloads.map((p) => p.likeCount).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 100, rows: 100 });
      const outbox = await outboxFor(db.pool, listingId);
      expect(outbox).toHaveLength(100);
      expect(new Set(outbox.map((e) => e.payload.userId))).toEqual(new Set(viewers.map((v) => v.userId)));
    });

    it('the same user liking twice concurrently adds one (10 users, two requests each)', async () => {
      const viewers = await insertUsers(db.pool, 10);
      const results = await Promise.all(viewers.flatMap((v) => [like(v, listingId), like(v, listingId)]));
      const payloads = results.map((r) => dataOf(r).likeListing);
      for (let i = 0; i < viewers.length; i += 1) {
        const pair = [payloads[2 * i]!, payloads[2 * i + 1]!];
        expect(pair.map((p) => p.changed).sort()).toEqual([false, true]);
      }
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 10, rows: 10 });
      expect(await outboxFor(db.pool, listingId)).toHaveLength(10);
    });
  });

  describe('outbox', () => {
    it('writes one like.created per real like, none for a repeat, and like.deleted on unlike', async () => {
      const [a, b] = await insertUsers(db.pool, 2);
      dataOf(await like(a!, listingId));
      dataOf(await like(a!, listingId));
      dataOf(await like(b!, listingId));
      dataOf(await unlike(a!, listingId));
      dataOf(await unlike(a!, listingId));
      const outbox = await outboxFor(db.pool, listingId);
      expect(outbox.map((e) => [e.kind, e.payload])).toEqual([
        ['like.created', { userId: a!.userId, listingId, sellerId: world.sellerId }],
        ['like.created', { userId: b!.userId, listingId, sellerId: world.sellerId }],
        ['like.deleted', { userId: a!.userId, listingId, sellerId: world.sellerId }],
      ]);
      expect(new Set(outbox.map((e) => e.idempotency_key)).size).toBe(3);
    });

    it('when the transaction fails after the like, neither the like, the count, the event nor the key remain', async () => {
      const viewer = await oneUser();
      await db.pool.query(`CREATE FUNCTION social_test_fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.payload->>'userId' = TG_ARGV[0] THEN RAISE EXCEPTION 'injected outbox failure'; END IF;
          RETURN NEW;
        END $$`);
      // Test-only: fails the outbox insert of this one user, after the like row and its counter update.
      await db.pool.query(
        `CREATE TRIGGER social_test_fail_outbox AFTER INSERT ON events_queue
           FOR EACH ROW EXECUTE FUNCTION social_test_fail_outbox('${viewer.userId}')`,
      );
      try {
        const failed = await like(viewer, listingId, 'fail-once');
        expect(failed.data?.likeListing ?? null).toBeNull();
        expect(failed.errors?.map((e) => e.message)).toEqual(['injected outbox failure']);
        expect(await hasLike(db.pool, viewer.userId, listingId)).toBe(false);
        expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 0, rows: 0 });
        expect(await outboxFor(db.pool, listingId)).toEqual([]);
        expect(await storedKeys(db.pool, viewer.userId)).toEqual([]);
      } finally {
        await db.pool.query('DROP TRIGGER social_test_fail_outbox ON events_queue');
        await db.pool.query('DROP FUNCTION social_test_fail_outbox()');
      }
      // The retry with the same key is a first attempt: nothing of the failed one was kept.
      const retried = dataOf(await like(viewer, listingId, 'fail-once')).likeListing;
      expect(retried).toMatchObject({ changed: true, likeCount: 1 });
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 1, rows: 1 });
      expect((await outboxFor(db.pool, listingId)).map((e) => e.kind)).toEqual(['like.created']);
    });
  });

  describe('row-level security on the write path', () => {
    it('writes run as lodestar_app with the viewer identity set, though the test logs in as a superuser', async () => {
      const viewer = await oneUser();
      const { result } = await runWrite(
        serviceContext(h, viewer),
        { operation: 'probe', idempotencyKey: null, input: {} },
        async (tx) => {
          const { rows } = await tx.client.query<{ who: string; uid: string }>(
            `SELECT current_user AS who, current_setting('lodestar.user_id') AS uid`,
          );
          return rows[0]!;
        },
      );
      expect(result).toEqual({ who: 'lodestar_app', uid: viewer.userId });
    });

    it("a write under user A's identity cannot insert user B's like: 42501, and nothing of it commits", async () => {
      const [a, b] = await insertUsers(db.pool, 2);
      const attempt = runWrite(
        serviceContext(h, a!),
        { operation: 'likeListing', idempotencyKey: 'rls-probe', input: { listingId } },
        async (tx) => {
          // A resolver bug: the outbox item first, then the row written with the wrong user id.
          await tx.enqueue('like.created', { userId: b!.userId, listingId, sellerId: world.sellerId });
          await tx.client.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [
            b!.userId,
            listingId,
          ]);
          return { ok: true };
        },
      );
      await expect(attempt).rejects.toMatchObject({
        code: '42501',
        message: 'new row violates row-level security policy for table "likes"',
      });
      expect(await hasLike(db.pool, b!.userId, listingId)).toBe(false);
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 0, rows: 0 });
      expect(await outboxFor(db.pool, listingId)).toEqual([]);
      expect(await storedKeys(db.pool, a!.userId)).toEqual([]);
    });

    it("a write under user A's identity cannot see or delete user B's like", async () => {
      const [a, b] = await insertUsers(db.pool, 2);
      dataOf(await like(b!, listingId));
      const { result } = await runWrite(
        serviceContext(h, a!),
        { operation: 'unlikeListing', idempotencyKey: null, input: { listingId } },
        async (tx) => {
          const deleted = await tx.client.query('DELETE FROM likes WHERE user_id = $1 AND listing_id = $2', [
            b!.userId,
            listingId,
          ]);
          return { deleted: deleted.rowCount };
        },
      );
      expect(result).toEqual({ deleted: 0 });
      expect(await hasLike(db.pool, b!.userId, listingId)).toBe(true);
      expect(await likeState(db.pool, listingId)).toEqual({ likeCount: 1, rows: 1 });
    });

    it('the likeListing service writes the like of the context viewer, and only theirs', async () => {
      const [a, b] = await insertUsers(db.pool, 2);
      const result = await likes.likeListing(serviceContext(h, a!), listingId);
      expect(result).toEqual({ listingId, liked: true, changed: true, likeCount: 1 });
      expect(await hasLike(db.pool, a!.userId, listingId)).toBe(true);
      expect(await hasLike(db.pool, b!.userId, listingId)).toBe(false);
      // Unliking as B removes nothing of A's.
      expect(await likes.unlikeListing(serviceContext(h, b!), listingId)).toMatchObject({ changed: false });
      expect(await hasLike(db.pool, a!.userId, listingId)).toBe(true);
    });
  });
});
