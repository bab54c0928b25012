import type pg from 'pg';
import { describe, expect } from 'vitest';
import { createConsumer, type JobHandler } from '../../src/worker/consumer.js';
import { DISCOVERY_TOP_K, handleDiscovery, handleEvent } from '../../src/worker/handlers.js';
import { createLeaseQueue } from '../../src/queue/leaseQueue.js';
import type { TestDatabase } from '../support/db.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { insertListing } from '../support/fixtures.js';
import {
  createGate,
  enqueueEvents,
  queueRow,
  runUntilSettled,
  silentLogger,
  waitUntil,
} from '../support/workerHarness.js';
import { it, test } from '../support/testFixtures.js';

describe('worker handlers', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let world: FeedWorld;

  const popularity = async (listingId: number) =>
    (
      await pool.query<{ p: number }>('SELECT popularity AS p FROM marketplace_listings WHERE id = $1', [
        listingId,
      ])
    ).rows[0]!.p;
  const affinities = async (userId: string) => {
    const { rows } = await pool.query<{ interest_id: number; affinity: number }>(
      'SELECT interest_id, affinity FROM user_interests WHERE user_id = $1',
      [userId],
    );
    return new Map(rows.map((r) => [r.interest_id, r.affinity]));
  };

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
    pool = db.pool;
    // Category 0 has more active listings than discovery keeps.
    world = await seedFeedWorld(pool, [70, 12]);
  });

  it("like.created adds 1 to popularity and reinforces the liker's interests in the listing's category", async () => {
    const [i0, i1] = world.interestIds;
    const viewer = await createFeedViewer(pool, [
      { interestId: i0!, affinity: 0.5 },
      { interestId: i1!, affinity: 0.5 },
    ]);
    const listing = world.listings[0]![0]!;
    const before = await popularity(listing.id);
    const ids = await enqueueEvents(pool, 'like.created', [{ listingId: listing.id, userId: viewer.userId }]);
    await runUntilSettled(pool, 'events', handleEvent, ids);
    expect((await queueRow(pool, 'events', ids[0]!)).status).toBe('done');
    expect(await popularity(listing.id)).toBe(before + 1);
    const after = await affinities(viewer.userId);
    expect(after.get(i0!)).toBeCloseTo(0.55, 5);
    expect(after.get(i1!)).toBeCloseTo(0.5, 5);
  });

  it('like.created processed by a worker that lost its lease and by the next one counts once', async () => {
    const [i0] = world.interestIds;
    const viewer = await createFeedViewer(pool, [{ interestId: i0!, affinity: 0.5 }]);
    const listing = world.listings[0]![1]!;
    const before = await popularity(listing.id);
    const [id] = await enqueueEvents(pool, 'like.created', [
      { listingId: listing.id, userId: viewer.userId },
    ]);
    const queue = createLeaseQueue('events');
    const started = createGate();
    const proceed = createGate();
    const outcomes: string[] = [];
    const slowHandler: JobHandler = async (item, tx) => {
      await handleEvent(item, tx);
      started.open();
      await proceed.wait;
    };
    const slow = createConsumer({
      queue,
      handler: slowHandler,
      pool,
      logger: silentLogger,
      concurrency: 1,
      pollMs: 20,
      onOutcome: (outcome) => {
        if (outcome !== 'claimed' && outcome !== 'released') outcomes.push(outcome);
      },
    });
    await slow.start();
    try {
      await started.wait;
      await pool.query(
        `UPDATE events_queue SET lease_expires_at = now() - interval '1 second' WHERE id = $1`,
        [id],
      );
      const { lease_token: lostToken } = await queueRow(pool, 'events', id!);
      await queue.reclaimExpired(pool);
      // The next worker takes the item over; its run waits on the first run's row locks until the
      // first, finding its lease gone, rolls back.
      const next = runUntilSettled(pool, 'events', handleEvent, [id!]);
      await waitUntil(async () => {
        const row = await queueRow(pool, 'events', id!);
        return row.status === 'leased' && row.lease_token !== lostToken;
      }, 'the next worker to lease the item');
      proceed.open();
      await next;
      await waitUntil(() => outcomes.length === 1, 'the first run to end');
    } finally {
      proceed.open();
      await slow.stop(5000);
    }
    expect(outcomes).toEqual(['lost']);
    expect((await queueRow(pool, 'events', id!)).status).toBe('done');
    expect(await popularity(listing.id)).toBe(before + 1);
    expect((await affinities(viewer.userId)).get(i0!)).toBeCloseTo(0.55, 5);
  });

  it('like.deleted and comment events move popularity by -1 and ±2', async () => {
    const listing = world.listings[1]![0]!;
    const before = await popularity(listing.id);
    const ids = [
      ...(await enqueueEvents(pool, 'comment.created', [
        { listingId: listing.id },
        { listingId: listing.id },
      ])),
      ...(await enqueueEvents(pool, 'comment.deleted', [{ listingId: listing.id }])),
      ...(await enqueueEvents(pool, 'like.deleted', [{ listingId: listing.id, userId: world.sellerId }])),
    ];
    await runUntilSettled(pool, 'events', handleEvent, ids);
    expect(await popularity(listing.id)).toBe(before + 2 + 2 - 2 - 1);
  });

  it('interests.changed enqueues one discovery item per added interest, once a day', async () => {
    const [i0, i1] = world.interestIds;
    const discoveryItems = async () =>
      (
        await pool.query<{ interest_id: number; category_id: number; reason: string }>(
          `SELECT interest_id, category_id, reason FROM marketplace_discovery_queue
            WHERE interest_id = ANY($1::int[]) ORDER BY interest_id`,
          [[i0, i1]],
        )
      ).rows;
    await pool.query('DELETE FROM marketplace_discovery_queue');
    const first = await enqueueEvents(pool, 'interests.changed', [{ added: [i0, i1], removed: [] }]);
    await runUntilSettled(pool, 'events', handleEvent, first);
    const expected = [
      { interest_id: i0, category_id: world.categoryIds[0], reason: 'new_interest' },
      { interest_id: i1, category_id: world.categoryIds[1], reason: 'new_interest' },
    ].sort((a, b) => a.interest_id! - b.interest_id!);
    expect(await discoveryItems()).toEqual(expected);

    const again = await enqueueEvents(pool, 'interests.changed', [{ added: [i0] }, { added: [i1, i0] }]);
    await runUntilSettled(pool, 'events', handleEvent, again);
    expect(await discoveryItems()).toEqual(expected);
    await pool.query('DELETE FROM marketplace_discovery_queue');
  });

  it("a discovery item keeps the interest's nearest active listings of its category, at most 50, by similarity", async () => {
    const [i0] = world.interestIds;
    const [c0, c1] = world.categoryIds;
    // Sold listings never become candidates, however close they are.
    const sold = world.listings[0]!.slice(0, 5).map((l) => l.id);
    await pool.query(`UPDATE marketplace_listings SET status = 'sold' WHERE id = ANY($1::int[])`, [sold]);
    // A stale candidate in the category is replaced; one of another category is left alone.
    const stale = world.listings[0]![10]!.id;
    const elsewhere = world.listings[1]![0]!.id;
    await pool.query(
      `INSERT INTO interest_listing_candidates (interest_id, listing_id, score) VALUES ($1, $2, -5), ($1, $3, -5)`,
      [i0, stale, elsewhere],
    );
    const { rows: items } = await pool.query<{ id: string }>(
      `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason) VALUES ($1, $2, 'test') RETURNING id::text`,
      [i0, c0],
    );
    await runUntilSettled(pool, 'discovery', handleDiscovery, [items[0]!.id]);
    expect((await queueRow(pool, 'discovery', items[0]!.id)).status).toBe('done');

    const { rows: candidates } = await pool.query<{ listing_id: number; score: number; category_id: number }>(
      `SELECT c.listing_id, c.score, l.category_id FROM interest_listing_candidates c
         JOIN marketplace_listings l ON l.id = c.listing_id
        WHERE c.interest_id = $1 ORDER BY c.score DESC, c.listing_id`,
      [i0],
    );
    const inCategory = candidates.filter((c) => c.category_id === c0);
    expect(inCategory).toHaveLength(DISCOVERY_TOP_K);
    expect(candidates.filter((c) => c.category_id === c1)).toEqual([
      { listing_id: elsewhere, score: -5, category_id: c1 },
    ]);
    expect(inCategory.some((c) => sold.includes(c.listing_id))).toBe(false);

    // The exact answer, computed without the vector index.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_indexscan = off');
      const { rows: exact } = await client.query<{ id: number; score: number }>(
        `SELECT l.id, 1 - (l.embedding <=> i.embedding) AS score
           FROM marketplace_listings l, interest_catalog i
          WHERE i.id = $1 AND l.status = 'active' AND l.category_id = $2
          ORDER BY l.embedding <=> i.embedding, l.id LIMIT $3`,
        [i0, c0, DISCOVERY_TOP_K],
      );
      await client.query('COMMIT');
      expect(inCategory.map((c) => c.listing_id)).toEqual(exact.map((r) => r.id));
      inCategory.forEach((c, k) => expect(c.score).toBeCloseTo(exact[k]!.score, 5));
    } finally {
      client.release();
    }
  });

  it('a discovery item for an interest without an embedding fails at once', async () => {
    const listingCategory = world.categoryIds[1]!;
    await insertListing(pool, { categoryId: listingCategory });
    const { rows: interest } = await pool.query<{ id: number }>(
      `INSERT INTO interest_catalog (slug, name, category_id) VALUES ('no-embedding', 'none', $1) RETURNING id`,
      [listingCategory],
    );
    const { rows: items } = await pool.query<{ id: string }>(
      `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason) VALUES ($1, $2, 'test') RETURNING id::text`,
      [interest[0]!.id, listingCategory],
    );
    await runUntilSettled(pool, 'discovery', handleDiscovery, [items[0]!.id]);
    expect(await queueRow(pool, 'discovery', items[0]!.id)).toMatchObject({ status: 'error', attempts: 1 });
  });

  it('an event of an unknown kind goes to error at once', async () => {
    const ids = await enqueueEvents(pool, 'no.such.kind', [{}]);
    await runUntilSettled(pool, 'events', handleEvent, ids);
    const row = await queueRow(pool, 'events', ids[0]!);
    expect(row).toMatchObject({ status: 'error', attempts: 1 });
    expect(row.last_error).toContain('no.such.kind');
  });

  it('an event missing a payload field goes to error at once', async () => {
    const ids = await enqueueEvents(pool, 'like.deleted', [{}]);
    await runUntilSettled(pool, 'events', handleEvent, ids);
    expect(await queueRow(pool, 'events', ids[0]!)).toMatchObject({
      status: 'error',
      attempts: 1,
      last_error: 'payload.listingId is missing',
    });
  });

  it('profile.recompute recomputes the embedding and sets embedding_updated_at', async () => {
    const viewer = await createFeedViewer(pool, [{ interestId: world.interestIds[1]!, affinity: 0.8 }]);
    await pool.query(
      `UPDATE profiles SET embedding = NULL, embedding_updated_at = now() - interval '1 day' WHERE user_id = $1`,
      [viewer.userId],
    );
    const ids = await enqueueEvents(pool, 'profile.recompute', [{ userId: viewer.userId }]);
    await runUntilSettled(pool, 'events', handleEvent, ids);
    const { rows } = await pool.query<{ has: boolean; age: number }>(
      `SELECT embedding IS NOT NULL AS has, extract(epoch FROM now() - embedding_updated_at)::float8 AS age
         FROM profiles WHERE user_id = $1`,
      [viewer.userId],
    );
    expect(rows[0]!.has).toBe(true);
    expect(rows[0]!.age).toBeLessThan(60);
  });
});
