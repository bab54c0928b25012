import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect } from 'vitest';
import type { UserViewer, Viewer } from '../../src/auth/viewer.js';
import { asIdentity, type TestDatabase } from '../support/db.js';
import { testRedisUrl } from '../support/env.js';
import {
  clearPrefix,
  expectListingFeatures,
  expectUserFeatures,
  LISTING_FEATURE_FIELDS,
  listingFeaturesTruth,
  metricValue,
  monitorRedis,
  recordStatements,
  sleep,
  USER_FEATURE_FIELDS,
  userFeaturesTruth,
  type RedisMonitor,
  type StatementRecorder,
} from '../support/featuresHarness.js';
import { clusterCentre, createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { insertInterest, insertListing, insertProfile } from '../support/fixtures.js';
import { createInProcess, type InProcess } from '../support/gateway.js';
import { graphql } from '../support/graphql.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { it, test } from '../support/testFixtures.js';

const ME = graphql(
  `
    {
      me {
        features {
          ...UserFeatureFields
        }
      }
    }
  `,
  [USER_FEATURE_FIELDS],
);
const USER = graphql(
  `
    query ($userId: ID!) {
      userFeatures(userId: $userId) {
        ...UserFeatureFields
      }
    }
  `,
  [USER_FEATURE_FIELDS],
);
const LISTING = graphql(
  `
    query ($id: ID!) {
      listing(id: $id) {
        id
        features {
          ...ListingFeatureFields
        }
      }
    }
  `,
  [LISTING_FEATURE_FIELDS],
);
const PAGE = graphql(
  `
    query ($first: Int) {
      listings(first: $first) {
        edges {
          node {
            id
            features {
              ...ListingFeatureFields
            }
          }
        }
      }
    }
  `,
  [LISTING_FEATURE_FIELDS],
);

const admin: Viewer = { role: 'admin', userId: '00000000-0000-4000-8000-00000000a001' };
const userFeaturesSql = /\buser_features\(/;
const listingFeaturesSql = /\blisting_features\(/;

describe('feature store: Redis in front of the SQL feature functions', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let prefix: string;
  let redis: Redis;
  let monitor: RedisMonitor;
  let sql: StatementRecorder;
  let alice: UserViewer;
  let bob: UserViewer;
  /** Liked, commented on and shown in the feed: every listing feature is non-trivial. */
  let busyListing: number;
  const harnesses: InProcess[] = [];

  const harness = (env: Record<string, string> = {}): InProcess => {
    // These tests count every Redis command and key under the prefix: the read rate limits (which also
    // keep their counters in Redis, tested in test/http/clientRateLimit.test.ts) are off here.
    const h = createInProcess(db, {
      REDIS_URL: testRedisUrl,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMITS_ENABLED: 'false',
      ...env,
    });
    harnesses.push(h);
    return h;
  };
  const lookups = (h: InProcess, kind: string, result: string) =>
    metricValue(h.metrics.featureLookups, { kind, result });
  const computed = (h: InProcess, kind: string) => metricValue(h.metrics.featureComputed, { kind });
  const me = async (h: InProcess, viewer: Viewer) => dataOf(await h.execute(ME, { viewer })).me!.features;
  const userFeatures = async (h: InProcess, viewer: Viewer, userId: string) =>
    dataOf(await h.execute(USER, { viewer, variables: { userId } })).userFeatures;
  const listing = async (h: InProcess, id: number) =>
    dataOf(await h.execute(LISTING, { variables: { id } })).listing!.features;
  const page = async (h: InProcess, first: number) =>
    dataOf(await h.execute(PAGE, { variables: { first } })).listings.edges.map((e) => e.node);
  const featureKeys = async () => (await redis.keys(`${prefix}*`)).map((k) => k.slice(prefix.length)).sort();

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
    const q = db.pool;
    world = await seedFeedWorld(q, [12, 12, 12, 12, 12, 12, 12]);
    // Two interests in categories 0 and 3, so the top categories rank summed affinity (c0 wins only
    // by its sum), and seven categories, so the top 5 cut drops two.
    const second0 = await insertInterest(q, {
      categoryId: world.categoryIds[0]!,
      embedding: clusterCentre(0),
    });
    const second3 = await insertInterest(q, {
      categoryId: world.categoryIds[3]!,
      embedding: clusterCentre(3),
    });
    const affinities = [0.5, 0.9, 0.2, 0.3, 0.7, 0.1, 0.6];
    alice = await createFeedViewer(q, [
      ...affinities.map((affinity, k) => ({ interestId: world.interestIds[k]!, affinity })),
      { interestId: second0, affinity: 0.45 },
      { interestId: second3, affinity: 0.55 },
    ]);
    bob = await createFeedViewer(q, [{ interestId: world.interestIds[1]!, affinity: 0.5 }]);
    const carol = await insertProfile(q);
    const aliceListing = await insertListing(q, {
      categoryId: world.categoryIds[2]!,
      sellerId: alice.userId,
    });
    const [l0a, l0b] = world.listings[0]!;
    const [l1a] = world.listings[1]!;
    const [l2a] = world.listings[2]!;
    busyListing = l0a!.id;
    const like = (user: string, listingId: number, ago: string) =>
      q.query(`INSERT INTO likes (user_id, listing_id, created_at) VALUES ($1, $2, now() - $3::interval)`, [
        user,
        listingId,
        ago,
      ]);
    const comment = (user: string, listingId: number, ago: string, deleted = false) =>
      q.query(
        `INSERT INTO comments (listing_id, user_id, body, created_at, deleted_at)
         VALUES ($1, $2, 'hi', now() - $3::interval, CASE WHEN $4 THEN now() END)`,
        [listingId, user, ago, deleted],
      );
    const follow = (follower: string, followee: string, ago: string) =>
      q.query(
        `INSERT INTO follows (follower_id, followee_id, created_at) VALUES ($1, $2, now() - $3::interval)`,
        [follower, followee, ago],
      );
    const impression = (user: string | null, listingId: number, reward: number | null, ago: string) =>
      q.query(
        `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, reward, created_at)
         VALUES ($1, $2, 'epsilon_greedy', 'SIMILAR', 0.5, 0, $3, now() - $4::interval)`,
        [user, listingId, reward, ago],
      );
    await like(alice.userId, l0a!.id, '2 hours');
    await like(alice.userId, l0b!.id, '3 hours');
    await like(alice.userId, l1a!.id, '4 hours');
    await like(bob.userId, l0a!.id, '1 hour');
    await like(bob.userId, aliceListing, '1 hour');
    await like(carol, aliceListing, '1 hour');
    await comment(alice.userId, l0a!.id, '1 hour');
    await comment(alice.userId, l1a!.id, '30 minutes', true);
    await comment(bob.userId, aliceListing, '1 hour');
    await comment(bob.userId, aliceListing, '2 hours', true);
    await follow(alice.userId, bob.userId, '3 hours');
    await follow(alice.userId, world.sellerId, '5 hours');
    await follow(bob.userId, alice.userId, '1 hour');
    await follow(carol, alice.userId, '1 hour');
    await q.query(
      `INSERT INTO intent_signals (user_id, kind, listing_id, created_at) VALUES ($1, 'view', $2, now() - interval '10 minutes')`,
      [alice.userId, l2a!.id],
    );
    for (const [listingId, reward, ago] of [
      [l0a!.id, 1, '1 day'],
      [l0b!.id, 0, '2 days'],
      [l1a!.id, null, '3 days'],
      [l2a!.id, 1, '4 days'],
      [l0a!.id, 1, '40 days'],
      [l0a!.id, 1, '45 days'],
    ] as const) {
      await impression(alice.userId, listingId, reward, ago);
    }
    await impression(bob.userId, l0a!.id, 1, '5 days');
    await impression(carol, l0a!.id, null, '6 days');
    await impression(null, l0a!.id, 1, '35 days');

    prefix = `lodestar:t:${db.name}:`;
    redis = new Redis(testRedisUrl, { lazyConnect: true });
    await redis.connect();
    monitor = await monitorRedis(testRedisUrl, prefix);
    sql = recordStatements();
  });

  beforeEach(async () => {
    await clearPrefix(redis, prefix);
    sql.statements.length = 0;
  });

  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.close();
  });

  afterAll(async () => {
    sql?.restore();
    monitor?.close();
    if (redis) {
      await clearPrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it('serves user features equal to the SQL truth: computed on the first read, from Redis on the next', async () => {
    const truth = await userFeaturesTruth(db.pool, alice.userId);
    // The fixture exercises every feature (a truth of zeros would prove little).
    expect(truth).toMatchObject({
      interestCount: 9,
      likesGiven: 3,
      likesReceived: 2,
      commentsGiven: 1,
      commentsReceived: 1,
      followsGiven: 2,
      followers: 2,
      feedImpressions30d: 4,
      feedCtr30d: 0.5,
    });
    expect(truth.topCategories.map((c) => c.categoryId)).toEqual(
      [0, 1, 3, 4, 6].map((k) => String(world.categoryIds[k])),
    );
    const h = harness();

    expectUserFeatures(await me(h, alice), truth);
    expect(await lookups(h, 'user', 'miss')).toBe(1);
    expect(await computed(h, 'user')).toBe(1);
    await h.features.settled();

    expectUserFeatures(await me(h, alice), truth);
    expect(await lookups(h, 'user', 'hit')).toBe(1);
    expect(await computed(h, 'user')).toBe(1);
    expect(sql.statements.filter((s) => userFeaturesSql.test(s))).toHaveLength(1);
  });

  it('serves listing features equal to the SQL truth on a miss and on a hit, with the age as of the request', async () => {
    const h = harness();
    const first = await listing(h, busyListing);
    const truth = (await listingFeaturesTruth(db.pool, [busyListing])).get(busyListing)!;
    expect(truth).toMatchObject({ likeCount: 2, commentCount: 1, feedImpressions30d: 3 });
    expect(truth.feedCtr30d).toBeCloseTo(2 / 3, 9);
    expectListingFeatures(first, truth);
    expect(await lookups(h, 'listing', 'miss')).toBe(1);
    await h.features.settled();

    await sleep(600);
    const second = await listing(h, busyListing);
    expectListingFeatures(second, (await listingFeaturesTruth(db.pool, [busyListing])).get(busyListing)!);
    expect(await lookups(h, 'listing', 'hit')).toBe(1);
    expect(await computed(h, 'listing')).toBe(1);
    // A cached entry stores the creation time, not the age: the age moves on while it is cached.
    expect(second.ageSeconds - first.ageSeconds).toBeGreaterThan(0.5);
  });

  it('reads a page of 50 listings with one MGET and one SQL statement, and a warm page with no SQL', async () => {
    const h = harness();
    monitor.commands.length = 0;
    const cold = await page(h, 50);
    await h.features.settled();
    await monitor.sync();
    const ids = cold.map((n) => Number(n.id));
    expect(ids).toHaveLength(50);
    const truth = await listingFeaturesTruth(db.pool, ids);
    for (const node of cold) expectListingFeatures(node.features, truth.get(Number(node.id))!);
    const coldMgets = monitor.commands.filter(([name]) => name === 'mget');
    expect(coldMgets).toHaveLength(1);
    expect(coldMgets[0]!.slice(1).sort()).toEqual(ids.map((id) => `${prefix}feat:v1:listing:${id}`).sort());
    expect(sql.statements.filter((s) => listingFeaturesSql.test(s))).toHaveLength(1);
    expect(monitor.commands.filter(([name]) => name === 'set')).toHaveLength(50);
    expect(await lookups(h, 'listing', 'miss')).toBe(50);

    monitor.commands.length = 0;
    sql.statements.length = 0;
    const warm = await page(h, 50);
    await h.features.settled();
    await monitor.sync();
    expect(warm.map((n) => n.id)).toEqual(cold.map((n) => n.id));
    for (const node of warm) expectListingFeatures(node.features, truth.get(Number(node.id))!);
    expect(monitor.commands.map(([name]) => name)).toEqual(['mget']);
    expect(sql.statements.filter((s) => listingFeaturesSql.test(s))).toHaveLength(0);
    expect(await lookups(h, 'listing', 'hit')).toBe(50);
  });

  it('writes versioned keys that expire after 3600 s ± 10%, spread out rather than all at once', async () => {
    const h = harness();
    const started = Date.now();
    const ids = (await page(h, 50)).map((n) => Number(n.id));
    await me(h, alice);
    await h.features.settled();
    const keys = await featureKeys();
    expect(keys).toEqual(
      [...ids.map((id) => `feat:v1:listing:${id}`), `feat:v1:user:${alice.userId}`].sort(),
    );
    const ttls = await Promise.all(keys.map((k) => redis.pttl(`${prefix}${k}`)));
    const elapsed = Date.now() - started;
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThanOrEqual(3_240_000 - elapsed);
      expect(ttl).toBeLessThanOrEqual(3_960_000);
    }
    expect(new Set(ttls).size).toBeGreaterThan(40);
    expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(60_000);
  });

  it('computes a user missing from the cache once for ten concurrent requests', async () => {
    const h = harness();
    await h.execute('{ __typename }');
    // Hold the computation until every request has looked in Redis, so all ten miss together.
    const held = sql.hold(userFeaturesSql);
    monitor.commands.length = 0;
    const requests = Array.from({ length: 10 }, (_, i) =>
      userFeatures(h, i % 2 === 0 ? admin : bob, bob.userId),
    );
    await held.reached;
    for (let i = 0; monitor.commands.filter(([name]) => name === 'mget').length < 10; i += 1) {
      if (i > 200) throw new Error('ten MGETs never reached Redis');
      await sleep(10);
    }
    await sleep(50);
    held.release();
    const results = await Promise.all(requests);
    const truth = await userFeaturesTruth(db.pool, bob.userId);
    for (const result of results) expectUserFeatures(result, truth);
    expect(await lookups(h, 'user', 'miss')).toBe(10);
    expect(await computed(h, 'user')).toBe(1);
    expect(sql.statements.filter((s) => userFeaturesSql.test(s))).toHaveLength(1);
  });

  it('serves a like after it invalidates the listing and both users; until then the cached values (bounded by the TTL)', async () => {
    const h = harness();
    const target = world.listings[4]![0]!.id;
    const seller = world.sellerId;
    const read = async () => ({
      listing: await listing(h, target),
      liker: await me(h, alice),
      seller: await userFeatures(h, admin, seller),
    });
    const before = await read();
    await h.features.settled();
    await asIdentity(
      db,
      { userId: alice.userId, role: 'user' },
      (c) => c.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [alice.userId, target]),
      { commit: true },
    );
    try {
      const stale = await read();
      expect(await lookups(h, 'listing', 'hit')).toBe(1);
      expect(stale.listing.likeCount).toBe(before.listing.likeCount);
      expect(stale.liker.likesGiven).toBe(before.liker.likesGiven);
      expect(stale.seller.likesReceived).toBe(before.seller.likesReceived);

      // What the like mutation does after its transaction commits.
      await h.features.invalidate({ users: [alice.userId, seller], listings: [target] });
      expect(await featureKeys()).toEqual([]);
      const fresh = await read();
      expect(fresh.listing.likeCount).toBe(before.listing.likeCount + 1);
      expect(fresh.liker.likesGiven).toBe(before.liker.likesGiven + 1);
      expect(fresh.seller.likesReceived).toBe(before.seller.likesReceived + 1);
      expectListingFeatures(fresh.listing, (await listingFeaturesTruth(db.pool, [target])).get(target)!);
      expectUserFeatures(fresh.liker, await userFeaturesTruth(db.pool, alice.userId));
      expectUserFeatures(fresh.seller, await userFeaturesTruth(db.pool, seller));

      // And the fresh values are cached again.
      await h.features.settled();
      const hitsBefore = await lookups(h, 'listing', 'hit');
      expect((await read()).listing.likeCount).toBe(before.listing.likeCount + 1);
      expect(await lookups(h, 'listing', 'hit')).toBe(hitsBefore + 1);
    } finally {
      await db.pool.query('DELETE FROM likes WHERE user_id = $1 AND listing_id = $2', [alice.userId, target]);
    }
  });

  it('serves a stale value without an invalidation for at most one TTL', async () => {
    const h = harness({ FEATURE_TTL_SEC: '1' });
    const target = world.listings[6]![0]!.id;
    const before = await listing(h, target);
    await h.features.settled();
    await db.pool.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [bob.userId, target]);
    try {
      expect((await listing(h, target)).likeCount).toBe(before.likeCount);
      await sleep(1200);
      expect((await listing(h, target)).likeCount).toBe(before.likeCount + 1);
      expect(await lookups(h, 'listing', 'miss')).toBe(2);
    } finally {
      await db.pool.query('DELETE FROM likes WHERE user_id = $1 AND listing_id = $2', [bob.userId, target]);
    }
  });

  it('does not cache a computation that was running when the entity was invalidated', async () => {
    const h = harness();
    const target = world.listings[5]![0]!.id;
    const held = sql.hold(listingFeaturesSql);
    const pending = listing(h, target);
    await held.reached;
    await h.features.invalidate({ listings: [target] });
    held.release();
    await pending;
    await h.features.settled();
    expect(await featureKeys()).toEqual([]);

    await listing(h, target);
    await h.features.settled();
    expect(await featureKeys()).toEqual([`feat:v1:listing:${target}`]);
  });

  describe('userFeatures(userId)', () => {
    it('lets a user read their own features and an admin anyone’s', async () => {
      const h = harness();
      const truth = await userFeaturesTruth(db.pool, alice.userId);
      expectUserFeatures(await userFeatures(h, alice, alice.userId), truth);
      expectUserFeatures(await userFeatures(h, alice, alice.userId.toUpperCase()), truth);
      expectUserFeatures(await userFeatures(h, admin, alice.userId), truth);
      expectUserFeatures(
        await userFeatures(h, admin, bob.userId),
        await userFeaturesTruth(db.pool, bob.userId),
      );
    });

    it('refuses another user’s features (FORBIDDEN) and anonymous callers (UNAUTHENTICATED)', async () => {
      const h = harness();
      const forbidden = await h.execute(USER, { viewer: bob, variables: { userId: alice.userId } });
      expectErrorCode(forbidden, 'FORBIDDEN');
      expect(forbidden.data).toBeNull();
      expectErrorCode(
        await h.execute(USER, {
          viewer: { role: 'anonymous', userId: null },
          variables: { userId: alice.userId },
        }),
        'UNAUTHENTICATED',
      );
      // Refused before anything was looked up or computed.
      expect(await computed(h, 'user')).toBe(0);
      expect(await featureKeys()).toEqual([]);
    });

    it('answers BAD_USER_INPUT for an id that is not a uuid and NOT_FOUND for an unknown user', async () => {
      const h = harness();
      const bad = expectErrorCode(
        await h.execute(USER, { viewer: admin, variables: { userId: 'not-a-uuid' } }),
        'BAD_USER_INPUT',
      );
      expect(bad.message).toContain('uuid');
      expectErrorCode(
        await h.execute(USER, {
          viewer: admin,
          variables: { userId: '00000000-0000-4000-8000-0000000000ff' },
        }),
        'NOT_FOUND',
      );
      await h.features.settled();
      expect(await featureKeys()).toEqual([]);
    });
  });
});
