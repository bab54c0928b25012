import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handleDiscovery, handleEvent } from '../../src/worker/handlers.js';
import { createLeaseQueue } from '../../src/queue/leaseQueue.js';
import {
  embeddingFor,
  insertCategory,
  insertInterest,
  insertListing,
  insertProfile,
  insertUserInterest,
} from '../support/fixtures.js';
import { refreshVectorIndex } from '../support/feedWorld.js';
import { openOpsFile, type OpsFile } from '../support/opsHarness.js';
import { queueRow, runUntilSettled, statusCounts } from '../support/workerHarness.js';
import { graphql } from '../support/graphql.js';

/**
 * The runbook's "Incident Response", end to end: the diagnostics show the incident, the ops mutation
 * does what the runbook's SQL did, and a real consumer then finishes the work.
 */

const HEALTH = graphql(`
  query Health($queue: QueueName!) {
    ops {
      queueHealth(queue: $queue) {
        queue
        queued
        inFlight
        done
        error
        total
        oldestAgeSec
        p95AgeSec
        highRetryCount
        stuckLeases
      }
      stuckLeases {
        events
        discovery
      }
    }
  }
`);

const ALERTS = graphql(`
  {
    ops {
      alerts {
        rule
        severity
        firing
        value
        threshold
      }
    }
  }
`);

const DISCOVERY_ERRORS = graphql(`
  query Errors($limit: Int) {
    ops {
      discoveryErrors(limit: $limit) {
        id
        interestId
        categoryId
        reason
        lastError
        attempts
        updatedAt
      }
    }
  }
`);

const REQUEUE_ERRORS = graphql(`
  mutation Requeue($maxAttempts: Int) {
    requeueDiscoveryErrors(maxAttempts: $maxAttempts) {
      requeued
      maxAttempts
      auditId
    }
  }
`);

