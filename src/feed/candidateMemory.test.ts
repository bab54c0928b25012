import { describe, expect, it } from 'vitest';
import { CandidateMemory, servedBetweenReads } from './candidateMemory.js';
import { POOLS, type Candidate, type CandidateSet, type Pool } from './candidates.js';
import { RANKING_FEATURES, type FeatureVector, type RankingFeature } from './ranking.js';

/** A set with `sizes[pool]` candidates per pool, ids numbered from the pool's base (SIMILAR 1000…). */
function setOf(sizes: Partial<Record<Pool, number>>): CandidateSet {
  const pools = {} as Record<Pool, Candidate[]>;
  POOLS.forEach((pool, p) => {
    pools[pool] = Array.from({ length: sizes[pool] ?? 0 }, (_, i) => ({
      pool,
      score: 1 - i / 100,
      listing: { id: (p + 1) * 1000 + i, categoryId: 1 },
    }));
  });
  const features = new Map<number, FeatureVector>();
  for (const pool of POOLS) for (const c of pools[pool]) features.set(c.listing.id, featuresOf(c.listing.id));
  return { hasEmbedding: true, pools, features };
}

function featuresOf(id: number): FeatureVector {
  const v = {} as Record<RankingFeature, number>;
  RANKING_FEATURES.forEach((name, i) => (v[name] = id / 1000 + i / 7));
  return v;
}

const ids = (set: CandidateSet | null, pool: Pool) => set?.pools[pool].map((c) => c.listing.id) ?? [];
const page = { first: 10, session: 's1', windowMs: 30 * 60_000 };

describe('CandidateMemory', () => {
  it('hands back what it kept, without the listings served since, until it expires', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', page, setOf({ SIMILAR: 50, POPULAR: 40 }), 0);
    memory.served('u', [1000, 1001, 4000]);
    const taken = memory.take('u', 10, 'another session', 14_999);
    expect(taken.outcome).toBe('hit');
    expect(ids(taken.set, 'SIMILAR')).toHaveLength(48);
    expect(ids(taken.set, 'SIMILAR')).not.toContain(1000);
    expect(ids(taken.set, 'POPULAR')[0]).toBe(4001);
    // Scores, categories and features come back as they were kept.
    expect(taken.set?.pools.SIMILAR[0]).toEqual({
      pool: 'SIMILAR',
      score: 0.98,
      listing: { id: 1002, categoryId: 1 },
    });
    expect(taken.set?.features.get(1002)).toEqual(featuresOf(1002));
    expect(taken.set?.features.has(1000)).toBe(false);
    expect(memory.take('u', 10, 's1', 15_000)).toEqual({ set: null, outcome: 'expired' });
    // Expired candidates are dropped, not kept around.
    expect(memory.size).toBe(0);
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

  it('gives them up once SIMILAR is down to half or a pool to less than a page', () => {
    const memory = new CandidateMemory(15_000, 10);
    memory.keep('u', page, setOf({ SIMILAR: 50, RECENT: 40, EXPLORE: 5 }), 0);
    // EXPLORE held less than a page: usable while it holds all 5.
    memory.served(
      'u',
      Array.from({ length: 25 }, (_, i) => 1000 + i),
    );
    expect(memory.take('u', 10, 's1', 1).outcome).toBe('hit');
    memory.served('u', [1025]);
    expect(memory.take('u', 10, 's1', 1)).toEqual({ set: null, outcome: 'short' });
    expect(memory.size).toBe(0);
    memory.keep('u', page, setOf({ SIMILAR: 50, RECENT: 40 }), 0);
    memory.served(
      'u',
      Array.from({ length: 31 }, (_, i) => 5000 + i),
    );
    expect(memory.take('u', 10, 's1', 1).outcome).toBe('short');
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
  it('covers the pages ranked from kept candidates until SIMILAR runs short, and a page more', () => {
    // first 20: SIMILAR 80, kept while 40 are left; the last page may take 20 more; 20 for the other pools.
    expect(servedBetweenReads(20, 80)).toBe(80);
    expect(servedBetweenReads(10, 50)).toBe(45);
    expect(servedBetweenReads(50, 200)).toBe(200);
    // A SIMILAR pool never usable for a second page: only the read's page and the margin.
    expect(servedBetweenReads(50, 50)).toBe(100);
  });

  it('bounds what the kept candidates can serve before take() says they are short', () => {
    const memory = new CandidateMemory(15_000, 10);
    const first = 20;
    memory.keep('u', { ...page, first }, setOf({ SIMILAR: 80 }), 0);
    let served = 0;
    // Every page takes `first` SIMILAR candidates, the most it can.
    for (let id = 1000; memory.take('u', first, 's1', 1).outcome === 'hit'; id += first) {
      memory.served(
        'u',
        Array.from({ length: first }, (_, i) => id + i),
      );
      served += first;
    }
    expect(served + first).toBeLessThanOrEqual(servedBetweenReads(first, 80));
  });
});
