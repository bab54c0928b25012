import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDb, type ServiceDb } from '../../src/db/service.js';
import {
  fetchCandidates,
  KnownCandidateCaches,
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
