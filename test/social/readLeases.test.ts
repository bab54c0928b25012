import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/platform/metrics.js';
import { createRateLimits, type RateLimitSettings } from '../../src/social/rateLimits.js';
import { testRedisUrl } from '../support/env.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';
import { createPrefixedRedis } from '../support/socialWorld.js';

/**
 * Read budgets are leased from Redis a few points at a time (src/social/rateLimits.ts): most reads cost
 * no Redis call, yet every instance together never allows more than the limit. Two limiters on one
 * real Redis stand for two gateway processes.
 */
const limits = (read: number, expectedInstances = 2): RateLimitSettings => ({
  enabled: true,
  like: 3,
  comment: 3,
  follow: 3,
  interest: 3,
  signal: 3,
  hide: 3,
  feedback: 3,
  admin: 3,
  catalog: 3,
  expectedInstances,
  feed: read,
  read,
  export: 3,
  account: 5,
});

describe('leased read budgets on a real Redis', () => {
  let redis: Awaited<ReturnType<typeof createPrefixedRedis>>;
  const clients: Awaited<ReturnType<typeof createPrefixedRedis>>[] = [];

  beforeAll(async () => {
    redis = await createPrefixedRedis(testRedisUrl, `lodestar:t:leases:${randomUUID()}:`);
  });
  afterAll(async () => {
    await redis.flush();
    redis.close();
    for (const c of clients) c.close();
  });

  /** A limiter on its own connection (a process of its own), counting its script calls. */
  async function limiter(settings: RateLimitSettings) {
    const own = await createPrefixedRedis(testRedisUrl, redis.prefix);
    clients.push(own);
    const limits = createRateLimits({ redis: own.redis, limits: settings, metrics: createMetrics() });
    const client = own.redis as unknown as { lodestarRateLimit: (...args: unknown[]) => Promise<unknown> };
    const script = client.lodestarRateLimit.bind(client);
    const counter = { calls: 0 };
    client.lodestarRateLimit = (...args: unknown[]) => {
      counter.calls += 1;
      return script(...args);
    };
    return { limits, counter };
  }

  /** Consumes until refused; how many were allowed. */
  async function allowed(consume: () => Promise<void>, attempts: number): Promise<number> {
    let n = 0;
    for (let i = 0; i < attempts; i += 1) {
      try {
        await consume();
        n += 1;
      } catch (error) {
        expect((error as { extensions?: { code?: string } }).extensions?.code).toBe('RATE_LIMITED');
      }
    }
    return n;
  }

  it('serves most reads of a client far from its limit without a Redis call', async () => {
    await awayFromWindowEdge();
    const { limits: one, counter } = await limiter(limits(10_000));
    const key = `ip:${randomUUID()}`;
    for (let i = 0; i < 200; i += 1) await one.consume('read', key);
    // Leases of min(16, ⌊(10,000 − used) / 8 / 2⌋) points: 200 reads in 13 calls, not 200.
    expect(counter.calls).toBeLessThanOrEqual(200 / 16 + 1);
    expect(counter.calls).toBeGreaterThan(0);
    // Concurrent reads wait for the one lease call in flight instead of each calling Redis.
    const before = counter.calls;
    await Promise.all(Array.from({ length: 16 }, () => one.consume('feed', key)));
    expect(counter.calls - before).toBe(1);
  });

  it('two processes sharing Redis never allow more than the limit, and refuse only near it', async () => {
    await awayFromWindowEdge();
    const limit = 300;
    const [a, b] = [await limiter(limits(limit)), await limiter(limits(limit))];
    const key = `ip:${randomUUID()}`;
    let total = 0;
    // Alternating bursts, as a load balancer would spread one client's reads.
    for (let round = 0; round < 40; round += 1) {
      total += await allowed(() => (round % 2 === 0 ? a : b).limits.consume('read', key), 10);
    }
    expect(total).toBeLessThanOrEqual(limit);
    // A lease left unspent in the other process is all the client can lose: the leases shrink to one
    // point near the limit.
    expect(total).toBeGreaterThanOrEqual(limit - 2);
    // Redis counted every point it granted.
    const keys = await redis.redis.keys(`${redis.prefix}rl:v3:{${key}}:read:*`);
    expect(keys).toHaveLength(1);
    // KEYS returns full names; the client would prefix them again.
    const counted = Number(await redis.redis.get(keys[0]!.slice(redis.prefix.length)));
    expect(counted).toBe(limit);
    expect(a.counter.calls + b.counter.calls).toBeLessThan(total);
  });

  it('write budgets stay exact: one Redis call per request', async () => {
    await awayFromWindowEdge();
    const { limits: one, counter } = await limiter(limits(10_000));
    const user = randomUUID();
    expect(await allowed(() => one.consume('like', user), 5)).toBe(3);
    expect(counter.calls).toBe(5);
  });
});
