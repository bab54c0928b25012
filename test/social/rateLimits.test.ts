import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { UserViewer } from '../../src/auth/viewer.js';
import type { TestDatabase } from '../support/db.js';
import type { InProcess, TestGateway } from '../support/gateway.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { metricValue, postGraphQL } from '../support/http.js';
import {
  hasLike,
  insertUsers,
  openTransactions,
  LIKE,
  RATE_LIMITS,
  seedSocialWorld,
  UNLIKE,
  type SocialWorld,
} from '../support/socialWorld.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';
import { it, test, type FileEnv, type PrefixedRedis } from '../support/testFixtures.js';

const LIMIT = 3;
const WINDOW_MS = 60_000;

test.override('env', {
  RATE_LIMIT_LIKES_PER_MIN: String(LIMIT),
  // A busy CI Redis must not push a consume past the 100 ms default into the per-instance insurance.
  REDIS_COMMAND_TIMEOUT_MS: '1000',
});

describe('per-user rate limits on likes', () => {
  let db: TestDatabase;
  let world: SocialWorld;
  let redis: PrefixedRedis;
  /** Another gateway instance on the file's database and Redis, `overrides` on top; closed with the file. */
  let harness: (overrides?: FileEnv) => InProcess;
  let gateway: TestGateway;

  const like = (h: InProcess, viewer: UserViewer, listingIndex: number) =>
    h.execute(LIKE, { viewer, variables: { listingId: String(world.listingIds[listingIndex]) } });
  const likeBudget = async (h: InProcess, viewer: UserViewer) => {
    const limits = dataOf(await h.execute(RATE_LIMITS, { viewer })).me?.rateLimits ?? [];
    const budget = limits.find((l) => l.action === 'LIKE');
    if (!budget) throw new Error(`no LIKE budget in ${JSON.stringify(limits)}`);
    return { ...budget, resetInMs: Date.parse(budget.resetAt) - Date.now() };
  };
  const rateLimitedCount = async (h: Pick<InProcess, 'metrics'>) =>
    metricValue(await h.metrics.registry.metrics(), 'lodestar_rate_limited_total', { action: 'like' });

  test.beforeAll(async ({ db: fileDb, redis: fileRedis, inProcessWith, gateway: fileGateway }) => {
    db = fileDb;
    redis = fileRedis;
    harness = inProcessWith;
    gateway = fileGateway;
    world = await seedSocialWorld(db.pool, LIMIT + 2);
  });

  beforeEach(async () => {
    await redis.flush();
    await awayFromWindowEdge();
  });

  afterEach(async () => {
    // Every write committed or rolled back: no connection is left holding a transaction (and its locks).
    expect(await openTransactions(db.pool, db.name)).toBe(0);
  });

  it('the like after the limit is RATE_LIMITED with retryAfterMs, writes nothing and is counted', async () => {
    const h = harness();
    const [viewer, other] = await insertUsers(db.pool, 2);
    for (let i = 0; i < LIMIT; i += 1) dataOf(await like(h, viewer!, i));
    const { message, extensions } = expectErrorCode(await like(h, viewer!, LIMIT), 'RATE_LIMITED');
    const retryAfterMs = extensions.retryAfterMs as number;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(WINDOW_MS);
    expect(extensions.action).toBe('like');
    expect(message).toBe(`too many likes; retry in ${Math.ceil(retryAfterMs / 1000)} s`);
    expect(await hasLike(db.pool, viewer!.userId, world.listingIds[LIMIT]!)).toBe(false);
    // Unlike spends the same budget.
    const unlike = await h.execute(UNLIKE, { viewer, variables: { listingId: String(world.listingIds[0]) } });
    expectErrorCode(unlike, 'RATE_LIMITED');
    expect(await hasLike(db.pool, viewer!.userId, world.listingIds[0]!)).toBe(true);
    expect(await rateLimitedCount(h)).toBe(2);
    // The budget is the user's own.
    expect(dataOf(await like(h, other!, LIMIT)).likeListing.changed).toBe(true);
  });

  it('me.rateLimits shows the like budget going down and the other budgets untouched', async () => {
    const h = harness();
    const viewer = (await insertUsers(db.pool, 1))[0]!;
    expect(await likeBudget(h, viewer)).toMatchObject({ limit: LIMIT, remaining: LIMIT });
    const seen: number[] = [];
    for (let i = 0; i < LIMIT; i += 1) {
      dataOf(await like(h, viewer, i));
      const budget = await likeBudget(h, viewer);
      seen.push(budget.remaining);
      expect(budget.resetInMs).toBeGreaterThan(0);
      expect(budget.resetInMs).toBeLessThanOrEqual(WINDOW_MS);
    }
    expect(seen).toEqual([2, 1, 0]);
    const all = dataOf(await h.execute(RATE_LIMITS, { viewer })).me!.rateLimits;
    expect(all.map((l) => [l.action, l.limit, l.remaining])).toEqual([
      ['LIKE', LIMIT, 0],
      ['COMMENT', 10, 10],
      ['FOLLOW', 60, 60],
      ['INTEREST', 60, 60],
      ['SIGNAL', 600, 600],
      ['HIDE', 60, 60],
      ['FEEDBACK', 300, 300],
    ]);
  });

  it('over HTTP a refusal is 429 with a Retry-After header in whole seconds, counted in /metrics', async () => {
    const viewer = (await insertUsers(db.pool, 1))[0]!;
    const token = await gateway.token({ sub: viewer.userId, role: 'user' });
    const post = (i: number) =>
      postGraphQL(gateway, LIKE, { token, variables: { listingId: String(world.listingIds[i]) } });
    for (let i = 0; i < LIMIT; i += 1) {
      const ok = await post(i);
      expect(ok.status).toBe(200);
      expect(ok.body.errors).toBeUndefined();
    }
    const refused = await post(LIMIT);
    expect(refused.status).toBe(429);
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    const retryAfterMs = refused.body.errors?.[0]?.extensions?.retryAfterMs as number;
    const header = String(refused.headers['retry-after']);
    expect(header).toMatch(/^\d+$/);
    expect(Number(header)).toBe(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    expect(Number(header)).toBeGreaterThanOrEqual(1);
    expect(Number(header)).toBeLessThanOrEqual(60);
    expect(refused.raw).not.toContain('"http"');
    const metrics = await gateway.app.inject({ method: 'GET', url: '/metrics' });
    expect(metricValue(metrics.body, 'lodestar_rate_limited_total', { action: 'like' })).toBe(1);
  });

  it("the budget is full again when the window ends (the limiter's Redis key, expiring within 60 s, is deleted to stand in for the wait)", async () => {
    const h = harness();
    const viewer = (await insertUsers(db.pool, 1))[0]!;
    for (let i = 0; i < LIMIT; i += 1) dataOf(await like(h, viewer, i));
    expectErrorCode(await like(h, viewer, LIMIT), 'RATE_LIMITED');
    const keys = await redis.redis.keys(`${redis.prefix}rl:v3:{${viewer.userId}}:like:*`);
    expect(keys).toHaveLength(1);
    // KEYS returns full names; the client would prefix them again.
    const key = keys[0]!.slice(redis.prefix.length);
    const ttl = await redis.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(WINDOW_MS);
    expect(await redis.redis.del(key)).toBe(1);
    expect(await likeBudget(h, viewer)).toMatchObject({ remaining: LIMIT });
    expect(dataOf(await like(h, viewer, LIMIT)).likeListing.changed).toBe(true);
  });

  it('two gateway instances sharing Redis enforce one limit for a user who alternates between them', async () => {
    const [one, two] = [harness(), harness()];
    const viewer = (await insertUsers(db.pool, 1))[0]!;
    dataOf(await like(one, viewer, 0));
    dataOf(await like(two, viewer, 1));
    dataOf(await like(one, viewer, 2));
    expectErrorCode(await like(two, viewer, 3), 'RATE_LIMITED');
    expectErrorCode(await like(one, viewer, 4), 'RATE_LIMITED');
    expect(await likeBudget(two, viewer)).toMatchObject({ remaining: 0 });
    expect(await likeBudget(one, viewer)).toMatchObject({ remaining: 0 });
  });

  it('with Redis down each instance allows ⌊limit / RATE_LIMIT_EXPECTED_INSTANCES⌋ on its own, quickly', async () => {
    const down = harness({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_EXPECTED_INSTANCES: '1' });
    const viewer = (await insertUsers(db.pool, 1))[0]!;
    const started = performance.now();
    for (let i = 0; i < LIMIT; i += 1) dataOf(await like(down, viewer, i));
    const refusedAt = performance.now();
    const { extensions } = expectErrorCode(await like(down, viewer, LIMIT), 'RATE_LIMITED');
    const refusalMs = performance.now() - refusedAt;
    expect(extensions.retryAfterMs).toBeGreaterThan(0);
    expect(refusalMs).toBeLessThan(500);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await rateLimitedCount(down)).toBe(1);
    expect(await likeBudget(down, viewer)).toMatchObject({ remaining: 0 });
    // Nothing reached the shared Redis; another instance without Redis has its own budget.
    expect(await redis.redis.keys(`${redis.prefix}rl:v3:{${viewer.userId}}:like:*`)).toEqual([]);
    const alsoDown = harness({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_EXPECTED_INSTANCES: '1' });
    expect(dataOf(await like(alsoDown, viewer, LIMIT)).likeListing.changed).toBe(true);
    // Expecting 3 instances, one alone allows ⌊3 / 3⌋ = 1.
    const third = harness({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_EXPECTED_INSTANCES: '3' });
    const other = (await insertUsers(db.pool, 1))[0]!;
    dataOf(await like(third, other, 0));
    expectErrorCode(await like(third, other, 1), 'RATE_LIMITED');
  });
});
