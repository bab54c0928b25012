import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { UserViewer } from '../../src/auth/viewer.js';
import { asIdentity } from '../support/db.js';
import type { InProcess } from '../support/gateway.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import {
  ascending,
  oneTo,
  outboxWhere,
  socialEnv,
  socialFile,
  type SocialFile,
} from '../support/socialWrites.js';
import { it, test } from '../support/testFixtures.js';
import { graphql } from '../support/graphql.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';

const FOLLOW = graphql(`
  mutation Follow($userId: ID!) {
    follow(userId: $userId) {
      user {
        handle
      }
      following
      changed
      followerCount
      followingCount
    }
  }
`);

const UNFOLLOW = graphql(`
  mutation Unfollow($userId: ID!) {
    unfollow(userId: $userId) {
      user {
        handle
      }
      following
      changed
      followerCount
      followingCount
    }
  }
`);

test.override('env', socialEnv());

describe('follow and unfollow', () => {
  let file: SocialFile;

  const follow = (viewer: UserViewer | undefined, userId: string, h?: InProcess) =>
    (h ?? file.h).execute(FOLLOW, { viewer, variables: { userId } });
  const unfollow = (viewer: UserViewer | undefined, userId: string) =>
    file.h.execute(UNFOLLOW, { viewer, variables: { userId } });
  const pair = async () => {
    const [a, b] = await file.users(2);
    return [a!, b!] as const;
  };
  const handleOf = async (userId: string) =>
    (await file.db.pool.query<{ handle: string }>('SELECT handle FROM profiles WHERE user_id = $1', [userId]))
      .rows[0]!.handle;
  /** A profile's counters next to the follow rows they count, read as the owner. */
  const state = async (userId: string) => {
    const { rows } = await file.db.pool.query<{
      follower_count: number;
      following_count: number;
      followers: number;
      following: number;
    }>(
      `SELECT follower_count, following_count,
              (SELECT count(*)::int FROM follows WHERE followee_id = $1) AS followers,
              (SELECT count(*)::int FROM follows WHERE follower_id = $1) AS following
         FROM profiles WHERE user_id = $1`,
      [userId],
    );
    return rows[0]!;
  };
  const exact = (followers: number, following: number) => ({
    follower_count: followers,
    following_count: following,
    followers,
    following,
  });
  /** The follow events a user took part in, as follower or followee. */
  const outbox = async (userId: string) => [
    ...(await outboxWhere(file.db.pool, ['follow.created', 'follow.deleted'], { followerId: userId })),
    ...(await outboxWhere(file.db.pool, ['follow.created', 'follow.deleted'], { followeeId: userId })),
  ];

  test.beforeAll(async ({ db, redis, inProcess, inProcessWith }) => {
    file = socialFile({ db, redis, inProcess, inProcessWith });
  });

  beforeEach(async () => {
    await file.flushRedis();
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
  });

  describe('following', () => {
    it("follows a user and returns both counts after the change; the payload shows the followee's handle", async () => {
      const [a, b] = await pair();
      expect(dataOf(await follow(a, b.userId)).follow).toEqual({
        user: { handle: await handleOf(b.userId) },
        following: true,
        changed: true,
        followerCount: 1,
        followingCount: 1,
      });
      expect(await state(b.userId)).toEqual(exact(1, 0));
      expect(await state(a.userId)).toEqual(exact(0, 1));
      const [c] = await file.users(1);
      expect(dataOf(await follow(c, b.userId)).follow).toMatchObject({ followerCount: 2, followingCount: 1 });
      expect(dataOf(await follow(c, a.userId)).follow).toMatchObject({ followerCount: 1, followingCount: 2 });
      expect(await state(b.userId)).toEqual(exact(2, 0));
      expect(await state(c!.userId)).toEqual(exact(0, 2));
    });

    it('following again succeeds with changed false and counts nothing', async () => {
      const [a, b] = await pair();
      dataOf(await follow(a, b.userId));
      expect(dataOf(await follow(a, b.userId)).follow).toEqual({
        user: { handle: await handleOf(b.userId) },
        following: true,
        changed: false,
        followerCount: 1,
        followingCount: 1,
      });
      expect(await state(b.userId)).toEqual(exact(1, 0));
      expect(await state(a.userId)).toEqual(exact(0, 1));
    });

    it('an upper-case user id names the same user', async () => {
      const [a, b] = await pair();
      dataOf(await follow(a, b.userId.toUpperCase()));
      expect(dataOf(await follow(a, b.userId)).follow.changed).toBe(false);
      expect(await state(b.userId)).toEqual(exact(1, 0));
    });

    it('following yourself is BAD_USER_INPUT, whatever the case of the id', async () => {
      const [a] = await pair();
      for (const id of [a.userId, a.userId.toUpperCase()]) {
        const { message, extensions } = expectErrorCode(await follow(a, id), 'BAD_USER_INPUT');
        expect(message).toBe('you cannot follow yourself');
        expect(extensions.field).toBe('userId');
      }
      expect(await state(a.userId)).toEqual(exact(0, 0));
    });

    it.each(['abc', '', '42', '0b4d1f3a5c6e7f80', `${randomUUID()}x`, randomUUID().replaceAll('-', '')])(
      'a malformed user id (%j) is BAD_USER_INPUT on userId',
      async (id) => {
        const [a] = await pair();
        const { message, extensions } = expectErrorCode(await follow(a, id), 'BAD_USER_INPUT');
        expect(message).toBe(`userId must be a user id (a uuid), got "${id}"`);
        expect(extensions.field).toBe('userId');
        expectErrorCode(await unfollow(a, id), 'BAD_USER_INPUT');
        expect(await state(a.userId)).toEqual(exact(0, 0));
      },
    );

    it('an unknown user is NOT_FOUND naming them, for follow and unfollow; nothing is written', async () => {
      const [a] = await pair();
      const ghost = randomUUID();
      const { message } = expectErrorCode(await follow(a, ghost), 'NOT_FOUND');
      expect(message).toBe(`user ${ghost} was not found`);
      expectErrorCode(await unfollow(a, ghost), 'NOT_FOUND');
      expect(await state(a.userId)).toEqual(exact(0, 0));
      expect(await outbox(a.userId)).toEqual([]);
    });

    it('an anonymous caller is UNAUTHENTICATED', async () => {
      const [, b] = await pair();
      expectErrorCode(await follow(undefined, b.userId), 'UNAUTHENTICATED');
      expect(await state(b.userId)).toEqual(exact(0, 0));
    });
  });

  describe('unfollowing', () => {
    it('unfollow removes the follow and returns both counts; again it is a no-op with changed false', async () => {
      const [a, b] = await pair();
      dataOf(await follow(a, b.userId));
      expect(dataOf(await unfollow(a, b.userId)).unfollow).toEqual({
        user: { handle: await handleOf(b.userId) },
        following: false,
        changed: true,
        followerCount: 0,
        followingCount: 0,
      });
      expect(dataOf(await unfollow(a, b.userId)).unfollow).toMatchObject({
        following: false,
        changed: false,
        followerCount: 0,
        followingCount: 0,
      });
      expect(await state(b.userId)).toEqual(exact(0, 0));
      expect(await state(a.userId)).toEqual(exact(0, 0));
    });

    it("unfollowing someone never followed is a no-op that leaves others' follows alone", async () => {
      const [a, b] = await pair();
      const [c] = await file.users(1);
      dataOf(await follow(c, b.userId));
      expect(dataOf(await unfollow(a, b.userId)).unfollow).toMatchObject({
        changed: false,
        followerCount: 1,
        followingCount: 0,
      });
      expect(await state(b.userId)).toEqual(exact(1, 0));
      expect(await state(c!.userId)).toEqual(exact(0, 1));
    });

    it('unfollowing yourself is BAD_USER_INPUT', async () => {
      const [a] = await pair();
      expect(expectErrorCode(await unfollow(a, a.userId), 'BAD_USER_INPUT').message).toBe(
        'you cannot unfollow yourself',
      );
    });
  });

  describe('consistency under concurrency', () => {
    it('30 distinct users following one user at once add exactly 30 followers', async () => {
      const [star] = await file.users(1);
      const fans = await file.users(30);
      const payloads = (await Promise.all(fans.map((f) => follow(f, star!.userId)))).map(
        (r) => dataOf(r).follow,
      );
      expect(payloads.every((p) => p.changed && p.following && p.followingCount === 1)).toBe(true);
      // Each reads the count after its own follow, under the followee's row lock: all totals differ.
      expect(ascending(payloads.map((p) => p.followerCount))).toEqual(oneTo(30));
      expect(await state(star!.userId)).toEqual(exact(30, 0));
      expect(await outboxWhere(file.db.pool, ['follow.created'], { followeeId: star!.userId })).toHaveLength(
        30,
      );
    });

    it('the same user following twice at once adds one follower (10 users, two requests each)', async () => {
      const [star] = await file.users(1);
      const fans = await file.users(10);
      const payloads = (
        await Promise.all(fans.flatMap((f) => [follow(f, star!.userId), follow(f, star!.userId)]))
      ).map((r) => dataOf(r).follow);
      for (let i = 0; i < fans.length; i += 1) {
        expect([payloads[2 * i]!.changed, payloads[2 * i + 1]!.changed].sort()).toEqual([false, true]);
        expect(await state(fans[i]!.userId)).toEqual(exact(0, 1));
      }
      expect(await state(star!.userId)).toEqual(exact(10, 0));
      expect(await outboxWhere(file.db.pool, ['follow.created'], { followeeId: star!.userId })).toHaveLength(
        10,
      );
    });

    it('two users following each other at the same moment both succeed (10 pairs at once)', async () => {
      const users = await file.users(20);
      const pairs = oneTo(10).map((i) => [users[2 * i - 2]!, users[2 * i - 1]!] as const);
      const results = await Promise.all(
        pairs.flatMap(([a, b]) => [follow(a, b.userId), follow(b, a.userId)]),
      );
      for (const result of results) expect(dataOf(result).follow.changed).toBe(true);
      for (const user of users) expect(await state(user.userId)).toEqual(exact(1, 1));
    });

    it('two users following each other at once both succeed even when their counter updates interleave', async () => {
      const [a, b] = await pair();
      // Test-only: holds each transaction for a moment between the followee's and the follower's counter
      // update, so the two follows reliably take their row locks in between each other's.
      await file.db.pool.query(`CREATE FUNCTION follows_test_pause() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$`);
      await file.db.pool.query(
        `CREATE TRIGGER follows_test_pause AFTER UPDATE OF follower_count ON profiles
           FOR EACH ROW WHEN (NEW.follower_count > OLD.follower_count) EXECUTE FUNCTION follows_test_pause()`,
      );
      try {
        const results = await Promise.all([follow(a, b.userId), follow(b, a.userId)]);
        expect(results.map((r) => r.errors?.map((e) => e.message) ?? [])).toEqual([[], []]);
      } finally {
        await file.db.pool.query('DROP TRIGGER follows_test_pause ON profiles');
        await file.db.pool.query('DROP FUNCTION follows_test_pause()');
      }
      expect(await state(a.userId)).toEqual(exact(1, 1));
      expect(await state(b.userId)).toEqual(exact(1, 1));
    });

    it('follows and unfollows racing on one user leave the counters equal to the rows', async () => {
      const [star] = await file.users(1);
      const fans = await file.users(20);
      for (const fan of fans.slice(0, 10)) dataOf(await follow(fan, star!.userId));
      // The first ten unfollow while the other ten follow, all at once.
      const results = await Promise.all(
        fans.map((fan, i) => (i < 10 ? unfollow(fan, star!.userId) : follow(fan, star!.userId))),
      );
      for (const result of results) expect(result.errors).toBeUndefined();
      expect(await state(star!.userId)).toEqual(exact(10, 0));
    });
  });

  describe('outbox', () => {
    it('writes one follow.created per follow and one follow.deleted per unfollow, none for no-ops or failures', async () => {
      const [a, b] = await pair();
      dataOf(await follow(a, b.userId));
      dataOf(await follow(a, b.userId));
      expectErrorCode(await follow(a, a.userId), 'BAD_USER_INPUT');
      expectErrorCode(await follow(a, randomUUID()), 'NOT_FOUND');
      dataOf(await unfollow(a, b.userId));
      dataOf(await unfollow(a, b.userId));
      dataOf(await unfollow(b, a.userId));
      expect(await outbox(a.userId)).toEqual([
        { kind: 'follow.created', payload: { followerId: a.userId, followeeId: b.userId } },
        { kind: 'follow.deleted', payload: { followerId: a.userId, followeeId: b.userId } },
      ]);
    });
  });

  describe('row-level security', () => {
    it("user A's transaction cannot insert a follow by user B (42501) nor delete one", async () => {
      const [a, b] = await pair();
      const [c] = await file.users(1);
      const insert = asIdentity(file.db, { role: 'user', userId: a.userId }, (client) =>
        client.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [b.userId, c!.userId]),
      );
      await expect(insert).rejects.toMatchObject({
        code: '42501',
        message: 'new row violates row-level security policy for table "follows"',
      });
      dataOf(await follow(b, c!.userId));
      const deleted = await asIdentity(
        file.db,
        { role: 'user', userId: a.userId },
        async (client) => {
          const result = await client.query('DELETE FROM follows WHERE follower_id = $1', [b.userId]);
          return result.rowCount;
        },
        { commit: true },
      );
      expect(deleted).toBe(0);
      expect(await state(b.userId)).toEqual(exact(0, 1));
      expect(await state(c!.userId)).toEqual(exact(1, 0));
    });
  });

  describe('rate limit', () => {
    it('the follow after the budget is RATE_LIMITED and writes nothing', async () => {
      const limited = file.harness({ RATE_LIMIT_FOLLOWS_PER_MIN: '2' });
      await awayFromWindowEdge();
      const [a] = await file.users(1);
      const targets = await file.users(3);
      dataOf(await follow(a, targets[0]!.userId, limited));
      dataOf(await follow(a, targets[1]!.userId, limited));
      const { message, extensions } = expectErrorCode(
        await follow(a, targets[2]!.userId, limited),
        'RATE_LIMITED',
      );
      expect(message).toMatch(/^too many follows; retry in \d+ s$/);
      expect(extensions).toMatchObject({ action: 'follow' });
      expect(await state(a!.userId)).toEqual(exact(0, 2));
      expect(await state(targets[2]!.userId)).toEqual(exact(0, 0));
    });
  });
});
