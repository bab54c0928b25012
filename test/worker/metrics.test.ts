import { describe, expect } from 'vitest';
import { startWorker } from '../../src/worker/startWorker.js';
import type { TestDatabase } from '../support/db.js';
import { testConfig } from '../support/gateway.js';
import { enqueueEvents, queueRow, silentLogger, waitUntil } from '../support/workerHarness.js';
import { it, test } from '../support/testFixtures.js';

describe('worker metrics', () => {
  let db: TestDatabase;

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
  });

  it('serves items by outcome, processing time and queue depth and age on WORKER_METRICS_PORT', async () => {
    const worker = await startWorker(
      testConfig(db, { WORKER_METRICS_PORT: '0', WORKER_MAINTENANCE: 'false', WORKER_POLL_MS: '100' }),
      silentLogger,
    );
    try {
      expect(worker.metricsPort).toBeGreaterThan(0);
      const [done] = await enqueueEvents(db.pool, 'follow.created', [{}]);
      const [failed] = await enqueueEvents(db.pool, 'no.such.kind', [{}]);
      for (const id of [done!, failed!]) {
        await waitUntil(
          async () => ['done', 'error'].includes((await queueRow(db.pool, 'events', id)).status),
          'the items to settle',
        );
      }
      const response = await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toContain('lodestar_worker_items_total{queue="events",outcome="claimed"} 2');
      expect(text).toContain('lodestar_worker_items_total{queue="events",outcome="succeeded"} 1');
      expect(text).toContain('lodestar_worker_items_total{queue="events",outcome="failed"} 1');
      expect(text).toMatch(/lodestar_worker_item_duration_seconds_count\{queue="events"\} 2/);
      expect(text).toContain('lodestar_queue_items{queue="events",status="done"} 1');
      expect(text).toContain('lodestar_queue_items{queue="events",status="error"} 1');
      expect(text).toMatch(/lodestar_queue_age_seconds\{queue="discovery",stat="p95"\} 0/);
      expect((await fetch(`http://127.0.0.1:${worker.metricsPort}/other`)).status).toBe(404);
    } finally {
      await worker.stop(1000);
    }
  });

  it('counts the cached features it could not drop while Redis is unreachable', async () => {
    const worker = await startWorker(
      testConfig(db, {
        WORKER_METRICS_PORT: '0',
        WORKER_MAINTENANCE: 'false',
        WORKER_POLL_MS: '100',
        // Nothing listens on port 1: the worker runs without Redis, as during an outage.
        REDIS_URL: 'redis://127.0.0.1:1',
      }),
      silentLogger,
    );
    try {
      const [id] = await enqueueEvents(db.pool, 'comment.created', [{ listingId: '999999' }]);
      await waitUntil(async () => (await queueRow(db.pool, 'events', id!)).status === 'done', 'the item');
      await waitUntil(async () => {
        const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
        return /lodestar_worker_feature_invalidations_skipped_total [1-9]/.test(text);
      }, 'the skipped invalidation to be counted');
    } finally {
      await worker.stop(2000);
    }
  });
});