describe('runbook incidents', () => {
  let file: OpsFile;
  let categoryId: number;
  let interestId: number;

  const health = (queue: 'EVENTS' | 'DISCOVERY') => file.data(HEALTH, { queue });
  const alert = async (rule: string) => (await file.data(ALERTS)).ops.alerts.find((a) => a.rule === rule);

  /** A user with one interest (embedding set) and no profile embedding yet. */
  const userWithoutEmbedding = async () => {
    const userId = await insertProfile(file.db.pool);
    await insertUserInterest(file.db.pool, { userId, interestId, affinity: 0.8 });
    return userId;
  };

  /** profile.recompute events leased by a worker that died: the lease ran out 5 minutes ago. */
  const stuckRecomputes = async (userIds: readonly string[]) => {
    const { rows } = await file.db.pool.query<{ id: string }>(
      `INSERT INTO events_queue (kind, payload, status, lease_token, lease_expires_at, created_at)
       SELECT 'profile.recompute', jsonb_build_object('userId', u), 'leased', gen_random_uuid(),
              now() - interval '5 minutes', now() - interval '10 minutes'
       FROM unnest($1::uuid[]) AS u RETURNING id::text`,
      [userIds],
    );
    return rows.map((r) => r.id);
  };

  /** Discovery items of the interest with these statuses, created `createdAgo` ago, `updatedAgo` last changed. */
  const discoveryItem = async (opts: {
    status: 'queued' | 'processing' | 'done' | 'error';
    attempts?: number;
    lastError?: string;
    leaseExpiresIn?: string;
    createdAgo?: string;
    updatedAgo?: string;
  }) => {
    const { rows } = await file.db.pool.query<{ id: string }>(
      `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason, status, attempts, last_error,
                                                lease_token, lease_expires_at, created_at, updated_at)
       VALUES ($1, $2, 'new_interest', $3, $4, $5,
               CASE WHEN $6::interval IS NULL THEN NULL ELSE gen_random_uuid() END, now() + $6::interval,
               now() - $7::interval, now() - $8::interval)
       RETURNING id::text`,
      [
        interestId,
        categoryId,
        opts.status,
        opts.attempts ?? 0,
        opts.lastError ?? null,
        opts.leaseExpiresIn ?? null,
        opts.createdAgo ?? '0 seconds',
        opts.updatedAgo ?? '0 seconds',
      ],
    );
    return rows[0]!.id;
  };

  beforeAll(async () => {
    file = await openOpsFile();
    categoryId = await insertCategory(file.db.pool);
    interestId = await insertInterest(file.db.pool, { categoryId, embedding: embeddingFor(1) });
    for (let i = 0; i < 5; i += 1) {
      await insertListing(file.db.pool, { categoryId, embedding: embeddingFor(100 + i) });
    }
    await refreshVectorIndex(file.db.pool);
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
    await file.db.pool.query(
      'TRUNCATE events_queue, marketplace_discovery_queue, interest_listing_candidates',
    );
  });

  afterAll(async () => {
    await file?.close();
  });

  it('Worker Stuck (events): expired leases show up, requeueStuckEvents requeues them and a worker drains them', async () => {
    const users = [await userWithoutEmbedding(), await userWithoutEmbedding(), await userWithoutEmbedding()];
    const stuck = await stuckRecomputes(users);
    // A live worker's lease (expires in 5 minutes) is neither stuck nor requeued.
    const live = (
      await file.db.pool.query<{ id: string }>(
        `INSERT INTO events_queue (kind, payload, status, lease_token, lease_expires_at)
         VALUES ('follow.created', '{}', 'leased', gen_random_uuid(), now() + interval '5 minutes')
         RETURNING id::text`,
      )
    ).rows[0]!.id;

    const before = (await health('EVENTS')).ops;
    expect(before.stuckLeases).toEqual({ events: 3, discovery: 0 });
    expect(before.queueHealth).toMatchObject({
      queue: 'EVENTS',
      queued: 0,
      inFlight: 4,
      done: 0,
      error: 0,
      total: 4,
      stuckLeases: 3,
    });
    // Three of four waiting items are 10 minutes old: the p95 age is theirs.
    expect(before.queueHealth.p95AgeSec).toBeGreaterThanOrEqual(600);
    expect(before.queueHealth.p95AgeSec).toBeLessThan(660);
    expect(before.queueHealth.oldestAgeSec).toBeGreaterThanOrEqual(600);

    const { requeueStuckEvents } = await file.data(
      graphql('mutation { requeueStuckEvents { requeued maxAttempts auditId } }'),
    );
    expect(requeueStuckEvents).toMatchObject({ requeued: 3, maxAttempts: null });
    const after = (await health('EVENTS')).ops;
    expect(after.stuckLeases).toEqual({ events: 0, discovery: 0 });
    expect(after.queueHealth).toMatchObject({ queued: 3, inFlight: 1, stuckLeases: 0 });
    for (const id of stuck) {
      expect(await queueRow(file.db.pool, 'events', id)).toMatchObject({
        status: 'queued',
        lease_token: null,
        lease_expires_at: null,
      });
    }
    expect((await queueRow(file.db.pool, 'events', live)).status).toBe('leased');

    await runUntilSettled(file.db.pool, 'events', handleEvent, stuck);
    expect(await statusCounts(file.db.pool, 'events', stuck)).toEqual({ done: 3 });
    const { rows } = await file.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM profiles WHERE user_id = ANY($1::uuid[]) AND embedding IS NOT NULL',
      [users],
    );
    expect(rows[0]!.n).toBe(3);
    // The live worker finishes its own item: nothing waits any more.
    await file.db.pool.query(
      `UPDATE events_queue SET status = 'done', lease_token = NULL, lease_expires_at = NULL WHERE id = $1`,
      [live],
    );
    expect((await health('EVENTS')).ops.queueHealth).toMatchObject({
      queued: 0,
      inFlight: 0,
      done: 4,
      p95AgeSec: 0,
      oldestAgeSec: 0,
    });
  });

  it('Worker Stuck (discovery): the p95 age alert fires, requeueStuckDiscovery requeues and a worker drains', async () => {
    const stuck = [
      await discoveryItem({ status: 'processing', leaseExpiresIn: '-1 minute', createdAgo: '20 minutes' }),
      await discoveryItem({ status: 'processing', leaseExpiresIn: '-2 minutes', createdAgo: '15 minutes' }),
    ];
    // Finished long ago: not waiting, so it does not count towards the age.
    await discoveryItem({ status: 'done', createdAgo: '3 days' });

    const before = (await health('DISCOVERY')).ops;
    expect(before.stuckLeases).toEqual({ events: 0, discovery: 2 });
    expect(before.queueHealth).toMatchObject({
      queue: 'DISCOVERY',
      queued: 0,
      inFlight: 2,
      done: 1,
      total: 3,
      stuckLeases: 2,
    });
    // percentile_cont over 900 s and 1,200 s: 900 + 0.95 × 300 = 1,185 s.
    expect(before.queueHealth.p95AgeSec).toBeGreaterThanOrEqual(1185);
    expect(before.queueHealth.p95AgeSec).toBeLessThan(1245);
    expect(await alert('discovery_queue_p95_age')).toMatchObject({
      severity: 'CRITICAL',
      firing: true,
      threshold: 300,
    });

    const { requeueStuckDiscovery } = await file.data(
      graphql('mutation { requeueStuckDiscovery { requeued auditId } }'),
    );
    expect(requeueStuckDiscovery.requeued).toBe(2);
    expect((await health('DISCOVERY')).ops).toMatchObject({
      stuckLeases: { events: 0, discovery: 0 },
      queueHealth: { queued: 2, inFlight: 0, stuckLeases: 0 },
    });

    await runUntilSettled(file.db.pool, 'discovery', handleDiscovery, stuck);
    expect(await statusCounts(file.db.pool, 'discovery', stuck)).toEqual({ done: 2 });
    const candidates = await file.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM interest_listing_candidates WHERE interest_id = $1',
      [interestId],
    );
    expect(candidates.rows[0]!.n).toBe(5);
    expect((await health('DISCOVERY')).ops.queueHealth).toMatchObject({
      queued: 0,
      inFlight: 0,
      p95AgeSec: 0,
    });
    expect(await alert('discovery_queue_p95_age')).toMatchObject({ firing: false, value: 0 });
  });

  it('a requeue with nothing stuck changes nothing and says 0', async () => {
    const live = await discoveryItem({ status: 'processing', leaseExpiresIn: '5 minutes' });
    const result = await file.data(
      graphql('mutation { a: requeueStuckEvents { requeued } b: requeueStuckDiscovery { requeued } }'),
    );
    expect(result).toEqual({ a: { requeued: 0 }, b: { requeued: 0 } });
    expect((await queueRow(file.db.pool, 'discovery', live)).status).toBe('processing');
  });

  it('Discovery Queue Backlog: errors listed newest first; attempts 3 requeued by default, attempts 6 only below 7', async () => {
    const third = await discoveryItem({
      status: 'error',
      attempts: 3,
      lastError: 'listing search timed out',
      createdAgo: '1 hour',
      updatedAgo: '5 minutes',
    });
    const sixth = await discoveryItem({
      status: 'error',
      attempts: 6,
      lastError: 'interest has no embedding',
      createdAgo: '3 hours',
      updatedAgo: '2 hours',
    });
    // Neither failed nor waiting on a retry: never listed, never touched.
    const done = await discoveryItem({ status: 'done', attempts: 4, updatedAgo: '1 minute' });

    const listed = await file.data(DISCOVERY_ERRORS, {
      limit: 20,
    });
    expect(listed.ops.discoveryErrors.map((e) => e.id)).toEqual([third, sixth]);
    expect(listed.ops.discoveryErrors[0]).toMatchObject({
      interestId: String(interestId),
      categoryId: String(categoryId),
      reason: 'new_interest',
      lastError: 'listing search timed out',
      attempts: 3,
    });
    const limited = await file.data(DISCOVERY_ERRORS, {
      limit: 1,
    });
    expect(limited.ops.discoveryErrors.map((e) => e.id)).toEqual([third]);
    expect((await health('DISCOVERY')).ops.queueHealth).toMatchObject({ error: 2, highRetryCount: 2 });

    const first = await file.data(REQUEUE_ERRORS);
    expect(first.requeueDiscoveryErrors).toMatchObject({ requeued: 1, maxAttempts: 5 });
    expect(await queueRow(file.db.pool, 'discovery', third)).toMatchObject({
      status: 'queued',
      attempts: 0,
      last_error: null,
    });
    expect(await queueRow(file.db.pool, 'discovery', sixth)).toMatchObject({ status: 'error', attempts: 6 });
    expect((await queueRow(file.db.pool, 'discovery', done)).status).toBe('done');
    expect((await health('DISCOVERY')).ops.queueHealth).toMatchObject({
      queued: 1,
      error: 1,
      highRetryCount: 1,
    });
    const remaining = await file.data(DISCOVERY_ERRORS);
    expect(remaining.ops.discoveryErrors.map((e) => e.id)).toEqual([sixth]);

    // Claimable at once: a worker's next claim takes it, without waiting for a backoff.
    const queue = createLeaseQueue('discovery');
    const claimed = await queue.claim(file.db.pool, 10, 30_000);
    expect(claimed.map((c) => c.id)).toEqual([third]);
    expect(await queue.release(file.db.pool, claimed[0]!)).toBe(true);

    const second = await file.data(REQUEUE_ERRORS, {
      maxAttempts: 7,
    });
    expect(second.requeueDiscoveryErrors).toMatchObject({ requeued: 1, maxAttempts: 7 });
    expect(await queueRow(file.db.pool, 'discovery', sixth)).toMatchObject({
      status: 'queued',
      attempts: 0,
      last_error: null,
    });
    expect((await queueRow(file.db.pool, 'discovery', sixth)).due_in).toBeLessThanOrEqual(0);
    expect((await health('DISCOVERY')).ops.queueHealth).toMatchObject({
      queued: 2,
      error: 0,
      highRetryCount: 0,
    });

    // Both are done by a worker now that the cause is fixed.
    await runUntilSettled(file.db.pool, 'discovery', handleDiscovery, [third, sixth]);
    expect(await statusCounts(file.db.pool, 'discovery', [third, sixth])).toEqual({ done: 2 });
  });
  it('discoveryErrors breaks a tie on updated_at by the newest id', async () => {
    // Ten failures recorded by one statement share updated_at; ids 995–1004 cross a digit boundary.
    await file.db.pool.query(
      `INSERT INTO marketplace_discovery_queue (id, interest_id, category_id, reason, status, attempts, last_error)
       SELECT g, $1, $2, 'new_interest', 'error', 1, 'boom ' || g FROM generate_series(995, 1004) g`,
      [interestId, categoryId],
    );
    const listed = await file.data(DISCOVERY_ERRORS, {
      limit: 3,
    });
    expect(listed.ops.discoveryErrors.map((e) => e.id)).toEqual(['1004', '1003', '1002']);
  });
});
