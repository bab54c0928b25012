import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  createFeedHarness,
  categoryIdsOf,
  listingIdsOf,
  sourcesOf,
  suggestionsPage,
  SUGGESTIONS,
  type FeedHarness,
  type SuggestionsPage,
} from '../support/feedHarness.js';
import { createFeedViewer, learningEvents, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { insertListing } from '../support/fixtures.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { postGraphQL } from '../support/http.js';

/** P (0): the 22 most popular and oldest listings. Q (1), R (2): newer, less popular. T (3): 3 listings. */
const P = 0;
const T = 3;

describe('feed fallback chain', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let h: FeedHarness;

  const ids = async (sql: string, values: unknown[] = []): Promise<number[]> =>
    (await db.pool.query<{ id: number }>(sql, values)).rows.map((r) => r.id);

  /**
   * What a page of 10 without personalisation holds here: the `capOfP` most popular (all P, capped; 4 of
   * 10 unless the viewer's likes raise P's cap), then the newest of other categories.
   */
  async function expectedPopularThenRecent(capOfP = 4): Promise<number[]> {
    const popular = await ids(
      `SELECT id FROM marketplace_listings WHERE status = 'active' ORDER BY popularity DESC, id DESC LIMIT $1`,
      [capOfP],
    );
    const recent = await ids(
      `SELECT id FROM marketplace_listings WHERE status = 'active' AND category_id <> $1
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      [world.categoryIds[P], 10 - capOfP],
    );
    return [...popular, ...recent];
  }

  /** Runs `fn` and returns the change of the fallback counter and the feed_fallback log lines. */
  async function observed<T>(
    reason: string,
    fn: () => Promise<T>,
  ): Promise<{ value: T; delta: number; logged: number }> {
    const before = await h.fallbackCount(reason);
    const logsBefore = h.logs.length;
    const value = await fn();
    const logged = h.logs
      .slice(logsBefore)
      .filter((l) => l.event === 'feed_fallback' && l.msg === 'feed_fallback' && l.reason === reason).length;
    return { value, delta: (await h.fallbackCount(reason)) - before, logged };
  }

  const perCategoryMax = (page: SuggestionsPage): number => {
    const counts = new Map<number, number>();
    for (const c of categoryIdsOf(page)) counts.set(c, (counts.get(c) ?? 0) + 1);
    return Math.max(...counts.values());
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [22, 10, 10, 3]);
    await db.pool.query(
      `UPDATE marketplace_listings SET popularity = popularity + 10000, created_at = created_at - interval '10 days'
        WHERE category_id = $1`,
      [world.categoryIds[P]],
    );
    h = createFeedHarness(db, { FEED_EPSILON: '0', FEED_CATEGORY_SHARE: '0.4', STATEMENT_TIMEOUT_MS: '400' });
  });

  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('serves an anonymous viewer popular first, then recent, as fallback ANONYMOUS from POPULAR', async () => {
    const {
      value: page,
      delta,
      logged,
    } = await observed('ANONYMOUS', () => suggestionsPage(h, undefined, { first: 10 }));
    expect(page.fallback).toEqual({ reason: 'ANONYMOUS', source: 'POPULAR' });
    expect(listingIdsOf(page)).toEqual(await expectedPopularThenRecent());
    expect(sourcesOf(page)).toEqual([
      ...Array<string>(4).fill('POPULAR'),
      ...Array<string>(6).fill('RECENT'),
    ]);
    expect(delta).toBe(1);
    expect(logged).toBe(1);
  });

  it('serves a viewer without a profile embedding the same chain, as NO_PROFILE_EMBEDDING', async () => {
    const viewer = await createFeedViewer(db.pool, []);
    const {
      value: page,
      delta,
      logged,
    } = await observed('NO_PROFILE_EMBEDDING', () => suggestionsPage(h, viewer, { first: 10 }));
    expect(page.fallback).toEqual({ reason: 'NO_PROFILE_EMBEDDING', source: 'POPULAR' });
    expect(listingIdsOf(page)).toEqual(await expectedPopularThenRecent());
    expect(delta).toBe(1);
    expect(logged).toBe(1);
    const events = await learningEvents(
      db.pool,
      page.edges.map((e) => e.node.impressionId),
    );
    expect(events.map((e) => e.policy)).toEqual(Array<string>(10).fill('fallback'));
  });

  it('lets the fallback fill take a category up to the viewer’s own share of ten or more likes', async () => {
    // Likes on sold listings (so every active listing is still a candidate): 8 of P and 2 of Q for one
    // viewer, 5 of P alone for another. Neither has a profile embedding.
    const sold = async (category: number, n: number) =>
      Promise.all(
        Array.from({ length: n }, () =>
          insertListing(db.pool, { categoryId: world.categoryIds[category]!, status: 'sold' }),
        ),
      );
    const tenLikes = [...(await sold(P, 8)), ...(await sold(1, 2))];
    const fiveLikes = await sold(P, 5);
    const regular = await createFeedViewer(db.pool, []);
    const newcomer = await createFeedViewer(db.pool, []);
    const like = (userId: string, listings: number[]) =>
      db.pool.query(`INSERT INTO likes (user_id, listing_id) SELECT $1, unnest($2::int[])`, [
        userId,
        listings,
      ]);
    try {
      await like(regular.userId, tenLikes);
      await like(newcomer.userId, fiveLikes);
      const page = await suggestionsPage(h, regular, { first: 10 });
      expect(page.fallback).toEqual({ reason: 'NO_PROFILE_EMBEDDING', source: 'POPULAR' });
      // P's share of their likes is 0.8: the 8 most popular (all P), then the 2 newest of other categories.
      expect(listingIdsOf(page)).toEqual(await expectedPopularThenRecent(8));
      expect(categoryIdsOf(page).filter((c) => c === world.categoryIds[P])).toHaveLength(8);
      // Five likes say too little: the configured cap of 4, as for anyone.
      const newcomerPage = await suggestionsPage(h, newcomer, { first: 10 });
      expect(listingIdsOf(newcomerPage)).toEqual(await expectedPopularThenRecent());
      expect(perCategoryMax(newcomerPage)).toBe(4);
    } finally {
      await db.pool.query('DELETE FROM likes WHERE user_id = ANY($1::uuid[])', [
        [regular.userId, newcomer.userId],
      ]);
      await db.pool.query('DELETE FROM marketplace_listings WHERE id = ANY($1::int[])', [
        [...tenLikes, ...fiveLikes],
      ]);
    }
  });

  it('fills a category page without a profile embedding with popular listings of any category (GLOBAL)', async () => {
    const viewer = await createFeedViewer(db.pool, []);
    const page = await suggestionsPage(h, viewer, { first: 10, category: world.slugs[T] });
    expect(page.fallback).toEqual({ reason: 'NO_PROFILE_EMBEDDING', source: 'POPULAR' });
    expect(page.edges).toHaveLength(10);
    const tByPopularity = [...world.listings[T]!]
      .sort((a, b) => b.popularity - a.popularity)
      .map((l) => l.id);
    expect(listingIdsOf(page).slice(0, 3)).toEqual(tByPopularity);
    expect(sourcesOf(page)).toEqual([
      ...Array<string>(3).fill('POPULAR'),
      ...Array<string>(7).fill('GLOBAL'),
    ]);
    expect(
      categoryIdsOf(page)
        .slice(3)
        .every((c) => c !== world.categoryIds[T]),
    ).toBe(true);
  });

  it('keeps the category cap in the GLOBAL fill while other categories have listings', async () => {
    const viewer = await createFeedViewer(db.pool, []);
    const page = await suggestionsPage(h, viewer, { first: 10, category: world.slugs[T] });
    expect(page.edges).toHaveLength(10);
    // Q and R hold 20 active listings, so no category needs more than ceil(10 × 0.4) = 4 slots.
    expect(perCategoryMax(page), JSON.stringify(categoryIdsOf(page))).toBeLessThanOrEqual(4);
  });

  it('reports NOT_ENOUGH_CANDIDATES and still fills the page when a category has too few similar listings', async () => {
    const viewer = await createFeedViewer(db.pool, [{ interestId: world.interestIds[T]!, affinity: 0.9 }]);
    const {
      value: page,
      delta,
      logged,
    } = await observed('NOT_ENOUGH_CANDIDATES', () =>
      suggestionsPage(h, viewer, { first: 10, category: world.slugs[T] }),
    );
    expect(page.fallback?.reason).toBe('NOT_ENOUGH_CANDIDATES');
    expect(['POPULAR', 'RECENT', 'GLOBAL']).toContain(page.fallback?.source);
    expect(page.edges).toHaveLength(10);
    expect(sourcesOf(page).slice(0, 3)).toEqual(['SIMILAR', 'SIMILAR', 'SIMILAR']);
    expect(categoryIdsOf(page).slice(0, 3)).toEqual(Array<number>(3).fill(world.categoryIds[T]!));
    for (const source of sourcesOf(page).slice(3)) expect(['POPULAR', 'RECENT', 'GLOBAL']).toContain(source);
    expect(new Set(listingIdsOf(page)).size).toBe(10);
    expect(delta).toBe(1);
    expect(logged).toBe(1);
  });

  it('says NOT_ENOUGH_CANDIDATES, not NO_PROFILE_EMBEDDING, when a viewer with an embedding has nothing left', async () => {
    const viewer = await createFeedViewer(db.pool, [{ interestId: world.interestIds[T]!, affinity: 0.9 }]);
    const { rows } = await db.pool.query<{ has: boolean }>(
      'SELECT embedding IS NOT NULL AS has FROM profiles WHERE user_id = $1',
      [viewer.userId],
    );
    expect(rows[0]?.has).toBe(true);
    // Everything hidden: the candidate statement returns no row at all.
    const hideEverything = (userId: string) =>
      db.pool.query(
        'INSERT INTO hidden_listings (user_id, listing_id) SELECT $1, id FROM marketplace_listings',
        [userId],
      );
    await hideEverything(viewer.userId);
    const { value: page, delta } = await observed('NOT_ENOUGH_CANDIDATES', () =>
      suggestionsPage(h, viewer, { first: 10 }),
    );
    expect(page.edges).toHaveLength(0);
    expect(page.fallback?.reason).toBe('NOT_ENOUGH_CANDIDATES');
    expect(delta).toBe(1);

    // And one without an embedding, in the same place, is still told why.
    const bare = await createFeedViewer(db.pool, []);
    await hideEverything(bare.userId);
    const unpersonalised = await suggestionsPage(h, bare, { first: 10 });
    expect(unpersonalised.edges).toHaveLength(0);
    expect(unpersonalised.fallback?.reason).toBe('NO_PROFILE_EMBEDDING');
  });

  it('serves the fallback chain as SIMILARITY_UNAVAILABLE when the candidates statement times out', async () => {
    const viewer = await createFeedViewer(db.pool, [{ interestId: world.interestIds[P]!, affinity: 0.9 }]);
    // Both the personalised statement and its non-personalised rerun are the same SQL text, so any
    // table lock blocks both: hold it until the first run has timed out and the rerun is waiting.
    const locker: pg.PoolClient = await db.pool.connect();
    let outcome: { value: SuggestionsPage; delta: number; logged: number } | undefined;
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE user_interests IN ACCESS EXCLUSIVE MODE');
      const run = observed('SIMILARITY_UNAVAILABLE', () => suggestionsPage(h, viewer, { first: 10 }));
      await waitForSecondLockWaiter(db.pool);
      await locker.query('ROLLBACK');
      outcome = await run;
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      locker.release();
    }
    if (!outcome) throw new Error('the suggestions request did not finish');
    const { value: result, delta, logged } = outcome;
    expect(result.fallback).toEqual({ reason: 'SIMILARITY_UNAVAILABLE', source: 'POPULAR' });
    expect(result.edges).toHaveLength(10);
    expect(sourcesOf(result).includes('SIMILAR')).toBe(false);
    expect(delta).toBe(1);
    expect(logged).toBe(1);
    expect(h.logs.some((l) => l.level === 'warn' && /similarity query failed/.test(String(l.msg)))).toBe(
      true,
    );
  });

  it('counts fallbacks in lodestar_feed_fallback_total on GET /metrics', async () => {
    const gateway: TestGateway = await createTestGateway(db);
    try {
      const viewer = await createFeedViewer(db.pool, []);
      const token = await gateway.token({ sub: viewer.userId, role: 'user' });
      for (const options of [{}, {}, { token }]) {
        const res = await postGraphQL(gateway, SUGGESTIONS, {
          variables: { first: 3 },
          ...options,
        });
        expect(res.body.errors, res.raw).toBeUndefined();
        expect(res.body.data?.suggestions.edges).toHaveLength(3);
      }
      const metrics = await gateway.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toContain('lodestar_feed_fallback_total{reason="ANONYMOUS"} 2');
      expect(metrics.body).toContain('lodestar_feed_fallback_total{reason="NO_PROFILE_EMBEDDING"} 1');
    } finally {
      await gateway.close();
    }
  });
});

/**
 * Waits until a second, different statement of the gateway's service pool is waiting for a lock (the
 * fallback rerun after the first statement timed out). Gives up after 5 s.
 */
async function waitForSecondLockWaiter(pool: pg.Pool): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const { rows } = await pool.query<{ key: string }>(
      `SELECT pid || '@' || query_start AS key FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'lodestar-gateway-service'
          AND wait_event_type = 'Lock'`,
    );
    for (const row of rows) seen.add(row.key);
    if (seen.size >= 2) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
