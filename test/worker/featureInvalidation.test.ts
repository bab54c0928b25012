import { describe, expect } from 'vitest';
import { listingFeatureKind, userFeatureKind } from '../../src/features/featureKinds.js';
import { currentWalLsn, parseLsnHex } from '../../src/db/replicas.js';
import { startWorker } from '../../src/worker/startWorker.js';
import type { TestDatabase } from '../support/db.js';
import { testRedisUrl } from '../support/env.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { testConfig } from '../support/gateway.js';
import { enqueueEvents, queueRow, silentLogger, waitUntil } from '../support/workerHarness.js';
import { it, test, type PrefixedRedis } from '../support/testFixtures.js';

describe('worker and the feature cache', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  /** A client under the file's prefix; the fixture deletes its keys after the file. */
  let redis: PrefixedRedis['redis'];
  let prefix: string;

  test.beforeAll(async ({ db: fileDb, redis: fileRedis }) => {
    db = fileDb;
    ({ redis, prefix } = fileRedis);
    world = await seedFeedWorld(db.pool, [3]);
  });

  it('drops the cached features a like’s popularity and drift change, after the change commits', async () => {
    const who = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.5 }]);
    const listingId = world.listings[0]![0]!.id;
    const untouched = world.listings[0]![1]!.id;
    for (const key of [
      userFeatureKind.keyOf(who.userId),
      listingFeatureKind.keyOf(listingId),
      listingFeatureKind.keyOf(untouched),
    ]) {
      await redis.set(key, '{"exp":0,"d":0,"f":{}}');
    }
    const worker = await startWorker(
      testConfig(db, {
        REDIS_URL: testRedisUrl,
        REDIS_KEY_PREFIX: prefix,
        WORKER_MAINTENANCE: 'false',
        WORKER_POLL_MS: '100',
      }),
      silentLogger,
    );
    try {
      const [id] = await enqueueEvents(db.pool, 'like.created', [{ userId: who.userId, listingId }]);
      await waitUntil(
        async () => (await queueRow(db.pool, 'events', id!)).status === 'done',
        'the like to be processed',
      );
      // Not deleted but a tombstone holding the primary's WAL position after the change (a gateway reads it
      // as a miss, and with read replicas computes it only where the change is visible).
      const tombstone = /^\{"fence":"([0-9a-f]{16})"\}$/;
      const fenceOf = async (key: string) => tombstone.exec((await redis.get(key)) ?? '')?.[1];
      await waitUntil(
        async () => (await fenceOf(listingFeatureKind.keyOf(listingId))) !== undefined,
        'the listing key to become a tombstone',
      );
      const now = await currentWalLsn(db.pool);
      const fence = parseLsnHex((await fenceOf(listingFeatureKind.keyOf(listingId)))!);
      expect(fence).toBeGreaterThan(0n);
      expect(fence).toBeLessThanOrEqual(now);
      expect(await fenceOf(userFeatureKind.keyOf(who.userId))).toBeDefined();
      expect(await redis.get(listingFeatureKind.keyOf(untouched))).toBe('{"exp":0,"d":0,"f":{}}');
    } finally {
      await worker.stop(1000);
    }
  });
});
