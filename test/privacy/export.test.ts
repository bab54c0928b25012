import http from 'node:http';
import { describe, expect } from 'vitest';
import { userFeatureKind } from '../../src/features/featureKinds.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { sparePort } from '../support/ownPostgres.js';
import {
  embeddingFor,
  insertCategory,
  insertInterest,
  insertListing,
  insertProfile,
  toVectorLiteral,
  type Queryable,
} from '../support/fixtures.js';
import { parseJson, type GraphQLBody } from '../support/http.js';
import { test } from '../support/testFixtures.js';

/**
 * Issue #19 item 1: GET /privacy/export hands a person everything Lodestar holds about them as NDJSON,
 * streamed; an admin may export someone else's (audited). Over HTTP through the real app, on the real
 * Postgres and Redis.
 */

const EXPORTS_PER_HOUR = 2;

test.override('env', { RATE_LIMIT_EXPORTS_PER_HOUR: String(EXPORTS_PER_HOUR) });

type Line = Record<string, unknown> & { type: string };

interface ExportResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  raw: string;
  lines: Line[];
  /** Records by type, in order. */
  of: (type: string) => Line[];
  /** The body as a GraphQL-shaped error (for refusals). */
  error: () => { code: string | undefined; message: string | undefined };
}

async function exportAs(
  gateway: Pick<TestGateway, 'app'>,
  token: string | null,
  query = '',
): Promise<ExportResponse> {
  const response = await gateway.app.inject({
    method: 'GET',
    url: `/privacy/export${query}`,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  const lines =
    response.statusCode === 200
      ? response.body
          .split('\n')
          .filter((l) => l.length > 0)
          .map((l) => parseJson<Line>(l))
      : [];
  return {
    status: response.statusCode,
    headers: response.headers,
    raw: response.body,
    lines,
    of: (type) => lines.filter((l) => l.type === type),
    error: () => {
      const body = parseJson<GraphQLBody<unknown>>(response.body);
      return { code: body.errors?.[0]?.extensions?.code, message: body.errors?.[0]?.message };
    },
  };
}

/** Everything but the type, for comparing records. */
const fields = ({ type: _type, ...rest }: Line) => rest;

interface World {
  alice: string;
  bob: string;
  carol: string;
  admin: string;
  listings: number[];
  aliceListings: { active: number; removed: number };
  interests: { strong: number; decayed: number };
  flagKey: string;
  experimentKey: string;
  impressions: { rewarded: string; plain: string };
}

/**
 * alice has something in every section; bob has his own rows in the same tables (none may reach alice's
 * export), carol follows alice and alice follows bob.
 */
async function seedWorld(q: Queryable): Promise<World> {
  const categoryId = await insertCategory(q);
  const strong = await insertInterest(q, { categoryId });
  const decayed = await insertInterest(q, { categoryId });
  const alice = await insertProfile(q, { handle: 'alice_export', displayName: 'Alice' });
  const bob = await insertProfile(q, { handle: 'bob_export', displayName: 'Bob' });
  const carol = await insertProfile(q, { handle: 'carol_export', displayName: 'Carol' });
  const admin = await insertProfile(q, { handle: 'admin_export', role: 'admin' });
  await q.query(
    `UPDATE profiles SET embedding = $2::vector, embedding_updated_at = '2026-12-01T10:00:00.123456Z',
            source = 'crm', external_id = 'alice-1' WHERE user_id = $1`,
    [alice, toVectorLiteral(embeddingFor(7))],
  );
  const listings: number[] = [];
  for (let i = 0; i < 4; i += 1) listings.push(await insertListing(q, { categoryId, sellerId: carol }));
  const [l1, l2, l3, l4] = listings as [number, number, number, number];
  const aliceListings = {
    active: await insertListing(q, { categoryId, sellerId: alice, title: 'Alice sells a lamp' }),
    removed: await insertListing(q, { categoryId, sellerId: alice, title: 'Removed', status: 'removed' }),
  };
  await q.query(
    `INSERT INTO user_interests (user_id, interest_id, affinity, reinforced_at, decayed_at, created_at)
     VALUES ($1, $2, 0.75, '2026-11-20T08:00:00.000001Z', NULL, '2026-11-01T00:00:00Z'),
            ($1, $3, 0.25, '2026-11-02T08:00:00Z', '2026-11-30T00:00:00Z', '2026-11-01T00:00:00Z'),
            ($4, $2, 0.5, now(), NULL, now())`,
    [alice, strong, decayed, bob],
  );
  await q.query(
    `INSERT INTO likes (user_id, listing_id, created_at)
     VALUES ($1, $2, '2026-12-01T09:00:00.000001Z'), ($1, $3, '2026-12-01T09:00:00.000002Z'), ($4, $2, now())`,
    [alice, l1, l2, bob],
  );
  await q.query(
    `INSERT INTO comments (listing_id, user_id, body, created_at, deleted_at)
     VALUES ($2, $1, 'lovely', '2026-12-01T09:30:00Z', NULL), ($3, $1, 'never mind', '2026-12-01T09:31:00Z', '2026-12-02T00:00:00Z'),
            ($2, $4, 'bob says', now(), NULL)`,
    [alice, l1, l2, bob],
  );
  await q.query(
    `INSERT INTO follows (follower_id, followee_id, created_at)
     VALUES ($1, $2, '2026-12-01T11:00:00Z'), ($3, $1, '2026-12-01T12:00:00Z'), ($2, $3, now())`,
    [alice, bob, carol],
  );
  await q.query(`INSERT INTO hidden_listings (user_id, listing_id) VALUES ($1, $2), ($3, $4)`, [
    alice,
    l3,
    bob,
    l4,
  ]);
  await q.query(
    `INSERT INTO intent_signals (user_id, kind, listing_id, query, weight, created_at)
     VALUES ($1, 'view', $2, NULL, 1, now() - interval '2 hours'), ($1, 'search', NULL, 'red lamp', 0.5, now() - interval '1 hour'),
            ($3, 'view', $2, NULL, 1, now())`,
    [alice, l4, bob],
  );
  const { rows: events } = await q.query<{ id: string }>(
    `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, reward, rewarded_at, context, created_at)
     VALUES ($1, $2, 'thompson', 'SIMILAR', 0.25, 3, 1, now() - interval '50 minutes', '{"session":"s-1"}', now() - interval '1 hour'),
            ($1, $3, 'epsilon_greedy', 'EXPLORE', 0.5, 0, NULL, NULL, '{}', now() - interval '30 minutes'),
            ($4, $2, 'thompson', 'POPULAR', 0.5, 1, NULL, NULL, '{}', now())
     RETURNING id`,
    [alice, l1, l2, bob],
  );
  await q.query(
    `INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response)
     VALUES ($1, 'key-a', 'likeListing', 'hash-a', '{"liked":true}'), ($2, 'key-b', 'likeListing', 'hash-b', '{}')`,
    [alice, bob],
  );
  const flagKey = 'export.flag';
  await q.query(`INSERT INTO feature_flags (key, rollout_pct, state) VALUES ($1, 50, 'rolling')`, [flagKey]);
  await q.query(
    `INSERT INTO flag_problem_reports (flag_key, user_id, variant, message)
     VALUES ($1, $2, 'on', 'the button is gone'), ($1, $3, 'off', 'bob too')`,
    [flagKey, alice, bob],
  );
  await q.query(
    `INSERT INTO feed_viewer_candidates (user_id, listing_ids, scores, sources)
     VALUES ($1, $2, '{0.9,0.4}', '{1,3}'), ($3, $2, '{0.1,0.2}', '{2,2}')`,
    [alice, [l4, l3], bob],
  );
  const experimentKey = 'export-exp';
  await q.query(
    `INSERT INTO experiments (key, arms, active) VALUES ($1, '[{"name":"a","weight":1},{"name":"b","weight":1}]', true),
                                                        ('export-other', '[{"name":"x","weight":1}]', false)`,
    [experimentKey],
  );
  return {
    alice,
    bob,
    carol,
    admin,
    listings,
    aliceListings,
    interests: { strong, decayed },
    flagKey,
    experimentKey,
    impressions: { rewarded: events[0]!.id, plain: events[1]!.id },
  };
}

/** The hourly export window must not roll over between spending a budget and being refused. */
async function awayFromHourEdge(): Promise<void> {
  const left = 3_600_000 - (Date.now() % 3_600_000);
  if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe('GET /privacy/export', () => {
  let world: World;

  test.beforeAll(async ({ db, gateway, redis }) => {
    world = await seedWorld(db.pool);
    // What the feature cache holds for alice: computed and written back by the gateway's own store.
    await gateway.services.features.load(userFeatureKind, [world.alice]);
    await gateway.services.features.settled();
    await redis.redis.set(`exp:v1:${world.experimentKey}:${world.alice}`, 'b', 'EX', 3600);
    await redis.redis.set(`exp:v1:${world.experimentKey}:${world.bob}`, 'a', 'EX', 3600);
  });

  test('a person downloads every section of their own data, with its values and nothing of anyone else', async ({
    gateway,
    tokens,
  }) => {
    const { alice, bob, carol, listings, aliceListings, interests } = world;
    const [l1, l2, l3, l4] = listings as [number, number, number, number];
    const res = await exportAs(gateway, await tokens.user(alice));

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="lodestar-export-${alice}.ndjson"`);
    expect(res.headers['cache-control']).toBe('private, no-store');

    const first = res.lines[0]!;
    expect(first).toMatchObject({ type: 'export', version: 1, userId: alice });
    expect(Date.parse(String(first.generatedAt))).toBeGreaterThan(Date.now() - 60_000);

    const [profile] = res.of('profile');
    expect(fields(profile!)).toMatchObject({
      userId: alice,
      handle: 'alice_export',
      displayName: 'Alice',
      role: 'user',
      followerCount: 1,
      followingCount: 1,
      embeddingUpdatedAt: '2026-12-01T10:00:00.123456Z',
      source: 'crm',
      externalId: 'alice-1',
    });
    // float4 values, written in their shortest exact form.
    expect((profile!.embedding as number[]).map((v) => Math.fround(v))).toEqual(embeddingFor(7));

    expect(res.of('interest').map(fields)).toEqual([
      expect.objectContaining({
        interestId: interests.strong,
        affinity: 0.75,
        reinforcedAt: '2026-11-20T08:00:00.000001Z',
        decayedAt: null,
        createdAt: '2026-11-01T00:00:00.000Z',
      }),
      expect.objectContaining({
        interestId: interests.decayed,
        affinity: 0.25,
        decayedAt: '2026-11-30T00:00:00.000Z',
      }),
    ]);
    expect(res.of('interest')[0]).toHaveProperty('slug');
    expect(res.of('like').map(fields)).toEqual([
      { listingId: l1, createdAt: '2026-12-01T09:00:00.000001Z' },
      { listingId: l2, createdAt: '2026-12-01T09:00:00.000002Z' },
    ]);
    expect(res.of('comment').map(fields)).toEqual([
      expect.objectContaining({ listingId: l1, body: 'lovely', deletedAt: null }),
      expect.objectContaining({ listingId: l2, body: 'never mind', deletedAt: '2026-12-02T00:00:00.000Z' }),
    ]);
    expect(res.of('following').map(fields)).toEqual([
      { userId: bob, handle: 'bob_export', createdAt: '2026-12-01T11:00:00.000Z' },
    ]);
    expect(res.of('follower').map(fields)).toEqual([
      { userId: carol, handle: 'carol_export', createdAt: '2026-12-01T12:00:00.000Z' },
    ]);
    // Removed listings stay visible to their seller.
    expect(res.of('listing').map((l) => [l.id, l.title, l.status, l.price])).toEqual([
      [aliceListings.active, 'Alice sells a lamp', 'active', '10.00'],
      [aliceListings.removed, 'Removed', 'removed', '10.00'],
    ]);
    expect(res.of('hiddenListing').map((h) => h.listingId)).toEqual([l3]);
    expect(res.of('signal').map((s) => [s.kind, s.listingId, s.query, s.weight])).toEqual([
      ['view', l4, null, 1],
      ['search', null, 'red lamp', 0.5],
    ]);
    expect(res.of('feedImpression').map(fields)).toEqual([
      expect.objectContaining({
        impressionId: world.impressions.rewarded,
        listingId: l1,
        policy: 'thompson',
        source: 'SIMILAR',
        propensity: 0.25,
        position: 3,
        reward: 1,
        context: { session: 's-1' },
      }),
      expect.objectContaining({
        impressionId: world.impressions.plain,
        listingId: l2,
        reward: null,
        rewardedAt: null,
      }),
    ]);
    expect(res.of('idempotencyKey').map(fields)).toEqual([
      expect.objectContaining({
        key: 'key-a',
        operation: 'likeListing',
        requestHash: 'hash-a',
        response: { liked: true },
      }),
    ]);
    expect(res.of('problemReport').map(fields)).toEqual([
      expect.objectContaining({ flagKey: world.flagKey, variant: 'on', message: 'the button is gone' }),
    ]);
    expect(res.of('feedCandidates').map(fields)).toEqual([
      expect.objectContaining({
        candidates: [
          { listingId: l4, score: 0.9, viaEmbedding: true, viaInterest: false },
          { listingId: l3, score: 0.4, viaEmbedding: true, viaInterest: true },
        ],
      }),
    ]);
    const [cached] = res.of('cachedFeatures');
    expect(cached!.features).toMatchObject({ userId: alice, interestCount: 2, likesGiven: 2, followers: 1 });
    expect(Date.parse(String(cached!.expiresAt))).toBeGreaterThan(Date.now());
    expect(res.of('experimentArm').map((a) => [a.experiment, a.active, a.arm])).toEqual([
      ['export-exp', true, 'b'],
      ['export-other', false, null],
    ]);
    expect(res.of('rateLimit').map((r) => r.action)).toEqual(
      expect.arrayContaining(['like', 'comment', 'follow']),
    );

    const end = res.lines.at(-1)!;
    expect(end).toEqual({
      type: 'end',
      counts: {
        profile: 1,
        interest: 2,
        like: 2,
        comment: 2,
        following: 1,
        follower: 1,
        listing: 2,
        hiddenListing: 1,
        signal: 2,
        feedImpression: 2,
        idempotencyKey: 1,
        problemReport: 1,
        feedCandidates: 1,
        cachedFeatures: 1,
        experimentArm: 2,
        rateLimit: res.of('rateLimit').length,
      },
      unavailable: [],
    });
    // One line per record between the header and the end line.
    const records = Object.values(end.counts as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(res.lines).toHaveLength(records + 2);
    // Nothing of bob's own rows: his key, his report, his comment, his query, his impression.
    for (const leak of ['key-b', 'hash-b', 'bob too', 'bob says']) expect(res.raw).not.toContain(leak);
  });

  test('without a token the export is 401 UNAUTHENTICATED', async ({ gateway }) => {
    const res = await exportAs(gateway, null);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.error().code).toBe('UNAUTHENTICATED');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  test("a person asking for someone else's data is 403 FORBIDDEN; a service token too; a bad id is 400", async ({
    gateway,
    tokens,
  }) => {
    const token = await tokens.user(world.bob);
    const other = await exportAs(gateway, token, `?userId=${world.alice}`);
    expect([other.status, other.error().code]).toEqual([403, 'FORBIDDEN']);
    expect(other.raw).not.toContain('alice_export');

    const service = await exportAs(gateway, await tokens.service(), `?userId=${world.alice}`);
    expect([service.status, service.error().code]).toEqual([403, 'FORBIDDEN']);

    const bad = await exportAs(gateway, token, '?userId=not-a-uuid');
    expect([bad.status, bad.error().code]).toEqual([400, 'BAD_USER_INPUT']);
  });

  test("an admin exports another person's data and the export is recorded in ops_audit", async ({
    db,
    gateway,
    tokens,
  }) => {
    const token = await tokens.admin(world.admin);
    const res = await exportAs(gateway, token, `?userId=${world.alice}`);
    expect(res.status).toBe(200);
    expect(res.lines[0]).toMatchObject({ type: 'export', userId: world.alice });
    // What the person sees of themselves (the rows only they may read included).
    expect(res.of('like')).toHaveLength(2);
    expect(res.of('idempotencyKey').map((k) => k.key)).toEqual(['key-a']);
    expect(res.of('feedImpression')).toHaveLength(2);
    expect(res.of('feedCandidates')).toHaveLength(1);
    const end = res.lines.at(-1)!;
    expect(end.type).toBe('end');

    const { rows } = await db.pool.query<{
      actor_id: string;
      actor_role: string;
      args: unknown;
      result: { counts: unknown };
      ok: boolean;
    }>(
      `SELECT actor_id, actor_role, args, result, ok FROM ops_audit
        WHERE action = 'exportUserDataEnd' AND args->>'userId' = $1`,
      [world.alice],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_id: world.admin,
      actor_role: 'admin',
      args: { userId: world.alice },
      ok: true,
    });
    expect(rows[0]!.result.counts).toEqual(end.counts);
    // The grant was recorded before the first byte, and the end row points at it.
    const start = await db.pool.query<{ id: string; result: unknown }>(
      `SELECT id::text, result FROM ops_audit WHERE action = 'exportUserData' AND args->>'userId' = $1`,
      [world.alice],
    );
    expect(start.rows).toEqual([{ id: (rows[0]!.args as { auditId: string }).auditId, result: null }]);

    const unknown = await exportAs(gateway, token, '?userId=00000000-0000-4000-8000-000000000001');
    expect([unknown.status, unknown.error().code]).toEqual([404, 'NOT_FOUND']);
  });

  test('exports past the hourly budget are 429 RATE_LIMITED with Retry-After', async ({
    db,
    gateway,
    tokens,
  }) => {
    await awayFromHourEdge();
    const person = await insertProfile(db.pool);
    const token = await tokens.user(person);
    const statuses: number[] = [];
    for (let i = 0; i < EXPORTS_PER_HOUR; i += 1) statuses.push((await exportAs(gateway, token)).status);
    const refused = await exportAs(gateway, token);
    expect([...statuses, refused.status]).toEqual([200, 200, 429]);
    expect(refused.error().code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3600);
  });

  test('a person with thousands of likes gets every one of them, in a chunked response', async ({
    db,
    gateway,
    tokens,
  }) => {
    const likes = 2500;
    const person = await insertProfile(db.pool);
    const categoryId = await insertCategory(db.pool);
    // The first 1200 in one microsecond (past a page boundary: the keyset's tie-break must neither skip
    // nor repeat), the rest a microsecond apart.
    await db.pool.query(
      `WITH made AS (
         INSERT INTO marketplace_listings (category_id, title, price)
         SELECT $2, 'bulk ' || i, 1 FROM generate_series(1, $3::int) AS i RETURNING id)
       INSERT INTO likes (user_id, listing_id, created_at)
       SELECT $1, id, '2026-11-01T00:00:00Z'::timestamptz
                      + CASE WHEN row_number() OVER (ORDER BY id) <= 1200 THEN interval '0'
                             ELSE id * interval '1 microsecond' END
       FROM made`,
      [person, categoryId, likes],
    );
    const res = await exportAs(gateway, await tokens.user(person));
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBe('chunked');
    const liked = res.of('like').map((l) => l.listingId);
    expect(liked).toHaveLength(likes);
    expect(new Set(liked).size).toBe(likes);
    expect(res.lines.at(-1)).toMatchObject({ type: 'end', counts: { like: likes } });
  });

  test('an admin export its client abandons stops reading and is audited as unfinished', async ({
    db,
    gateway,
    tokens,
  }) => {
    const likes = 5000;
    const person = await insertProfile(db.pool);
    const categoryId = await insertCategory(db.pool);
    await db.pool.query(
      `WITH made AS (
         INSERT INTO marketplace_listings (category_id, title, price)
         SELECT $2, 'bulk ' || i, 1 FROM generate_series(1, $3::int) AS i RETURNING id)
       INSERT INTO likes (user_id, listing_id) SELECT $1, id FROM made`,
      [person, categoryId, likes],
    );
    const address = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    const token = await tokens.admin(world.admin);
    // A real socket, closed as soon as the first bytes arrive.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const request = http.get(
        `${address}/privacy/export?userId=${person}`,
        { headers: { authorization: `Bearer ${token}` } },
        (response) => {
          response.once('data', () => {
            request.destroy();
            resolve(response.statusCode);
          });
        },
      );
      request.on('error', (error) => {
        if (!request.destroyed) reject(error);
      });
    });
    expect(status).toBe(200);
    let rows: { ok: boolean; error: string | null; result: { counts: { like?: number } } }[] = [];
    for (let i = 0; i < 100 && rows.length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ({ rows } = await db.pool.query(
        `SELECT ok, error, result FROM ops_audit WHERE action = 'exportUserDataEnd' AND args->>'userId' = $1`,
        [person],
      ));
    }
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ ok: false, error: 'the client closed the connection' });
    // Pages are read as the client takes them: the abandoned export did not read on to the end.
    expect(rows[0]!.result.counts.like ?? 0).toBeLessThan(likes);
  });

  test('with Redis down the export completes and says which sections are unavailable', async ({
    db,
    appEnv,
    tokens,
  }) => {
    const gateway = await createTestGateway(db, {
      ...appEnv,
      REDIS_URL: `redis://127.0.0.1:${await sparePort()}`,
    });
    try {
      const res = await exportAs(gateway, await tokens.user(world.carol));
      expect(res.status).toBe(200);
      expect(res.of('unavailable').map((u) => u.section)).toEqual(['cachedFeatures', 'experimentArm']);
      expect(res.of('following').map((f) => f.userId)).toEqual([world.alice]);
      const end = res.lines.at(-1)!;
      expect(end).toMatchObject({ type: 'end', unavailable: ['cachedFeatures', 'experimentArm'] });
      expect(end.counts).not.toHaveProperty('cachedFeatures');
      expect(end.counts).toHaveProperty('rateLimit');
    } finally {
      await gateway.close();
    }
  });

  test('a failure after the headers ends the export with an error line instead of an end line', async ({
    db,
    gateway,
    tokens,
  }) => {
    const person = await insertProfile(db.pool);
    await db.pool.query(`INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)`, [
      person,
      world.listings[0],
    ]);
    // The impressions' reader fails (as a lost grant or a dropped connection would) mid-export.
    await db.pool.query(
      'REVOKE EXECUTE ON FUNCTION export_learning_events(uuid, timestamptz, uuid, integer) FROM lodestar_app',
    );
    let res: ExportResponse;
    try {
      res = await exportAs(gateway, await tokens.user(person));
    } finally {
      await db.pool.query(
        'GRANT EXECUTE ON FUNCTION export_learning_events(uuid, timestamptz, uuid, integer) TO lodestar_app',
      );
    }
    expect(res.status).toBe(200);
    expect(res.of('like')).toHaveLength(1);
    expect(res.of('end')).toEqual([]);
    const last = res.lines.at(-1)!;
    expect(last.type).toBe('error');
    expect(typeof last.requestId).toBe('string');
    expect(String(last.message)).toMatch(/^the export stopped before its end/);
    expect(String(last.message)).not.toContain('permission denied');
  });

  test('an account being erased is not exported, not even by an admin', async ({ db, gateway, tokens }) => {
    const person = await insertProfile(db.pool);
    await db.pool.query(
      `INSERT INTO erasure_requests (user_id, handle, requested_by) VALUES ($1, 'x', 'self')`,
      [person],
    );
    const res = await exportAs(gateway, await tokens.admin(world.admin), `?userId=${person}`);
    expect([res.status, res.error().code]).toEqual([404, 'NOT_FOUND']);
    const audited = await db.pool.query(`SELECT 1 FROM ops_audit WHERE args->>'userId' = $1`, [person]);
    expect(audited.rowCount).toBe(0);
    // Their own token already stops at the role check.
    expect((await exportAs(gateway, await tokens.user(person))).status).toBe(401);
  });
});
