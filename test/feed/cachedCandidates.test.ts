import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDb, type ServiceDb } from '../../src/db/service.js';
import {
  fetchCandidates,
  KnownCandidateCaches,
  POOLS,
  type CandidateQuery,
  type CandidateSet,
} from '../../src/feed/candidates.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';

/**
 * The cached read (feedCachedCandidatesSql on generic-plan sessions) against the full candidate
 * statement: the same pools from the same state, and the full statement whenever the cache cannot
 * serve. The service path is the real one; it only notes which statement each call ran.
 */
describe('the feed’s cached-candidates read', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let real: ServiceDb;
  const ran: string[] = [];
  const service: ServiceDb = {
    query: (text, values, name) => {
      ran.push(name ?? 'unnamed');
      return real.query(text, values, name);
    },
    queryGeneric: (text, values, name) => {
      ran.push(`${name} (generic)`);
      return real.queryGeneric(text, values, name);
    },
    close: () => real.close(),
  };

  const query = (userId: string, overrides: Partial<CandidateQuery> = {}): CandidateQuery => ({
    userId,
    categoryId: null,
    similarLimit: 20,
    poolLimit: 20,
    coengagementLimit: 0,
    servedWindowMinutes: 0,
    session: randomUUID(),
    exploreIds: world.listings.flat().map((l) => l.id),
    categoryCap: 4,
    candidateCacheSec: 300,
    ...overrides,
  });
  const poolsOf = (set: CandidateSet) =>
    Object.fromEntries(
      Object.entries(set.pools).map(([pool, items]) => [pool, items.map((c) => c.listing.id)]),
    );
  const viewer = () => createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.9 }]);

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [40, 40, 40]);
    real = createServiceDb({ url: db.url, statementTimeoutMs: 10_000, poolMax: 2, onPoolError: () => {} });
  });

  afterAll(async () => {
    await real?.close();
    await db?.drop();
  });

  it('reads a known cache without the search and serves what the full statement serves', async () => {
    const who = await viewer();
    const known = new KnownCandidateCaches();
    ran.length = 0;
    await fetchCandidates(service, query(who.userId), known);
    expect(ran).toEqual(['feed_candidates']);
    const now = Date.now();
    const cachedRead = await fetchCandidates(service, query(who.userId, { session: 's1' }), known, now);
    expect(ran).toEqual(['feed_candidates', 'feed_cached_candidates (generic)']);
    // The full statement on the same state (it reads the same cache row).
    const full = await fetchCandidates(service, query(who.userId, { session: 's1' }), null, now);
    expect(poolsOf(cachedRead)).toEqual(poolsOf(full));
    expect(cachedRead.pools.SIMILAR).toHaveLength(20);
    expect([...cachedRead.features.entries()]).toEqual([...full.features.entries()]);
    expect(cachedRead.hasEmbedding).toBe(true);
  });

  it('gives every candidate its own listing’s features, read where its pool read it', async () => {
    const who = await viewer();
    const known = new KnownCandidateCaches();
    // The search (it stores the viewer's cache), then the full statement and the cached read of that cache:
    // the same meaning of every feature on each path, the search's flags included.
    const searched = await fetchCandidates(service, query(who.userId), known);
    for (const read of ['search', 'full', 'cached'] as const) {
      const set =
        read === 'search'
          ? searched
          : await fetchCandidates(service, query(who.userId), read === 'cached' ? known : null);
      const ids = [...set.features.keys()];
      const { rows } = await db.pool.query<{ id: number; similarity: number; popularity: number }>(
        `SELECT l.id, (1 - (l.embedding <=> p.embedding))::float8 AS similarity, l.popularity::float8 AS popularity
         FROM marketplace_listings l, profiles p WHERE p.user_id = $1 AND l.id = ANY($2::int[])`,
        [who.userId, ids],
      );
      expect(rows).toHaveLength(ids.length);
      const similar = new Set(set.pools.SIMILAR.map((c) => c.listing.id));
      expect(similar.size).toBe(20);
      for (const row of rows) {
        const features = set.features.get(row.id)!;
        expect(features.similarity, `${read} ${row.id}`).toBeCloseTo(row.similarity, 9);
        expect(features.popularity, `${read} ${row.id}`).toBeCloseTo(Math.log1p(row.popularity), 9);
        // Found by the search: every SIMILAR candidate, and the same listing in any other pool.
        expect(features.fromSimilar, `${read} ${row.id}`).toBe(similar.has(row.id) ? 1 : 0);
      }
      // Some listing sits in SIMILAR and another pool: its rows there carry the search's flag too.
      expect(
        POOLS.filter((pool) => pool !== 'SIMILAR').some((pool) =>
          set.pools[pool].some((c) => similar.has(c.listing.id)),
        ),
      ).toBe(true);
    }
  });

  it('falls back to the full statement in the same call when the cache ran short or went stale', async () => {
    const who = await viewer();
    const known = new KnownCandidateCaches();
    await fetchCandidates(service, query(who.userId), known);
    // Short: hardly any of it left.
    await db.pool.query(
      `UPDATE feed_viewer_candidates SET listing_ids = listing_ids[1:3], scores = scores[1:3],
         sources = sources[1:3] WHERE user_id = $1`,
      [who.userId],
    );
    ran.length = 0;
    const refilled = await fetchCandidates(service, query(who.userId), known);
    expect(ran).toEqual(['feed_cached_candidates (generic)', 'feed_candidates']);
    expect(refilled.pools.SIMILAR).toHaveLength(20);
    // Refilled by that search, so the next page reads the cache again.
    ran.length = 0;
    await fetchCandidates(service, query(who.userId), known);
    expect(ran).toEqual(['feed_cached_candidates (generic)']);
    // Stale: the profile embedding changed after the cache was stored.
    await db.pool.query('SELECT recompute_profile_embedding($1)', [who.userId]);
    ran.length = 0;
    await fetchCandidates(service, query(who.userId), known);
    expect(ran).toEqual(['feed_cached_candidates (generic)', 'feed_candidates']);
  });

  it('refills the cache one page early, so a scrolling viewer’s page is always one candidate statement', async () => {
    /** `pages` pages of a session that serves `first` SIMILAR candidates each; the statements of each. */
    const scroll = async (lookahead: number, pages: number) => {
      const who = await viewer();
      const known = new KnownCandidateCaches();
      const session = randomUUID();
      const perPage: string[][] = [];
      for (let page = 0; page < pages; page += 1) {
        ran.length = 0;
        const set = await fetchCandidates(
          service,
          query(who.userId, { session, servedWindowMinutes: 60, lookahead }),
          known,
        );
        // A page that found nothing at all also looks up whether the viewer has an embedding (for its
        // fallback reason): marked, so the rule below is about pages that had something to serve.
        const nothingLeft = Object.values(set.pools).every((pool) => pool.length === 0);
        perPage.push(nothingLeft ? ['(nothing left)', ...ran] : [...ran]);
        const served = set.pools.SIMILAR.slice(0, 10).map((c) => c.listing.id);
        await db.pool.query(
          `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, context)
           SELECT $1, id, 'epsilon_greedy', 'SIMILAR', 1, 0, jsonb_build_object('session', $2::text)
           FROM unnest($3::int[]) AS id`,
          [who.userId, session, served],
        );
      }
      return perPage;
    };
    // 120 listings, 10 served per page: the cache runs out of a SIMILAR pool of 20 after about ten pages.
    const ahead = await scroll(10, 14);
    expect(ahead.filter((statements) => statements.length > 1 && statements[0] !== '(nothing left)')).toEqual(
      [],
    );
    expect(ahead.at(-1)).toEqual(['(nothing left)', 'feed_candidates', 'feed_viewer_has_embedding']);
    expect(ahead.flat()).toContain('feed_cached_candidates (generic)');
    // Without the lookahead, the page that finds the cache short runs the read and then the search.
    const late = await scroll(0, 14);
    expect(late.filter((statements) => statements.length > 1)).toContainEqual([
      'feed_cached_candidates (generic)',
      'feed_candidates',
    ]);
  });

  it('sends a page that asks for a bigger pool than the cache is known to hold straight to the search', async () => {
    const who = await viewer();
    const known = new KnownCandidateCaches();
    const session = randomUUID();
    const page = async (similarLimit: number) => {
      ran.length = 0;
      const set = await fetchCandidates(
        service,
        query(who.userId, { session, servedWindowMinutes: 60, similarLimit, lookahead: 10 }),
        known,
      );
      await db.pool.query(
        `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, context)
         SELECT $1, id, 'epsilon_greedy', 'SIMILAR', 1, 0, jsonb_build_object('session', $2::text)
         FROM unnest($3::int[]) AS id`,
        [who.userId, session, set.pools.SIMILAR.slice(0, 10).map((c) => c.listing.id)],
      );
      return [...ran];
    };
    for (let i = 0; i < 8; i += 1) expect((await page(20)).length).toBe(1);
    // The process knows 20 left for the next page (a pool of 20's worth): not enough for a pool of 40.
    expect(await page(40)).toEqual(['feed_candidates']);
  });

  it('knows a cache found usable expires its TTL after it was computed, not after this page', async () => {
    const who = await viewer();
    await fetchCandidates(service, query(who.userId), new KnownCandidateCaches());
    // Computed 290 s ago (after the profile embedding), with a TTL of 300 s: 10 s of it left.
    await db.pool.query(
      `UPDATE profiles SET embedding_updated_at = now() - interval '295 seconds' WHERE user_id = $1`,
      [who.userId],
    );
    await db.pool.query(
      `UPDATE feed_viewer_candidates SET computed_at = now() - interval '290 seconds' WHERE user_id = $1`,
      [who.userId],
    );
    const known = new KnownCandidateCaches();
    const now = Date.now();
    ran.length = 0;
    await fetchCandidates(service, query(who.userId), known, now);
    expect(ran).toEqual(['feed_candidates']);
    expect(known.usable(who.userId, 20, now + 5_000)).toBe(true);
    // Past its expiry the process does not try the cached read (it would find the cache stale).
    expect(known.usable(who.userId, 20, now + 15_000)).toBe(false);
  });

  it('does not try the cached read for a page its cache cannot fill, a category page, no cache or no SIMILAR pool', async () => {
    const who = await viewer();
    await fetchCandidates(service, query(who.userId), new KnownCandidateCaches());
    const cases: Partial<CandidateQuery>[] = [
      // 120 listings: the cache holds fewer than a SIMILAR pool of 200.
      { similarLimit: 200 },
      { categoryId: world.categoryIds[0]! },
      { candidateCacheSec: 0 },
      { similarLimit: 0 },
    ];
    for (const overrides of cases) {
      // A process that knows the viewer's cache (and that it would serve a page of 20 from it).
      const known = new KnownCandidateCaches();
      known.remember(who.userId, 100, Date.now() + 60_000);
      ran.length = 0;
      await fetchCandidates(service, query(who.userId, overrides), known);
      expect(ran, JSON.stringify(overrides)).toEqual(['feed_candidates']);
    }
    // The control: the same knowledge, a page it can serve.
    const known = new KnownCandidateCaches();
    known.remember(who.userId, 100, Date.now() + 60_000);
    ran.length = 0;
    await fetchCandidates(service, query(who.userId), known);
    expect(ran).toEqual(['feed_cached_candidates (generic)']);
  });

  it('plans the cached read generically, on sessions of its own', async () => {
    const mode = async (run: ServiceDb['query']) =>
      (
        await run<{ mode: string }>("SELECT current_setting('plan_cache_mode') AS mode", [], 'test_plan_mode')
      )[0]?.mode;
    expect(await mode(real.query)).toBe('auto');
    expect(await mode((text, values, name) => real.queryGeneric(text, values, name ?? 'x'))).toBe(
      'force_generic_plan',
    );
  });
});
