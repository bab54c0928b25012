import { describe, expect, it } from 'vitest';
import { CandidateMemory, pageCandidates, servedBetweenReads, withoutListings } from './candidateMemory.js';
import { POOLS, VIEWER_CANDIDATES, type Candidate, type CandidateSet, type Pool } from './candidates.js';
import { FeatureTable, RANKING_FEATURES, type FeatureVector, type RankingFeature } from './ranking.js';

/** A set with `sizes[pool]` candidates per pool, ids numbered from the pool's base (SIMILAR 1000…). */
function setOf(
  sizes: Partial<Record<Pool, number>>,
  odd: ReadonlyMap<number, FeatureVector> = new Map(),
): CandidateSet {
  const pools = {} as Record<Pool, Candidate[]>;
  POOLS.forEach((pool, p) => {
    pools[pool] = Array.from({ length: sizes[pool] ?? 0 }, (_, i) => ({
      pool,
      score: 1 - i / 100,
      listing: { id: (p + 1) * 1000 + i, categoryId: 1 },
    }));
  });
  const features = POOLS.flatMap((pool) =>
    pools[pool].map((c) => [c.listing.id, odd.get(c.listing.id) ?? featuresOf(c.listing.id)] as const),
  );
  return { hasEmbedding: true, recentLikes: 0, pools, features: FeatureTable.of(features) };
}

function featuresOf(id: number): FeatureVector {
  const v = {} as Record<RankingFeature, number>;
  RANKING_FEATURES.forEach((name, i) => (v[name] = id / 1000 + i / 7));
  return v;
}

const ids = (set: CandidateSet | null, pool: Pool) => set?.pools[pool].map((c) => c.listing.id) ?? [];
const page = {
  first: 10,
  limits: { similar: 20, coengaged: 15 },
  session: 's1',
  windowMs: 30 * 60_000,
  budget: 1_000,
};

