import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceDb } from '../../src/db/service.js';
import { listingFeatureKind } from '../../src/features/featureKinds.js';
import { createFeatureStore, tombstoneOf } from '../../src/features/featureStore.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { testRedisUrl } from '../support/env.js';
import { silentLogger } from '../support/workerHarness.js';

/**
 * A read replica's computation racing another process's invalidation, in a real Redis. The SQL side is a
 * stand-in returning one listing row after a pause (the race is between Redis writes; the SQL itself is
 * tested in featureStore.test.ts and against a real replica in test/db/readReplicas.test.ts).
 */
describe('feature write-back from a read replica', () => {
  const prefix = `t_wb_${randomBytes(4).toString('hex')}:`;
  let redis: Redis;

  const row = (likes: number) => ({
    listing_id: 7,
    category_id: 1,
    category_slug: 'c',
    like_count: likes,
    comment_count: 0,
    popularity: 1,
    created_at: new Date(),
    feed_impressions_30d: 0,
    feed_rewards_30d: 0,
  });
  /** A service path answering after `ms`, as a replica would with what it has replayed. */
  const slowService = (likes: number, ms: number, started: () => void): ServiceDb => ({
    query: async <R extends pg.QueryResultRow>() => {
      started();
      await new Promise((resolve) => setTimeout(resolve, ms));
      return [row(likes)] as unknown as R[];
    },
    queryGeneric: async () => [],
    close: async () => undefined,
  });

  beforeAll(async () => {
    redis = new Redis(testRedisUrl, { keyPrefix: prefix });
    await redis.ping();
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)));
    redis.disconnect();
  });

  const storeOn = (replica: ServiceDb, replayed: bigint) =>
    createFeatureStore({
      redis,
      service: replica, // unused: every computation here runs "on the replica"
      options: { ttlSec: 60, ttlJitter: 0, earlyRefreshBeta: 0, breakerFailures: 3, breakerOpenMs: 1000 },
      metrics: createMetrics(),
      logger: silentLogger,
      reads: {
        pick: () => replica,
        replayedBy: (service) => (service === replica ? replayed : null),
        currentLsn: async () => 0n,
        fenceTtlMs: 10_000,
      },
    });

  it('does not overwrite a tombstone of a write the replica had not replayed when it computed', async () => {
    const key = listingFeatureKind.keyOf(7);
    await redis.del(key);
    let started!: () => void;
    const computing = new Promise<void>((resolve) => (started = resolve));
    const replica = slowService(3, 150, () => started());
    const store = storeOn(replica, 100n);
    const read = store.load(listingFeatureKind, [7], replica);
    await computing;
    // Another process's like commits at WAL position 200 and leaves its tombstone meanwhile.
    await redis.set(key, tombstoneOf(200n));
    expect((await read)[0]!.likeCount).toBe(3);
    await store.settled();
    expect(await redis.get(key)).toBe(tombstoneOf(200n));
  });

  it('writes back over an older tombstone, and over nothing', async () => {
    const key = listingFeatureKind.keyOf(7);
    await redis.set(key, tombstoneOf(50n));
    const replica = slowService(4, 1, () => undefined);
    const store = storeOn(replica, 100n);
    expect((await store.load(listingFeatureKind, [7]))[0]!.likeCount).toBe(4);
    await store.settled();
    const entry = JSON.parse((await redis.get(key))!) as { f: { likeCount: number } };
    expect(entry.f.likeCount).toBe(4);
    expect(await redis.pttl(key)).toBeGreaterThan(50_000);
  });
});
