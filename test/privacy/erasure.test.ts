import { afterAll, describe, expect } from 'vitest';
import type pg from 'pg';
import { eraseNext } from '../../src/privacy/erasureJob.js';
import { userFeatureKind } from '../../src/features/featureKinds.js';
import { COENGAGEMENT_PARAMS, rebuildCoengagement } from '../../src/feed/coengagement.js';
import { openWorkerConnections } from '../../src/services/connections.js';
import { createEventHandler } from '../../src/worker/handlers.js';
import { insertListing, insertProfile } from '../support/fixtures.js';
import { seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { testConfig } from '../support/gateway.js';
import type { TestDatabase } from '../support/db.js';
import { graphql, type Operation } from '../support/graphql.js';
import { withTransaction } from '../../src/db/checkout.js';
import { postGraphQL, firstCode } from '../support/http.js';
import {
  enqueueEvents,
  killWorkerProcesses,
  runUntilSettled,
  silentLogger,
  startWorkerProcess,
  waitForWorkerLog,
  waitUntil,
} from '../support/workerHarness.js';
import { it, test, type PrefixedRedis } from '../support/testFixtures.js';

const ME = graphql(`
  query ErasureMe {
    me {
      id
      handle
    }
  }
`);
const LIKE = graphql(`
  mutation ErasureLike($listingId: ID!, $key: String) {
    likeListing(listingId: $listingId, idempotencyKey: $key) {
      liked
    }
  }
`);
const COMMENT = graphql(`
  mutation ErasureComment($listingId: ID!, $body: String!) {
    addComment(listingId: $listingId, body: $body) {
      comment {
        id
      }
    }
  }
`);
const FOLLOW = graphql(`
  mutation ErasureFollow($userId: ID!) {
    follow(userId: $userId) {
      following
    }
  }
`);
const HIDE = graphql(`
  mutation ErasureHide($listingId: ID!) {
    hideListing(listingId: $listingId) {
      hidden
    }
  }
`);
const SIGNAL = graphql(`
  mutation ErasureSignal($listingId: ID!) {
    recordSignal(kind: VIEW, listingId: $listingId) {
      signalId
    }
  }
`);
const FEED = graphql(`
  query ErasureFeed {
    suggestions(first: 10) {
      edges {
        node {
          impressionId
          listing {
            id
          }
        }
      }
    }
  }
`);
const FEATURES = graphql(`
  query ErasureFeatures($userId: ID!) {
    userFeatures(userId: $userId) {
      commentsGiven
    }
  }
`);
const FEEDBACK = graphql(`
  mutation ErasureFeedback($impressionId: ID!) {
    recordFeedback(impressionId: $impressionId, reward: 1) {
      reward
    }
  }
`);
const SAVE_FLAG = graphql(`
  mutation ErasureFlag($key: String!) {
    saveFlag(key: $key) {
      auditId
    }
  }
`);
const REPORT = graphql(`
  mutation ErasureReport($flagKey: String!, $message: String) {
    reportProblem(flagKey: $flagKey, message: $message)
  }
`);
const SET_ROLLOUT = graphql(`
  mutation ErasureSetRollout($key: String!, $pct: Int!, $reason: String) {
    setRollout(key: $key, rolloutPct: $pct, reason: $reason) {
      auditId
    }
  }
`);
const ERASE = graphql(`
  mutation ErasureErase($userId: String!, $reason: String!) {
    eraseUser(userId: $userId, reason: $reason) {
      auditId
      erasure {
        id
        status
        requestedBy
        created
      }
    }
  }
`);
const DELETE_ME = graphql(`
  mutation ErasureDeleteMe($confirmHandle: String!) {
    deleteMyAccount(confirmHandle: $confirmHandle) {
      id
      status
      requestedBy
      created
    }
  }
`);
const ERASURES = graphql(`
  query ErasureRequests {
    ops {
      erasureRequests {
        id
        userId
        status
        step
        attempts
        rowsDone {
          step
          rows
        }
      }
    }
  }
`);

/** Every table (partitioned parents, not their partitions) with rows whose text holds `needle`. */
async function tablesHolding(pool: pg.Pool, needle: string): Promise<Record<string, number>> {
  const { rows: tables } = await pool.query<{ name: string }>(
    `SELECT c.oid::regclass::text AS name FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY 1`,
  );
  const found: Record<string, number> = {};
  for (const { name } of tables) {
    // The whole row as text: every column of every type (uuid, text, jsonb, arrays) is searched.
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${name} t WHERE strpos(t::text, $1) > 0`,
      [needle],
    );
    if (rows[0]!.n > 0) found[name] = rows[0]!.n;
  }
  return found;
}

/** Every Redis key under the prefix whose name or value holds `needle`. */
async function keysHolding(redis: PrefixedRedis['redis'], prefix: string, needle: string): Promise<string[]> {
  const held: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const stored of keys) {
      const key = stored.slice(prefix.length);
      const type = await redis.type(key);
      const value =
        type === 'string'
          ? ((await redis.get(key)) ?? '')
          : type === 'hash'
            ? JSON.stringify(await redis.hgetall(key))
            : type === 'zset'
              ? JSON.stringify(await redis.zrange(key, '0', '-1'))
              : type === 'set'
                ? JSON.stringify(await redis.smembers(key))
                : type === 'list'
                  ? JSON.stringify(await redis.lrange(key, 0, -1))
                  : '';
      if (key.includes(needle) || value.includes(needle)) held.push(key);
    }
  } while (cursor !== '0');
  return held;
}

describe('account erasure', () => {
  let world: FeedWorld;
  let pool: pg.Pool;

  test.beforeAll(async ({ db }) => {
    pool = db.pool;
    world = await seedFeedWorld(pool, [6, 6]);
    // Before the gateway starts (the fixtures are lazy), so its first read of the experiment finds it.
    await pool.query(
      `INSERT INTO experiments (key, arms, active)
       VALUES ('feed-policy', '[{"name":"only","weight":1,"policy":"epsilon_greedy"}]', true)`,
    );
  });

  afterAll(() => killWorkerProcesses());

  it('leaves nothing about the person in any table, column or Redis key, and keeps everyone else’s counts right', async ({
    db,
    gateway,
    tokens,
    redis,
    appEnv,
  }) => {
    const handle = `erase_me_${Date.now().toString(36)}`;
    const victim = await insertProfile(pool, { handle });
    const friend = await insertProfile(pool);
    const admin = await insertProfile(pool, { role: 'admin' });
    await pool.query('INSERT INTO user_interests (user_id, interest_id, affinity) VALUES ($1, $2, 0.8)', [
      victim,
      world.interestIds[0],
    ]);
    await pool.query('SELECT recompute_profile_embedding($1)', [victim]);
    const victimToken = await tokens.user(victim);
    const friendToken = await tokens.user(friend);
    const adminToken = await tokens.admin(admin);
    const as = (token: string) => ({ token });

    // Their own listing, liked by their friend.
    const sold = await insertListing(pool, {
      categoryId: world.categoryIds[0]!,
      sellerId: victim,
      title: `Bike of ${handle}`,
    });
    const [a, b, c] = world.listings[0]!.map((l) => l.id) as [number, number, number];
    const d = world.listings[1]![0]!.id;

    // A flag (a problem report); the experiment (an arm in Redis) is made in beforeAll.
    expect(
      (await postGraphQL(gateway, SAVE_FLAG, { ...as(adminToken), variables: { key: 'erasure_flag' } })).body
        .errors,
    ).toBeUndefined();

    // Activity in every store, through the API.
    const run = async <T>(op: Operation<T>, token: string, variables?: Record<string, unknown>) => {
      const result = await postGraphQL(gateway, op, { token, variables });
      expect(result.body.errors, JSON.stringify(result.body.errors)).toBeUndefined();
      return result.body.data!;
    };
    const before = await pool.query<{ id: number; like_count: number; popularity: number }>(
      'SELECT id, like_count, popularity FROM marketplace_listings WHERE id = ANY($1) ORDER BY id',
      [[a, b, c, d, sold]],
    );
    await run(ME, victimToken);
    await run(LIKE, victimToken, { listingId: String(a), key: `like-${handle}` });
    await run(LIKE, victimToken, { listingId: String(b) });
    await run(LIKE, victimToken, { listingId: String(d) });
    await run(LIKE, friendToken, { listingId: String(sold) });
    await run(LIKE, friendToken, { listingId: String(a) });
    await run(LIKE, friendToken, { listingId: String(b) });
    await run(COMMENT, victimToken, { listingId: String(c), body: `hello from ${handle}` });
    await run(FOLLOW, victimToken, { userId: friend });
    await run(FOLLOW, friendToken, { userId: victim });
    await run(HIDE, victimToken, { listingId: String(d) });
    await run(SIGNAL, victimToken, { listingId: String(c) });
    const feed = await run(FEED, victimToken);
    const impression = feed.suggestions.edges[0]!.node.impressionId;
    await run(FEEDBACK, victimToken, { impressionId: impression });
    await run(FEATURES, victimToken, { userId: victim });
    await run(REPORT, victimToken, { flagKey: 'erasure_flag', message: `broken for ${handle}` });
    await pool.query(
      `INSERT INTO flag_exposure_stats (flag_key, variant, requests, errors, latency_buckets, error_user_ids, error_user_counts)
       VALUES ('erasure_flag', 'on', 3, 2, '{}', ARRAY[$1, $2]::uuid[], '{1,1}')`,
      [victim, friend],
    );
    // The like, comment and follow events, applied as the worker would (popularity, co-engagement).
    const { rows: events } = await pool.query<{ id: string }>(
      `SELECT id::text FROM events_queue WHERE status = 'queued' AND run_after <= now()`,
    );
    await runUntilSettled(
      pool,
      'events',
      createEventHandler(),
      events.map((e) => e.id),
    );
    await gateway.services.features.settled();

    // Every store holds something about them before.
    const held = await tablesHolding(pool, victim);
    for (const table of [
      'profiles',
      'likes',
      'comments',
      'follows',
      'hidden_listings',
      'user_interests',
      'intent_signals',
      'learning_events',
      'idempotency_keys',
      'events_queue',
      'feed_viewer_candidates',
      'flag_problem_reports',
      'flag_exposure_stats',
      'marketplace_listings',
    ]) {
      expect(held, table).toHaveProperty(table);
    }
    const keys = await keysHolding(redis.redis, redis.prefix, victim);
    expect(keys.some((k) => k.startsWith('feat:'))).toBe(true);
    expect(keys.some((k) => k.startsWith('rl:'))).toBe(true);
    expect(keys.some((k) => k.startsWith('exp:'))).toBe(true);

    // The admin erases them (reason naming the handle); the token stops at once on this gateway.
    const erased = await postGraphQL(gateway, ERASE, {
      ...as(adminToken),
      variables: { userId: victim, reason: `ticket 42 from ${handle}` },
    });
    expect(erased.body.errors).toBeUndefined();
    expect(erased.body.data!.eraseUser.erasure).toMatchObject({
      status: 'QUEUED',
      requestedBy: 'ADMIN',
      created: true,
    });
    const refused = await postGraphQL(gateway, ME, as(victimToken));
    expect(refused.status).toBe(401);
    expect(firstCode(refused.body)).toBe('UNAUTHENTICATED');
    const again = await postGraphQL(gateway, ERASE, {
      ...as(adminToken),
      variables: { userId: victim, reason: 'twice' },
    });
    expect(again.body.errors, JSON.stringify(again.body.errors)).toBeUndefined();
    expect(again.body.data!.eraseUser.erasure).toMatchObject({
      id: erased.body.data!.eraseUser.erasure.id,
      created: false,
    });

    // The worker erases them, a few rows per batch, and says whose cached features went stale.
    const stale = { listings: new Set<number>(), users: new Set<string>() };
    const workers = await openWorkerConnections(testConfig(db, appEnv), silentLogger, 2);
    try {
      const outcome = await eraseNext(workers.pool, workers.redis, {
        invalidate: async (ids) => {
          for (const id of ids.listings ?? []) stale.listings.add(id);
          for (const id of ids.users ?? []) stale.users.add(id);
        },
        batch: 2,
        redisKeyPrefix: redis.prefix,
        coengagement: COENGAGEMENT_PARAMS,
      });
      expect(outcome).toMatchObject({ kind: 'done' });
    } finally {
      await workers.close();
    }

    // Their likes' and comment's listings, and their own listing (anonymised).
    const byId = (x: number, y: number) => x - y;
    expect([...stale.listings].sort(byId)).toEqual([a, b, c, d, sold].sort(byId));
    expect([...stale.users]).toEqual([friend]);
    // Nothing about them is left: no row of any table, no Redis key or value holds their id or handle.
    expect(await tablesHolding(pool, victim)).toEqual({});
    expect(await tablesHolding(pool, handle)).toEqual({});
    expect(await keysHolding(redis.redis, redis.prefix, victim)).toEqual([]);
    expect(await keysHolding(redis.redis, redis.prefix, handle)).toEqual([]);

    // What stays: the audit trail by a pseudonym, the request without the person, everyone else's data.
    const request = await postGraphQL(gateway, ERASURES, as(adminToken));
    const done = request.body.data!.ops.erasureRequests[0]!;
    expect(done).toMatchObject({ userId: null, status: 'DONE', step: 'done', attempts: 1 });
    expect(done.rowsDone).toEqual(
      expect.arrayContaining([
        { step: 'likes', rows: 3 },
        { step: 'comments', rows: 1 },
        { step: 'follows', rows: 2 },
        { step: 'listings', rows: 1 },
        { step: 'profile', rows: 1 },
      ]),
    );
    const audit = await pool.query<{ actor_id: string; args: { userId: string; reason: string } }>(
      `SELECT actor_id::text, args FROM ops_audit WHERE action = 'eraseUser' ORDER BY id`,
    );
    expect(audit.rows).toHaveLength(2);
    expect(audit.rows[0]!.actor_id).toBe(admin);
    expect(audit.rows[0]!.args.reason).toBe('ticket 42 from erased-user');
    expect(audit.rows[0]!.args.userId).toMatch(/^[0-9a-f-]{36}$/);
    expect(audit.rows[0]!.args.userId).not.toBe(victim);

    const after = await pool.query<{
      id: number;
      like_count: number;
      popularity: number;
      seller_id: string | null;
      status: string;
      title: string;
    }>(
      'SELECT id, like_count, popularity, seller_id, status, title FROM marketplace_listings WHERE id = ANY($1) ORDER BY id',
      [[a, b, c, d, sold]],
    );
    const by = new Map(after.rows.map((r) => [r.id, r]));
    const was = new Map(before.rows.map((r) => [r.id, r]));
    // Their likes are gone from the counters, their friend's stay; popularity gave back what it got.
    expect(by.get(a)!.like_count).toBe(was.get(a)!.like_count + 1);
    expect(by.get(b)!.like_count).toBe(was.get(b)!.like_count + 1);
    expect(by.get(d)!.like_count).toBe(was.get(d)!.like_count);
    expect(by.get(a)!.popularity).toBe(was.get(a)!.popularity + 1);
    expect(by.get(d)!.popularity).toBe(was.get(d)!.popularity);
    expect(by.get(c)!.popularity).toBe(was.get(c)!.popularity);
    // Their listing: out of feeds, without their text, no seller; the friend's like of it is theirs to keep.
    expect(by.get(sold)).toMatchObject({
      seller_id: null,
      status: 'removed',
      title: 'Removed listing',
      like_count: 1,
    });
    const friendRow = await pool.query<{ follower_count: number; following_count: number }>(
      'SELECT follower_count, following_count FROM profiles WHERE user_id = $1',
      [friend],
    );
    expect(friendRow.rows[0]).toEqual({ follower_count: 0, following_count: 0 });
    const stats = await pool.query<{ error_user_ids: string[]; error_user_counts: number[] }>(
      `SELECT error_user_ids::text[], error_user_counts FROM flag_exposure_stats WHERE flag_key = 'erasure_flag'`,
    );
    expect(stats.rows[0]).toEqual({ error_user_ids: [friend], error_user_counts: [1] });
  });

  it('deleteMyAccount needs the account’s own handle, then stops the token and queues the erasure', async ({
    db,
    appEnv,
    redis,
    gateway,
    tokens,
  }) => {
    const handle = `leaving_${Date.now().toString(36)}`;
    const userId = await insertProfile(pool, { handle });
    const token = await tokens.user(userId);
    const wrong = await postGraphQL(gateway, DELETE_ME, {
      token,
      variables: { confirmHandle: 'someone_else' },
    });
    expect(firstCode(wrong.body)).toBe('BAD_USER_INPUT');
    expect((await postGraphQL(gateway, ME, { token })).status).toBe(200);

    const asked = await postGraphQL(gateway, DELETE_ME, {
      token,
      variables: { confirmHandle: handle.toUpperCase() },
    });
    expect(asked.body.errors).toBeUndefined();
    expect(asked.body.data!.deleteMyAccount).toMatchObject({
      status: 'QUEUED',
      requestedBy: 'SELF',
      created: true,
    });
    expect((await postGraphQL(gateway, ME, { token })).status).toBe(401);
    await eraseAll(db, appEnv, redis.prefix);
    expect(await tablesHolding(pool, userId)).toEqual({});
  });

  it('only admins erase someone else or see the requests', async ({ gateway, tokens }) => {
    const someone = await insertProfile(pool);
    const other = await insertProfile(pool);
    const token = await tokens.user(other);
    const refused = await postGraphQL(gateway, ERASE, {
      token,
      variables: { userId: someone, reason: 'no' },
    });
    expect(firstCode(refused.body)).toBe('FORBIDDEN');
    const listed = await postGraphQL(gateway, ERASURES, { token });
    expect(firstCode(listed.body)).toBe('FORBIDDEN');
    const admin = await tokens.admin(await insertProfile(pool, { role: 'admin' }));
    const unknown = await postGraphQL(gateway, ERASE, {
      token: admin,
      variables: { userId: '00000000-0000-4000-8000-000000000000', reason: 'no such user' },
    });
    expect(firstCode(unknown.body)).toBe('NOT_FOUND');
    const malformed = await postGraphQL(gateway, ERASE, {
      token: admin,
      variables: { userId: 'bob', reason: 'x' },
    });
    expect(firstCode(malformed.body)).toBe('BAD_USER_INPUT');
  });

  /** Works every open erasure to the end, as the worker's loop does. */
  const eraseAll = async (db: TestDatabase, appEnv: Record<string, string>, prefix: string) => {
    const workers = await openWorkerConnections(testConfig(db, appEnv), silentLogger, 2);
    try {
      for (;;) {
        const outcome = await eraseNext(workers.pool, workers.redis, {
          redisKeyPrefix: prefix,
          coengagement: COENGAGEMENT_PARAMS,
        });
        if (outcome.kind === 'idle') return;
        expect(outcome).toMatchObject({ kind: 'done' });
      }
    } finally {
      await workers.close();
    }
  };

  /** Opens an erasure of `userId` as an admin would. */
  const requestAsAdmin = (userId: string) =>
    withTransaction(pool, async (client) => {
      await client.query(`SELECT set_config('lodestar.role', 'admin', true)`);
      await client.query('SELECT * FROM request_user_erasure($1)', [userId]);
    });

  it('takes the person’s likes out of co-engagement, leaving what a full rebuild would', async ({
    db,
    appEnv,
    redis,
  }) => {
    const ids: [number, number, number] = [
      await insertListing(pool, { categoryId: world.categoryIds[0]! }),
      await insertListing(pool, { categoryId: world.categoryIds[0]! }),
      await insertListing(pool, { categoryId: world.categoryIds[0]! }),
    ];
    const [leaving, second, third] = [
      await insertProfile(pool),
      await insertProfile(pool),
      await insertProfile(pool),
    ];
    // x and y are liked together by three people, y and z by two (the one leaving among them).
    for (const [user, listing] of [
      [leaving, ids[0]],
      [leaving, ids[1]],
      [leaving, ids[2]],
      [second, ids[0]],
      [second, ids[1]],
      [second, ids[2]],
      [third, ids[0]],
      [third, ids[1]],
    ] as const) {
      await pool.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [user, listing]);
    }
    await rebuildCoengagement(pool);
    const pairs = () =>
      pool
        .query<{ listing_id: number; neighbour_id: number; together: number }>(
          `SELECT listing_id, neighbour_id, together FROM listing_coengagement
            WHERE listing_id = ANY($1) ORDER BY 1, 2`,
          [ids],
        )
        .then((r) => r.rows);
    expect((await pairs()).find((p) => p.listing_id === ids[1] && p.neighbour_id === ids[2])?.together).toBe(
      2,
    );

    await requestAsAdmin(leaving);
    await eraseAll(db, appEnv, redis.prefix);
    // x–y now together twice; y–z below the support of 2, gone. Exactly what a rebuild from the likes says.
    expect(await pairs()).toEqual([
      { listing_id: ids[0], neighbour_id: ids[1], together: 2 },
      { listing_id: ids[1], neighbour_id: ids[0], together: 2 },
    ]);
    const scored = await pool.query(
      'SELECT listing_id, neighbour_id, together, score FROM listing_coengagement WHERE listing_id = ANY($1) ORDER BY 1, 2',
      [ids],
    );
    await rebuildCoengagement(pool);
    const rebuilt = await pool.query(
      'SELECT listing_id, neighbour_id, together, score FROM listing_coengagement WHERE listing_id = ANY($1) ORDER BY 1, 2',
      [ids],
    );
    expect(scored.rows).toEqual(rebuilt.rows);
  });

  it('waits for the person’s queued likes to be applied before reversing them', async ({
    db,
    appEnv,
    redis,
  }) => {
    const listing = await insertListing(pool, { categoryId: world.categoryIds[0]! });
    // Above zero, so a reversal of a like that was never counted would show (popularity is clamped at 0).
    await pool.query('UPDATE marketplace_listings SET popularity = 10 WHERE id = $1', [listing]);
    const userId = await insertProfile(pool);
    await pool.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [userId, listing]);
    const [eventId] = await enqueueEvents(pool, 'like.created', [{ userId, listingId: listing }]);
    const popularity = () =>
      pool
        .query<{ popularity: number }>('SELECT popularity FROM marketplace_listings WHERE id = $1', [listing])
        .then((r) => r.rows[0]!.popularity);
    const before = await popularity();
    await requestAsAdmin(userId);

    const workers = await openWorkerConnections(testConfig(db, appEnv), silentLogger, 2);
    try {
      const erasing = eraseNext(workers.pool, workers.redis, {
        redisKeyPrefix: redis.prefix,
        coengagement: COENGAGEMENT_PARAMS,
        drainPollMs: 20,
      });
      await waitUntil(
        async () =>
          (
            await pool.query<{ batches: number }>(
              'SELECT batches FROM erasure_requests ORDER BY id DESC LIMIT 1',
            )
          ).rows[0]!.batches >= 3,
        'the erasure to wait on the queued like',
      );
      const waiting = await pool.query<{ step: string }>(
        'SELECT step FROM erasure_requests ORDER BY id DESC LIMIT 1',
      );
      expect(waiting.rows[0]!.step).toBe('drain');
      // The like's event applies its point (+1); only then does the erasure take the like back (−1).
      await runUntilSettled(pool, 'events', createEventHandler(), [eventId!]);
      expect(await erasing).toMatchObject({ kind: 'done' });
    } finally {
      await workers.close();
    }
    // The like's point came and went: popularity is where it was before the person liked anything.
    expect(await popularity()).toBe(before);
  });

  it('a worker killed mid-erasure leaves the next one to finish it, every effect exactly once', async ({
    db,
    appEnv,
  }) => {
    const userId = await insertProfile(pool);
    // 2,000 listings of its own (no other test's likes move their counters), each liked by the person,
    // and 2,000 feed impressions.
    const { rows: made } = await pool.query<{ id: number }>(
      `INSERT INTO marketplace_listings (category_id, title, price, popularity)
       SELECT $1, 'Listing ' || g, 10, 10 FROM generate_series(1, 2000) g RETURNING id`,
      [world.categoryIds[1]],
    );
    const liked = made.map((r) => r.id);
    await pool.query(
      `INSERT INTO likes (user_id, listing_id, created_at)
       SELECT $1, id, now() - (id || ' seconds')::interval FROM unnest($2::int[]) AS id`,
      [userId, liked],
    );
    await pool.query(
      `INSERT INTO learning_events (id, user_id, listing_id, policy, source, propensity, position, created_at)
       SELECT gen_random_uuid(), $1, $2, 'epsilon_greedy', 'SIMILAR', 0.9, g % 20, now() - (g || ' seconds')::interval
       FROM generate_series(1, 2000) g`,
      [userId, liked[0]],
    );
    const counters = () =>
      pool
        .query<{ like_count: number; popularity: number; n: number }>(
          `SELECT like_count, popularity, count(*)::int AS n FROM marketplace_listings WHERE id = ANY($1)
            GROUP BY 1, 2 ORDER BY 1, 2`,
          [liked],
        )
        .then((r) => r.rows);
    expect(await counters()).toEqual([{ like_count: 1, popularity: 10, n: 2000 }]);
    await requestAsAdmin(userId);
    const requestRow = () =>
      pool
        .query<{
          status: string;
          step: string;
          batches: number;
          attempts: number;
          rows_done: Record<string, number>;
        }>(`SELECT status, step, batches, attempts, rows_done FROM erasure_requests ORDER BY id DESC LIMIT 1`)
        .then((r) => r.rows[0]!);

    const env = {
      ...appEnv,
      DATABASE_URL: db.url,
      JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
      WORKER_MAINTENANCE: 'false',
      WORKER_POLL_MS: '50',
      WORKER_LEASE_MS: '1500',
      WORKER_ERASURE_BATCH: '20',
      // The settling wait before an erasure starts is the role cache plus a statement.
      AUTH_ROLE_CACHE_MS: '0',
      STATEMENT_TIMEOUT_MS: '1000',
    };
    const first = startWorkerProcess(env);
    await waitForWorkerLog(first, 'Lodestar worker is running');
    // Killed in the middle of the likes, whose reversal moves other rows' counters.
    await waitUntil(
      async () => ((await requestRow()).rows_done.likes ?? 0) >= 200,
      'the erasure to be among the likes',
      30_000,
      5,
    );
    first.child.kill('SIGKILL');
    await first.exit;
    const killed = await requestRow();
    expect(killed.status).toBe('running');
    expect(killed.step).toBe('likes');
    expect(killed.rows_done.likes).toBeLessThan(2000);

    const second = startWorkerProcess(env);
    await waitUntil(async () => (await requestRow()).status === 'done', 'the erasure to finish', 60_000, 50);
    second.child.kill('SIGTERM');
    await second.exit;

    const finished = await requestRow();
    expect(second.output()).not.toContain('erasure batch failed');
    expect(finished.attempts, second.output()).toBe(2);
    expect(finished.rows_done.learning_events).toBe(2000);
    expect(finished.rows_done.likes).toBe(2000);
    expect(await tablesHolding(pool, userId)).toEqual({});
    // Every like was taken back once: no counter moved twice, none was missed.
    expect(await counters()).toEqual([{ like_count: 0, popularity: 9, n: 2000 }]);
  });

  it('with Redis away the erasure stops before its last step, and finishes once Redis is back', async ({
    db,
    appEnv,
    redis,
  }) => {
    const userId = await insertProfile(pool);
    await redis.redis.set(userFeatureKind.keyOf(userId), '{"exp":0,"d":0,"f":{}}');
    await requestAsAdmin(userId);
    const options = { redisKeyPrefix: redis.prefix, coengagement: COENGAGEMENT_PARAMS, retryMs: 0 };
    const workers = await openWorkerConnections(testConfig(db, appEnv), silentLogger, 2);
    try {
      workers.redis!.disconnect();
      const failed = await eraseNext(workers.pool, workers.redis, options);
      expect(failed).toMatchObject({ kind: 'failed' });
      const row = await pool.query<{ status: string; step: string; last_error: string; user_id: string }>(
        'SELECT status, step, last_error, user_id::text FROM erasure_requests ORDER BY id DESC LIMIT 1',
      );
      expect(row.rows[0]).toMatchObject({ status: 'running', step: 'redis', user_id: userId });
      expect(row.rows[0]!.last_error).toMatch(/Redis is not connected/);
      expect(await tablesHolding(pool, userId)).toEqual({ erasure_requests: 1 });
    } finally {
      await workers.close();
    }
    await eraseAll(db, appEnv, redis.prefix);
    expect(await redis.redis.get(userFeatureKind.keyOf(userId))).toBeNull();
    expect(await tablesHolding(pool, userId)).toEqual({});
  });

  it('erases an admin whose handle is a JSON word: their audit rows keep their shape, under a pseudonym', async ({
    db,
    appEnv,
    redis,
    gateway,
    tokens,
  }) => {
    const userId = await insertProfile(pool, { handle: 'true', role: 'admin' });
    const token = await tokens.admin(userId);
    const call = async <T>(op: Operation<T>, variables: Record<string, unknown>) => {
      const result = await postGraphQL(gateway, op, { token, variables });
      expect(result.body.errors, JSON.stringify(result.body.errors)).toBeUndefined();
    };
    await call(SAVE_FLAG, { key: 'erasure_admin_flag' });
    await call(SET_ROLLOUT, { key: 'erasure_admin_flag', pct: 5, reason: 'True story: it is true' });
    await call(DELETE_ME, { confirmHandle: 'true' });
    await eraseAll(db, appEnv, redis.prefix);

    expect(await tablesHolding(pool, userId)).toEqual({});
    const audit = await pool.query<{ action: string; actor_id: string; args: Record<string, unknown> }>(
      `SELECT action, actor_id::text, args FROM ops_audit WHERE args ->> 'key' = 'erasure_admin_flag' ORDER BY id`,
    );
    const pseudonym = audit.rows[0]!.actor_id;
    expect(pseudonym).not.toBe(userId);
    expect(audit.rows.map((r) => [r.action, r.actor_id])).toEqual([
      ['saveFlag', pseudonym],
      ['setRollout', pseudonym],
    ]);
    // Only string values changed: booleans and numbers are still booleans and numbers.
    expect(audit.rows[1]!.args).toEqual({
      key: 'erasure_admin_flag',
      rolloutPct: 5,
      reason: 'erased-user story: it is erased-user',
    });
    const history = await pool.query<{ actor: string; reason: string }>(
      `SELECT actor, reason FROM feature_flag_history WHERE flag_key = 'erasure_admin_flag' ORDER BY id`,
    );
    expect(history.rows.at(-1)).toEqual({
      actor: expect.stringContaining(pseudonym) as string,
      reason: 'erased-user story: it is erased-user',
    });
  });
});
