import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { VIEWER_CANDIDATES } from '../../src/feed/candidates.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  createFeedHarness,
  listingIdsOf,
  suggestionsPage,
  type FeedHarness,
} from '../support/feedHarness.js';
import { clusterCentre, createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { insertListing } from '../support/fixtures.js';

/**
 * The per-viewer candidate cache (feed_viewer_candidates, FEED_CANDIDATE_CACHE_SEC): the first request
 * runs the vector search and keeps its result, later requests reuse it until it is older than the
 * setting or the profile embedding changes, and what is served from it is checked again at serve time.
 */
describe('the feed’s per-viewer candidate cache', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  /** ε = 0, FEED_RANKER=off (the similarity order shows), no category cap, nothing held back across sessions. */
  let cached: FeedHarness;
  /** The same with FEED_CANDIDATE_CACHE_SEC=0: the vector search on every request. */
  let uncached: FeedHarness;
  const common = {
    FEED_EPSILON: '0',
    FEED_RANKER: 'off',
    FEED_CATEGORY_SHARE: '1',
    FEED_SERVED_WINDOW_MINUTES: '0',
    FEED_COENGAGEMENT_CANDIDATES: '0',
    // The cache itself, one read per page: the process keeping candidates between reads is
    // test/feed/candidateMemory.test.ts.
    FEED_CANDIDATE_MEMORY_SEC: '0',
  };

  const viewerOf = (cluster: number) =>
    createFeedViewer(db.pool, [{ interestId: world.interestIds[cluster]!, affinity: 0.9 }]);
  const page = async (h: FeedHarness, who: Viewer, variables: Record<string, unknown> = {}) =>
    listingIdsOf(await suggestionsPage(h, who, { first: 5, ...variables }));
  const cacheRow = async (userId: string) =>
    (
      await db.pool.query<{ listing_ids: number[]; computed_at: Date }>(
        'SELECT listing_ids, computed_at FROM feed_viewer_candidates WHERE user_id = $1',
        [userId],
      )
    ).rows[0];

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [20, 20, 20]);
    cached = createFeedHarness(db, common);
    uncached = createFeedHarness(db, { ...common, FEED_CANDIDATE_CACHE_SEC: '0' });
  });

  afterAll(async () => {
    await cached?.close();
    await uncached?.close();
    await db?.drop();
  });

  it('keeps the first request’s personal candidates: the viewer’s page, nothing of their own or liked', async () => {
    const who = await viewerOf(0);
    const liked = world.listings[0]![0]!.id;
    await db.pool.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [who.userId, liked]);
    const own = await insertListing(db.pool, {
      categoryId: world.categoryIds[0]!,
      sellerId: who.userId,
      embedding: clusterCentre(0),
    });
    expect(await cacheRow(who.userId)).toBeUndefined();
    const first = await page(cached, who);
    const row = await cacheRow(who.userId);
    expect(row).toBeDefined();
    expect(row!.listing_ids.length).toBeLessThanOrEqual(VIEWER_CANDIDATES);
    expect(row!.listing_ids).toEqual(expect.arrayContaining(first));
    expect(row!.listing_ids).not.toContain(liked);
    expect(row!.listing_ids).not.toContain(own);
    // The uncached feed serves the same page.
    expect(await page(uncached, who)).toEqual(first);
  });

  it('serves later requests from the cache until the profile embedding changes', async () => {
    const who = await viewerOf(1);
    const before = await page(cached, who);
    const stored = (await cacheRow(who.userId))!.computed_at;
    // A new listing right at the viewer's profile: the vector search would put it first.
    const perfect = await insertListing(db.pool, {
      categoryId: world.categoryIds[1]!,
      embedding: clusterCentre(1),
    });
    expect((await page(uncached, who))[0]).toBe(perfect);
    // A new session of the cached feed: the stored candidates, without the vector search.
    expect(await page(cached, who)).toEqual(before);
    expect((await cacheRow(who.userId))!.computed_at).toEqual(stored);
    // A profile recompute (what a like, hide or interest change requests) makes the cache stale.
    await db.pool.query('SELECT recompute_profile_embedding($1)', [who.userId]);
    expect((await page(cached, who))[0]).toBe(perfect);
    expect((await cacheRow(who.userId))!.computed_at.getTime()).toBeGreaterThan(stored.getTime());
  });

  it('searches again once the cache is older than FEED_CANDIDATE_CACHE_SEC', async () => {
    const who = await viewerOf(2);
    await page(cached, who);
    const perfect = await insertListing(db.pool, {
      categoryId: world.categoryIds[2]!,
      embedding: clusterCentre(2),
    });
    expect(await page(cached, who)).not.toContain(perfect);
    await db.pool.query(
      `UPDATE feed_viewer_candidates SET computed_at = now() - interval '301 seconds' WHERE user_id = $1`,
      [who.userId],
    );
    expect((await page(cached, who))[0]).toBe(perfect);
  });

  it('drops a cached listing from the page the moment it is sold', async () => {
    const who = await viewerOf(0);
    const before = await page(cached, who);
    await db.pool.query(`UPDATE marketplace_listings SET status = 'sold' WHERE id = $1`, [before[0]]);
    try {
      const after = await page(cached, who);
      expect(after).not.toContain(before[0]);
      expect(after).toHaveLength(5);
      expect(after.slice(0, 4)).toEqual(before.slice(1));
    } finally {
      await db.pool.query(`UPDATE marketplace_listings SET status = 'active' WHERE id = $1`, [before[0]]);
    }
  });

  it('pages a long session without repeats past what the cache holds', async () => {
    const who = await viewerOf(1);
    const seen: number[] = [];
    let after: string | null = null;
    for (let i = 0; i < 8; i += 1) {
      const p = await suggestionsPage(cached, who, { first: 8, after });
      seen.push(...listingIdsOf(p));
      after = p.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(60);
  });

  it('replaces a cache that ran short with a fresh search, so the next pages are served from it again', async () => {
    const who = await viewerOf(2);
    await page(cached, who);
    // What an hour of scrolling leaves: a cache whose candidates were nearly all served since.
    await db.pool.query(
      `UPDATE feed_viewer_candidates SET listing_ids = listing_ids[1:5], scores = scores[1:5],
         sources = sources[1:5] WHERE user_id = $1`,
      [who.userId],
    );
    const short = (await cacheRow(who.userId))!;
    const served = await page(cached, who);
    const refreshed = (await cacheRow(who.userId))!;
    expect(refreshed.computed_at.getTime()).toBeGreaterThan(short.computed_at.getTime());
    expect(refreshed.listing_ids.length).toBeGreaterThan(5);
    expect(refreshed.listing_ids).toEqual(expect.arrayContaining(served));
    // Served from the new cache: a listing that now matches the profile best stays out until it expires.
    const perfect = await insertListing(db.pool, {
      categoryId: world.categoryIds[2]!,
      embedding: clusterCentre(2),
    });
    expect(await page(cached, who)).not.toContain(perfect);
    expect(await page(uncached, who)).toContain(perfect);
  });

  it('does not rewrite the cache on every request when the catalogue cannot fill it', async () => {
    // A quarter of the 60 test listings hidden: what is left (with the few the tests above added) is fewer
    // than the 50 the SIMILAR pool asks for, so every request searches and none can refill the cache.
    const who = await viewerOf(0);
    const everything = world.listings.flat().map((l) => l.id);
    await db.pool.query(
      'INSERT INTO hidden_listings (user_id, listing_id) SELECT $1, unnest($2::int[]) ON CONFLICT DO NOTHING',
      [who.userId, everything.slice(0, 25)],
    );
    await page(cached, who);
    const stored = (await cacheRow(who.userId))!;
    expect(stored.listing_ids.length).toBeLessThan(50);
    await page(cached, who);
    await page(cached, who);
    expect((await cacheRow(who.userId))!.computed_at).toEqual(stored.computed_at);
  });

  it('neither reads nor writes the cache for a category page', async () => {
    const who = await viewerOf(2);
    const ids = await page(cached, who, { category: world.slugs[0] });
    expect(ids.length).toBeGreaterThan(0);
    expect(await cacheRow(who.userId)).toBeUndefined();
  });

  it('goes with the profile when the account is deleted', async () => {
    const who = await viewerOf(0);
    await page(cached, who);
    expect(await cacheRow(who.userId)).toBeDefined();
    await db.pool.query('DELETE FROM profiles WHERE user_id = $1', [who.userId]);
    expect(await cacheRow(who.userId)).toBeUndefined();
  });
});