describe('CandidateMemory', () => {
  it('hands back what it kept, without the listings served since, until it expires', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', page, { ...setOf({ SIMILAR: 50, POPULAR: 40 }), recentLikes: 37 }, 0);
    memory.served('u', [1000, 1001, 4000]);
    const taken = memory.take('u', 10, 'another session', 14_999);
    // How many likes the category shares count (the page's category caps read it), kept too.
    expect(taken.set?.recentLikes).toBe(37);
    expect(withoutListings(taken.set!, new Set([1002])).recentLikes).toBe(37);
    expect(taken.outcome).toBe('hit');
    // Every SIMILAR candidate not served; a page's pool is the first 20 of them, the rest kept for the pages
    // after.
    expect(ids(taken.set, 'SIMILAR')).toEqual(Array.from({ length: 48 }, (_, i) => 1002 + i));
    expect(ids(pageCandidates(taken.set!, page.limits), 'SIMILAR')).toEqual(
      Array.from({ length: 20 }, (_, i) => 1002 + i),
    );
    expect(ids(taken.set, 'POPULAR')[0]).toBe(4001);
    // Scores, categories and features come back as they were kept.
    expect(taken.set?.pools.SIMILAR[0]).toEqual({
      pool: 'SIMILAR',
      score: 0.98,
      listing: { id: 1002, categoryId: 1 },
    });
    expect(taken.set?.features.get(1002)).toEqual(featuresOf(1002));
    // A lookup by id: a served listing's features stay, but no pool offers it.
    expect(taken.set?.features.get(1000)).toEqual(featuresOf(1000));
    expect(taken.keptAtMs).toBe(0);
    expect(memory.take('u', 10, 's1', 15_000)).toEqual({ set: null, outcome: 'expired' });
    // Expired candidates are dropped, not kept around.
    expect(memory.size).toBe(0);
  });

  it('keeps features whatever their values, NaN included (a zero vector’s similarity)', () => {
    const memory = new CandidateMemory(15_000, 10);
    const odd = { ...featuresOf(1000), similarity: Number.NaN };
    const set = setOf({ SIMILAR: 50 }, new Map([[1000, odd]]));
    memory.keep('u', page, set, 0);
    expect(memory.take('u', 10, 's1', 1).set?.features.get(1000)).toEqual(odd);
  });

  it('misses for another page size, a viewer it does not know, or when turned off', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', page, setOf({ SIMILAR: 50 }), 0);
    expect(memory.take('u', 20, 's1', 1).outcome).toBe('miss');
    expect(memory.take('v', 10, 's1', 1).outcome).toBe('miss');
    const off = new CandidateMemory(0, 10);
    expect(off.enabled).toBe(false);
    off.keep('u', page, setOf({ SIMILAR: 50 }), 0);
    expect(off.take('u', 10, 's1', 1).outcome).toBe('miss');
  });

  it('gives them up once SIMILAR holds less than a pool or another pool less than a page', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', page, setOf({ SIMILAR: 50, RECENT: 40, EXPLORE: 5 }), 0);
    // EXPLORE held less than a page: usable while it holds all 5.
    memory.served(
      'u',
      Array.from({ length: 30 }, (_, i) => 1000 + i),
    );
    const taken = memory.take('u', 10, 's1', 1);
    expect(taken.outcome).toBe('hit');
    expect(ids(taken.set, 'SIMILAR')).toEqual(Array.from({ length: 20 }, (_, i) => 1030 + i));
    memory.served('u', [1030]);
    expect(memory.take('u', 10, 's1', 1)).toEqual({ set: null, outcome: 'short', shortOf: ['SIMILAR'] });
    expect(memory.size).toBe(0);
    memory.keep('u', page, setOf({ SIMILAR: 50, RECENT: 40 }), 0);
    memory.served(
      'u',
      Array.from({ length: 31 }, (_, i) => 5000 + i),
    );
    expect(memory.take('u', 10, 's1', 1)).toEqual({ set: null, outcome: 'short', shortOf: ['RECENT'] });
  });

  it('says every pool that ran short', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', page, setOf({ SIMILAR: 50, CATEGORY: 10, POPULAR: 40 }), 0);
    // CATEGORY held a page: short as soon as one is served; POPULAR once fewer than a page are left.
    memory.served('u', [3000, ...Array.from({ length: 31 }, (_, i) => 4000 + i)]);
    expect(memory.take('u', 10, 's1', 1).shortOf).toEqual(['CATEGORY', 'POPULAR']);
  });

  it('ranks each page from a whole COENGAGED pool, the look-ahead after it moving up as pages are served', () => {
    const memory = new CandidateMemory(15_000, 10);
    const budget = 40;
    // The read returned the pool (15) and the look-ahead (the budget) after it.
    memory.keep('u', { ...page, budget }, setOf({ SIMILAR: 80, COENGAGED: 15 + budget }), 0);
    expect(ids(pageCandidates(memory.take('u', 10, 's1', 1).set!, page.limits), 'COENGAGED')).toEqual(
      Array.from({ length: 15 }, (_, i) => 2000 + i),
    );
    // Pages that take nothing but co-engaged listings: each still finds a whole pool, up to the budget.
    memory.served(
      'u',
      Array.from({ length: 30 }, (_, i) => 2000 + i),
    );
    const taken = memory.take('u', 10, 's1', 1);
    expect(taken.outcome).toBe('hit');
    expect(ids(pageCandidates(taken.set!, page.limits), 'COENGAGED')).toEqual(
      Array.from({ length: 15 }, (_, i) => 2030 + i),
    );
    memory.served(
      'u',
      Array.from({ length: 10 }, (_, i) => 2030 + i),
    );
    expect(memory.take('u', 10, 's1', 1)).toEqual({ set: null, outcome: 'short', shortOf: ['budget'] });
  });

  it('never finds COENGAGED short when the read returned all the viewer had (a read now would return the rest)', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', { ...page, budget: 40 }, setOf({ SIMILAR: 80, COENGAGED: 12 }), 0);
    memory.served(
      'u',
      Array.from({ length: 11 }, (_, i) => 2000 + i),
    );
    const taken = memory.take('u', 10, 's1', 1);
    expect(taken.outcome).toBe('hit');
    expect(ids(taken.set, 'COENGAGED')).toEqual([2011]);
  });

  it('with fewer SIMILAR than a pool (all the viewer had eligible), serves until half and two pages are left', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', { ...page, first: 5 }, setOf({ SIMILAR: 16 }), 0);
    memory.served('u', [1000, 1001, 1002, 1003, 1004, 1005]);
    expect(ids(memory.take('u', 5, 's1', 1).set, 'SIMILAR')).toHaveLength(10);
    memory.served('u', [1006]);
    expect(memory.take('u', 5, 's1', 1).outcome).toBe('short');
  });

  it('keeps them for the session that read them only, when the served window is shorter than they are kept', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', { ...page, windowMs: 0 }, setOf({ SIMILAR: 50 }), 0);
    expect(memory.take('u', 10, 's2', 1).outcome).toBe('miss');
    expect(memory.take('u', 10, 's1', 1).outcome).toBe('hit');
  });

  it('forgets a viewer on request and the longest unseen past its bound', () => {
    const memory = new CandidateMemory(15_000, 2);
    for (const u of ['a', 'b', 'c']) memory.keep(u, page, setOf({ SIMILAR: 50 }), 0);
    expect(memory.size).toBe(2);
    expect(memory.take('a', 10, 's1', 1).outcome).toBe('miss');
    memory.forget('b');
    expect(memory.take('b', 10, 's1', 1).outcome).toBe('miss');
    expect(memory.take('c', 10, 's1', 1).outcome).toBe('hit');
  });
});

