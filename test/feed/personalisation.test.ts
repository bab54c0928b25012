import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  createFeedHarness,
  categoryIdsOf,
  listingIdsOf,
  sourcesOf,
  suggestionsPage,
  type FeedHarness,
} from '../support/feedHarness.js';
import {
  clusterCentre,
  createFeedViewer,
  refreshVectorIndex,
  seedFeedWorld,
  type FeedWorld,
} from '../support/feedWorld.js';
import { insertLearningEvent, insertListing } from '../support/fixtures.js';
import { dataOf } from '../support/graphqlResult.js';
import { RANKING_FEATURES, RANKING_FEATURES_VERSION } from '../../src/feed/ranking.js';
import { graphql } from '../support/graphql.js';

/** Clusters: A (0), B (1), C (2) with 8 listings each; D (3) with 6, used by the exclusion test only. */
const A = 0;
const D = 3;

describe('personalised suggestions', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  /** ε = 0 (no exploration), category share 0.4 (the cap tests count 4 of 10) and served window 30 minutes. */
  let greedy: FeedHarness;
  /** As `greedy`, with FEED_CATEGORY_SHARE_FROM_LIKES=false: four of a category for everyone. */
  let greedyFixedCap: FeedHarness;
  /** ε = 0 and no category cap (share 1); the default ranking stage. */
  let uncapped: FeedHarness;
  /** ε = 0, no category cap and FEED_RANKER=off, so the raw similarity ranking shows. */
  let similarityOnly: FeedHarness;
  /** ε = 0, no category cap and FEED_SERVED_WINDOW_MINUTES = 0. */
  let noWindow: FeedHarness;
  /** ε = 0, no category cap, FEED_RANKER=fixed with FEED_RANKER_WEIGHTS weighing popularity alone. */
  let popularityOnly: FeedHarness;

  const viewerOf = (cluster: number) =>
    createFeedViewer(db.pool, [{ interestId: world.interestIds[cluster]!, affinity: 0.9 }]);

  /** Active listings nearest to the viewer's profile embedding, exactly (no index), as the owner. */
  async function exactNearest(userId: string): Promise<{ id: number; similarity: number }[]> {
    const { rows } = await db.pool.query<{ id: number; similarity: number }>(
      `SELECT l.id, 1 - (l.embedding <=> p.embedding) AS similarity
         FROM marketplace_listings l, profiles p
        WHERE p.user_id = $1 AND l.status = 'active' AND l.seller_id IS DISTINCT FROM $1
        ORDER BY l.embedding <=> p.embedding, l.id`,
      [userId],
    );
    return rows;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [8, 8, 8, 6]);
    greedy = createFeedHarness(db, { FEED_EPSILON: '0', FEED_CATEGORY_SHARE: '0.4' });
    greedyFixedCap = createFeedHarness(db, {
      FEED_EPSILON: '0',
      FEED_CATEGORY_SHARE: '0.4',
      FEED_CATEGORY_SHARE_FROM_LIKES: 'false',
    });
    uncapped = createFeedHarness(db, { FEED_EPSILON: '0', FEED_CATEGORY_SHARE: '1' });
    similarityOnly = createFeedHarness(db, {
      FEED_EPSILON: '0',
      FEED_CATEGORY_SHARE: '1',
      FEED_RANKER: 'off',
    });
    noWindow = createFeedHarness(db, {
      FEED_EPSILON: '0',
      FEED_CATEGORY_SHARE: '1',
      FEED_SERVED_WINDOW_MINUTES: '0',
    });
    popularityOnly = createFeedHarness(db, {
      FEED_EPSILON: '0',
      FEED_CATEGORY_SHARE: '1',
      FEED_RANKER: 'fixed',
      FEED_RANKER_WEIGHTS:
        'similarity=0 coengagement=0 recency=0 categoryAffinity=0 categoryShare=0 popularity=1',
    });
  });

  afterAll(async () => {
    await greedy?.close();
    await greedyFixedCap?.close();
    await uncapped?.close();
    await similarityOnly?.close();
    await noWindow?.close();
    await popularityOnly?.close();
    await db?.drop();
  });

  it('with FEED_RANKER=off ranks every listing of the viewer’s category above all other categories', async () => {
    const viewer = await viewerOf(A);
    const page = await suggestionsPage(similarityOnly, viewer, { first: 10 });
    expect(page.fallback).toBeNull();
    expect(sourcesOf(page)).toEqual(Array<string>(10).fill('SIMILAR'));
    const categories = categoryIdsOf(page);
    expect(categories.slice(0, 8)).toEqual(Array<number>(8).fill(world.categoryIds[A]!));
    expect(categories.slice(8).every((c) => c !== world.categoryIds[A])).toBe(true);
    // Category A in descending similarity, as an exact nearest-neighbour scan orders it.
    const exact = (await exactNearest(viewer.userId)).map((r) => r.id);
    expect(listingIdsOf(page).slice(0, 8)).toEqual(exact.slice(0, 8));
    expect(page.edges.map((e) => e.node.position)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('with FEED_RANKER=off reports the cosine similarity to the profile as the score', async () => {
    const viewer = await viewerOf(A);
    const page = await suggestionsPage(similarityOnly, viewer, { first: 10 });
    const similarity = new Map((await exactNearest(viewer.userId)).map((r) => [r.id, r.similarity]));
    const scores = page.edges.map((e) => e.node.score);
    const expected = listingIdsOf(page).map((id) => similarity.get(id));
    for (const [i, score] of scores.entries()) expect(score, `position ${i}`).toBeCloseTo(expected[i]!, 5);
    expect(scores[0]).toBeGreaterThan(0.8);
  });

  it('with FEED_RANKER=off never serves a listing without an embedding as SIMILAR', async () => {
    const bare = await insertListing(db.pool, { categoryId: world.categoryIds[A]! });
    try {
      const viewer = await viewerOf(A);
      const page = await suggestionsPage(similarityOnly, viewer, { first: 40 });
      const edge = page.edges.find((e) => Number(e.node.listing.id) === bare);
      expect(edge?.node.source ?? 'not served').not.toBe('SIMILAR');
    } finally {
      await db.pool.query('DELETE FROM marketplace_listings WHERE id = $1', [bare]);
    }
  });

  it('ranks the viewer’s own category first and, among the rest, what their likes were liked together with', async () => {
    const viewer = await viewerOf(A);
    // The viewer liked two listings of B; one listing of C was liked together with both (co-engagement).
    const [b1, b2] = world.listings[1]!;
    const coLiked = world.listings[2]![0]!;
    await db.pool.query(
      `INSERT INTO likes (user_id, listing_id, created_at) VALUES ($1, $2, now() - interval '1 day'), ($1, $3, now())`,
      [viewer.userId, b1!.id, b2!.id],
    );
    await db.pool.query(
      `INSERT INTO listing_coengagement (listing_id, neighbour_id, together, score)
       VALUES ($1, $3, 5, 0.8), ($2, $3, 5, 0.8)`,
      [b1!.id, b2!.id, coLiked.id],
    );
    try {
      const page = await suggestionsPage(uncapped, viewer, { first: 10 });
      expect(page.fallback).toBeNull();
      expect(sourcesOf(page)).toEqual(Array<string>(10).fill('SIMILAR'));
      const ids = listingIdsOf(page);
      const categories = categoryIdsOf(page);
      expect(categories.slice(0, 8)).toEqual(Array<number>(8).fill(world.categoryIds[A]!));
      // Of every listing outside A, the co-liked one ranks first; the scores are the ranker's, best first.
      expect(ids[8]).toBe(coLiked.id);
      const scores = page.edges.map((e) => e.node.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      // What the ranker saw is logged with each impression, for the worker's training.
      const { rows } = await db.pool.query<{ features: number[]; version: string }>(
        `SELECT context -> 'features' AS features, context ->> 'featuresVersion' AS version
           FROM learning_events WHERE user_id = $1 AND listing_id = $2`,
        [viewer.userId, coLiked.id],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.version).toBe(String(RANKING_FEATURES_VERSION));
      expect(rows[0]!.features).toHaveLength(RANKING_FEATURES.length);
      const logged = Object.fromEntries(RANKING_FEATURES.map((name, i) => [name, rows[0]!.features[i]]));
      expect(logged.fromCoengagement).toBe(1);
      expect(logged.coengagement).toBeCloseTo(Math.log1p(1.6), 5);
      expect(logged.categoryShare).toBe(0);
    } finally {
      await db.pool.query('DELETE FROM listing_coengagement WHERE neighbour_id = $1', [coLiked.id]);
      await db.pool.query('DELETE FROM likes WHERE user_id = $1', [viewer.userId]);
    }
  });

  it('ranks with FEED_RANKER_WEIGHTS instead of the defaults', async () => {
    const viewer = await viewerOf(A);
    const popularity = new Map(world.listings.flat().map((l) => [l.id, l.popularity]));
    const page = await suggestionsPage(popularityOnly, viewer, { first: 10 });
    expect(page.fallback).toBeNull();
    const served = listingIdsOf(page).map((id) => popularity.get(id)!);
    // Popularity alone: the most popular candidates, best first, whatever their category (the defaults
    // put the eight listings of the viewer's own category first, as above).
    expect([...served].sort((a, b) => b - a)).toEqual(served);
    expect(new Set(categoryIdsOf(page).slice(0, 8)).size).toBeGreaterThan(1);
    page.edges.forEach((e, i) => expect(e.node.score).toBeCloseTo(Math.log1p(served[i]!), 6));
  });

  it('caps one category at ceil(10 × 0.4) = 4 items when other candidates exist', async () => {
    const viewer = await viewerOf(A);
    const page = await suggestionsPage(greedy, viewer, { first: 10 });
    expect(page.edges).toHaveLength(10);
    const perCategory = new Map<number, number>();
    for (const c of categoryIdsOf(page)) perCategory.set(c, (perCategory.get(c) ?? 0) + 1);
    expect(Math.max(...perCategory.values())).toBeLessThanOrEqual(4);
    // The cap binds: the viewer's own category still gets its full share, and first.
    expect(perCategory.get(world.categoryIds[A]!)).toBe(4);
    expect(categoryIdsOf(page).slice(0, 4)).toEqual(Array<number>(4).fill(world.categoryIds[A]!));
  });

  it('lets a category take the viewer’s own share of the page when their likes hold more of it than the cap', async () => {
    const viewer = await viewerOf(A);
    // Their latest ten likes: seven of category A, three of B (on sold listings, so every active listing of
    // A is still a candidate). A's share, 0.7, is above the configured 0.4; B's, 0.3, is not.
    const sold = [
      ...(await Promise.all(
        Array.from({ length: 7 }, () =>
          insertListing(db.pool, {
            categoryId: world.categoryIds[A]!,
            status: 'sold',
            embedding: clusterCentre(A),
          }),
        ),
      )),
      ...(await Promise.all(
        Array.from({ length: 3 }, () =>
          insertListing(db.pool, {
            categoryId: world.categoryIds[1]!,
            status: 'sold',
            embedding: clusterCentre(1),
          }),
        ),
      )),
    ];
    // A second viewer with the same likes, for the fixed cap (the first one's page is then served to them).
    const twin = await viewerOf(A);
    try {
      for (const v of [viewer, twin])
        await db.pool.query(`INSERT INTO likes (user_id, listing_id) SELECT $1, unnest($2::int[])`, [
          v.userId,
          sold,
        ]);
      const page = await suggestionsPage(greedy, viewer, { first: 10 });
      expect(page.edges).toHaveLength(10);
      const categories = categoryIdsOf(page);
      const count = (category: number) => categories.filter((c) => c === category).length;
      // Seven of A (of its eight active listings), first; no other category above the configured four.
      expect(count(world.categoryIds[A]!)).toBe(7);
      expect(categories.slice(0, 7)).toEqual(Array<number>(7).fill(world.categoryIds[A]!));
      expect(count(world.categoryIds[1]!)).toBeLessThanOrEqual(4);
      expect(count(world.categoryIds[2]!)).toBeLessThanOrEqual(4);
      // FEED_CATEGORY_SHARE_FROM_LIKES=false: the configured four, likes or not.
      const fixed = categoryIdsOf(await suggestionsPage(greedyFixedCap, twin, { first: 10 }));
      expect(fixed).toHaveLength(10);
      expect(fixed.filter((c) => c === world.categoryIds[A]).length).toBe(4);
    } finally {
      await db.pool.query('DELETE FROM likes WHERE user_id = ANY($1::uuid[])', [
        [viewer.userId, twin.userId],
      ]);
      await db.pool.query('DELETE FROM marketplace_listings WHERE id = ANY($1::int[])', [sold]);
    }
  });

  it('never serves the viewer’s own, liked, inactive or hidden listings', async () => {
    const viewer = await viewerOf(D);
    const [liked, hidden, ...rest] = world.listings[D]!;
    const own = await insertListing(db.pool, {
      categoryId: world.categoryIds[D]!,
      sellerId: viewer.userId,
      embedding: clusterCentre(D),
    });
    const inactive = await insertListing(db.pool, {
      categoryId: world.categoryIds[D]!,
      status: 'inactive',
      embedding: clusterCentre(D),
    });
    await refreshVectorIndex(db.pool);
    await db.pool.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [
      viewer.userId,
      liked!.id,
    ]);
    const hide = await uncapped.execute(
      graphql('mutation ($id: ID!) { hideListing(listingId: $id) { listingId hidden } }'),
      { viewer, variables: { id: String(hidden!.id) } },
    );
    expect(dataOf(hide).hideListing).toEqual({ listingId: String(hidden!.id), hidden: true });

    // first: 40 asks for more than exist, so every eligible listing is served.
    const page = await suggestionsPage(uncapped, viewer, { first: 40 });
    const served = listingIdsOf(page);
    for (const id of [own, inactive, liked!.id, hidden!.id]) expect(served).not.toContain(id);
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT id FROM marketplace_listings WHERE status = 'active' AND seller_id IS DISTINCT FROM $1
          AND id <> ALL($2::int[]) ORDER BY id`,
      [viewer.userId, [liked!.id, hidden!.id]],
    );
    expect([...served].sort((a, b) => a - b)).toEqual(rows.map((r) => r.id));
    // The remaining listings of D are the nearest, so they come first.
    expect(served.slice(0, rest.length).sort((a, b) => a - b)).toEqual(
      rest.map((l) => l.id).sort((a, b) => a - b),
    );
  });

  it('does not serve listings again in a new session within FEED_SERVED_WINDOW_MINUTES', async () => {
    const viewer = await viewerOf(A);
    const first = listingIdsOf(await suggestionsPage(greedy, viewer, { first: 5 }));
    expect(first).toHaveLength(5);
    const second = listingIdsOf(await suggestionsPage(greedy, viewer, { first: 5 }));
    expect(second).toHaveLength(5);
    expect(second.filter((id) => first.includes(id))).toEqual([]);
  });

  it('serves the same listings again in a new session with FEED_SERVED_WINDOW_MINUTES=0', async () => {
    const viewer = await viewerOf(A);
    const first = listingIdsOf(await suggestionsPage(noWindow, viewer, { first: 5 }));
    const second = listingIdsOf(await suggestionsPage(noWindow, viewer, { first: 5 }));
    expect(first).toHaveLength(5);
    expect(second).toEqual(first);
  });

  it('serves a listing again once its last impression is older than the window', async () => {
    const viewer = await viewerOf(A);
    const [old, recent] = (await exactNearest(viewer.userId)).map((r) => r.id);
    await insertLearningEvent(db.pool, { userId: viewer.userId, listingId: old!, createdAgo: '31 minutes' });
    await insertLearningEvent(db.pool, {
      userId: viewer.userId,
      listingId: recent!,
      createdAgo: '29 minutes',
    });
    const served = listingIdsOf(await suggestionsPage(uncapped, viewer, { first: 10 }));
    expect(served[0]).toBe(old);
    expect(served).not.toContain(recent);
  });

  it('keeps a hidden listing out of a new session even with FEED_SERVED_WINDOW_MINUTES=0', async () => {
    const viewer = await viewerOf(A);
    const first = listingIdsOf(await suggestionsPage(noWindow, viewer, { first: 5 }));
    const hide = await noWindow.execute('mutation ($id: ID!) { hideListing(listingId: $id) { hidden } }', {
      viewer,
      variables: { id: String(first[0]) },
    });
    dataOf(hide);
    const second = listingIdsOf(await suggestionsPage(noWindow, viewer, { first: 5 }));
    expect(second).not.toContain(first[0]);
    // The rest of the first page comes back in the same order, one more listing of A fills the gap.
    expect(second.slice(0, 4)).toEqual(first.slice(1));
    expect(categoryIdsOf(await suggestionsPage(noWindow, viewer, { first: 5 }))).toEqual(
      Array<number>(5).fill(world.categoryIds[A]!),
    );
  });
});
