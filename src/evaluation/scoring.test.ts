import { describe, expect, it } from 'vitest';
import {
  catalogueOf,
  mostPopularLists,
  nearestLists,
  randomLists,
  scoreLists,
  sourceHits,
  type ScoredUser,
} from './scoring.js';

// Active listings 1..5 with train likes; listing 9 is inactive (sold) but liked.
const catalogue = catalogueOf(
  [5, 3, 1, 2, 4],
  new Map([
    [1, 4],
    [2, 9],
    [3, 4],
    [4, 0],
    [5, 1],
    [9, 20],
  ]),
);
const users: ScoredUser[] = [
  { userId: 'a', train: [2], test: [1, 9] },
  { userId: 'b', train: [1, 3], test: [4] },
];

describe('reference methods', () => {
  it('most popular: active listings by train likes, ties to the lower id, the user’s train likes excluded', () => {
    expect(mostPopularLists(catalogue, users, 3)).toEqual([
      [1, 3, 5],
      [2, 5, 4],
    ]);
  });

  it('random: distinct, active, never a train like, the same for the same seed', () => {
    const lists = randomLists(catalogue, users, 3, 7);
    expect(lists).toEqual(randomLists(catalogue, users, 3, 7));
    for (const [u, list] of lists.entries()) {
      expect(new Set(list).size).toBe(3);
      for (const id of list) {
        expect(catalogue.indexOf.has(id)).toBe(true);
        expect(users[u]!.train).not.toContain(id);
      }
    }
  });

  it('nearest: by cosine to the mean of the liked listings’ vectors, inactive listings’ vectors count', () => {
    const vectors = new Map([
      [9, Float32Array.from([1, 0])],
      [2, Float32Array.from([0, 1])],
      [1, Float32Array.from([1, 0.1])],
      [3, Float32Array.from([0.1, 1])],
      [5, Float32Array.from([-1, 0])],
    ]);
    const [list] = nearestLists(catalogue, vectors, [{ userId: 'a', train: [9, 2], test: [] }], 3);
    expect(list).toEqual([1, 3, 5]);
    expect(nearestLists(catalogue, vectors, [{ userId: 'c', train: [4], test: [] }], 3)).toEqual([[]]);
    // Zero-padded to a wider column (as derived vectors are): the same neighbours.
    const padded = new Map([...vectors].map(([id, v]) => [id, Float32Array.from([0, v[0]!, 0, v[1]!])]));
    expect(nearestLists(catalogue, padded, [{ userId: 'a', train: [9, 2], test: [] }], 3)).toEqual([list]);
  });
});

describe('scoreLists', () => {
  it('scores against the held-out likes, an inactive held-out listing being a miss, coverage over active listings', () => {
    const m = scoreLists(catalogue, users, [[1, 3], [4]], 2);
    // a: 1 hit of 2 held out (9 inactive); b: 1 hit of 1.
    expect(m.precision).toBeCloseTo((1 / 2 + 1 / 2) / 2, 10);
    expect(m.recall).toBeCloseTo((1 / 2 + 1) / 2, 10);
    expect(m.hitRate).toBe(1);
    expect(m.coverage).toBeCloseTo(3 / 5, 10);
  });

  it('refuses a recommended listing that is not active', () => {
    expect(() => scoreLists(catalogue, users, [[9], []], 2)).toThrow(/not an active listing/);
  });
});

describe('sourceHits', () => {
  it('counts served slots and held-out hits per source within the first k', () => {
    const tally = sourceHits(
      users,
      [
        [1, 3, 5],
        [4, 2],
      ],
      [
        ['SIMILAR', 'POPULAR', 'EXPLORE'],
        ['POPULAR', 'SIMILAR'],
      ],
      2,
    );
    // a: 1 (SIMILAR, hit), 3 (POPULAR, miss), 5 past k; b: 4 (POPULAR, hit), 2 (SIMILAR, miss).
    expect(tally).toEqual({ SIMILAR: { served: 2, hits: 1 }, POPULAR: { served: 2, hits: 1 } });
  });
});