describe('servedBetweenReads', () => {
  it('lets a read look eight pages ahead, at most 160 listings and half of what the viewer cache holds beside the SIMILAR pool', () => {
    expect(servedBetweenReads(20, 80)).toBe(160);
    expect(servedBetweenReads(10, 50)).toBe(80);
    // first 50: eight pages would be 400; 160 at most.
    expect(servedBetweenReads(50, 200)).toBe(160);
    // first 75: SIMILAR 300 leaves 300, half of it two pages; SIMILAR 500 leaves 100: one page, at least.
    expect(servedBetweenReads(75, 300)).toBe(150);
    expect(servedBetweenReads(75, 500)).toBe(75);
    // Never less than a page (the look-ahead without kept candidates): nothing left for kept pages.
    expect(servedBetweenReads(75, VIEWER_CANDIDATES)).toBe(75);
  });

  it('fits in the viewer cache whenever one page ahead did (the cached read keeps serving those page sizes)', () => {
    for (let first = 1; first <= 100; first += 1) {
      const similar = Math.max(4 * first, 50);
      if (similar + first <= VIEWER_CANDIDATES)
        expect(similar + servedBetweenReads(first, similar), `first ${first}`).toBeLessThanOrEqual(
          VIEWER_CANDIDATES,
        );
    }
  });

  it('is a budget: kept candidates serve no more than it, whichever pools the listings came from', () => {
    const memory = new CandidateMemory(15_000, 10);
    const first = 10;
    const budget = servedBetweenReads(first, 50);
    memory.keep(
      'u',
      { ...page, first, budget },
      setOf({ SIMILAR: 50, COENGAGED: 100, POPULAR: 40, RECENT: 40 }),
      0,
    );
    // The read's own page, then pages of COENGAGED listings only (SIMILAR never runs short).
    let served = 0;
    let taken = memory.take('u', first, 's1', 1);
    for (let id = 2000; taken.outcome === 'hit'; id += first) {
      memory.served(
        'u',
        Array.from({ length: first }, (_, i) => id + i),
      );
      served += first;
      taken = memory.take('u', first, 's1', 1);
    }
    expect(served).toBe(budget);
    expect(taken).toEqual({ set: null, outcome: 'short', shortOf: ['budget'] });
    expect(memory.take('u', first, 's1', 1).outcome).toBe('miss');
  });
});
