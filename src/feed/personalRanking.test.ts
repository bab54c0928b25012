import { describe, expect, it } from 'vitest';
import { personalRanking } from './personalRanking.js';
import { DEFAULT_RANKER_WEIGHTS, RANKING_FEATURES, rankCandidates } from './ranking.js';
import { candidateSetOf } from '../../test/support/candidateSets.js';

describe('personalRanking', () => {
  it('ranks candidates of every personal generator together by the model', () => {
    const set = candidateSetOf([
      { pool: 'SIMILAR', id: 1, score: 0.9, features: { similarity: 0.3 } },
      { pool: 'COENGAGED', id: 2, score: 2, features: { similarity: 0.25, coengagement: 1.2 } },
      { pool: 'CATEGORY', id: 3, score: 50, features: { similarity: 0.2, popularity: 2.5 } },
      { pool: 'RECENT', id: 4, score: 1, features: { similarity: 0.9 } },
    ]);
    const ranked = personalRanking(set, { name: 'default', weights: DEFAULT_RANKER_WEIGHTS });
    // RECENT is an exploration pool, never part of the exploit ranking.
    expect(ranked.map((r) => r.id)).toEqual([2, 3, 1]);
    expect(ranked[0]!.score).toBeGreaterThan(ranked[1]!.score);
  });

  it('lists a listing found by several generators once', () => {
    const set = candidateSetOf([
      { pool: 'SIMILAR', id: 7, score: 0.5, features: { similarity: 0.5 } },
      { pool: 'COENGAGED', id: 7, score: 1, features: { coengagement: 0.4 } },
      { pool: 'POPULAR', id: 7, score: 9 },
    ]);
    expect(personalRanking(set, { name: 'learned', weights: DEFAULT_RANKER_WEIGHTS })).toHaveLength(1);
  });

  it('with the ranker off keeps the similarity order and interleaves co-engaged listings', () => {
    const set = candidateSetOf([
      { pool: 'SIMILAR', id: 1, score: 0.9 },
      { pool: 'SIMILAR', id: 2, score: 0.8 },
      { pool: 'COENGAGED', id: 3, score: 5 },
      { pool: 'COENGAGED', id: 1, score: 4 },
      { pool: 'COENGAGED', id: 4, score: 3 },
      { pool: 'CATEGORY', id: 5, score: 100 },
    ]);
    const ranked = personalRanking(set, { name: 'off', weights: DEFAULT_RANKER_WEIGHTS });
    expect(ranked.map((r) => r.id)).toEqual([1, 3, 2, 4]);
  });

  it('orders a large set exactly as rankCandidates orders its listings, ties by id included', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pools = ['SIMILAR', 'COENGAGED', 'CATEGORY', 'POPULAR'] as const;
    const rows = Array.from({ length: 400 }, () => {
      const id = Math.floor(next() * 150);
      // Coarse values, so many listings tie on their score.
      const f = Object.fromEntries(RANKING_FEATURES.map((name) => [name, Math.floor(next() * 3) / 2]));
      return {
        pool: pools[Math.floor(next() * 4)]!,
        id,
        score: next(),
        features: f,
      };
    });
    const set = candidateSetOf(rows);
    const ranked = personalRanking(set, { name: 'learned', weights: DEFAULT_RANKER_WEIGHTS });
    const reference = rankCandidates(
      DEFAULT_RANKER_WEIGHTS,
      [...set.features.entries()].map(([id, features]) => ({ id, features })),
    );
    expect(ranked.map((r) => [r.id, r.score])).toEqual(reference.map((r) => [r.id, r.rank]));
    expect(new Set(ranked.map((r) => r.score)).size).toBeLessThan(ranked.length);
  });
});
