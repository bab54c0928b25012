import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadFences } from '../../src/db/readFences.js';
import { testRedisUrl } from '../support/env.js';

/** Read fences in a real Redis: shared by every gateway, never lowered, expiring after their TTL. */
describe('read fences', () => {
  const prefix = `t_fence_${randomBytes(4).toString('hex')}:`;
  let redis: Redis;
  let other: Redis;
  const errors: unknown[] = [];

  beforeAll(async () => {
    redis = new Redis(testRedisUrl, { keyPrefix: prefix });
    other = new Redis(testRedisUrl, { keyPrefix: prefix });
    await Promise.all([redis.ping(), other.ping()]);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)));
    redis.disconnect();
    other.disconnect();
  });

  it("one gateway's fence is seen by another, and a lower one never replaces it", async () => {
    const here = createReadFences({ redis, ttlMs: 10_000, onError: (e) => errors.push(e) });
    const there = createReadFences({ redis: other, ttlMs: 10_000, onError: (e) => errors.push(e) });
    const user = randomUUID();
    expect(await there.get(user)).toBeNull();
    await here.raise(user, 0x1_0000_0000n + 5n);
    expect(await there.get(user)).toBe(0x1_0000_0000n + 5n);
    // A slower mutation of the same viewer that finished with an older position.
    await there.raise(user, 0x0_ffff_fff0n);
    expect(await here.get(user)).toBe(0x1_0000_0000n + 5n);
    await there.raise(user, 0x2_0000_0000n);
    expect(await here.get(user)).toBe(0x2_0000_0000n);
    expect(errors).toEqual([]);
  });

  it('expires after its TTL', async () => {
    const fences = createReadFences({ redis, ttlMs: 150, onError: (e) => errors.push(e) });
    const user = randomUUID();
    await fences.raise(user, 42n);
    expect(await fences.get(user)).toBe(42n);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await fences.get(user)).toBeNull();
  });

  it("says 'unknown' when Redis cannot answer (the viewer then reads from the primary)", async () => {
    const broken = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0 });
    broken.on('error', () => undefined);
    const fences = createReadFences({ redis: broken, ttlMs: 1000, onError: () => undefined });
    expect(await fences.get(randomUUID())).toBe('unknown');
    // Without Redis configured, this process's own fences still hold.
    const local = createReadFences({ redis: null, ttlMs: 1000, onError: () => undefined });
    const user = randomUUID();
    expect(await local.get(user)).toBeNull();
    await local.raise(user, 7n);
    expect(await local.get(user)).toBe(7n);
    broken.disconnect();
  });
});
