import { describe, expect, it } from 'vitest';
import { seededRandom } from '../embeddings/seededRandom.js';
import { EASE_MAX_ITEMS, easeLists, easeWeights, invertSpd } from './ease.js';
import { catalogueOf, type ScoredUser } from './scoring.js';

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1)
    for (let k = 0; k < n; k += 1)
      for (let j = 0; j < n; j += 1) out[i * n + j]! += a[i * n + k]! * b[k * n + j]!;
  return out;
}

describe('invertSpd', () => {
  it('inverts a symmetric positive-definite matrix (A · A⁻¹ = I)', () => {
    const n = 9;
    const random = seededRandom(3, 1);
    const x = Float64Array.from({ length: n * n }, () => random.gaussian());
    // A = XᵀX + I is symmetric positive definite.
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i += 1)
      for (let j = 0; j < n; j += 1) {
        let s = i === j ? 1 : 0;
        for (let k = 0; k < n; k += 1) s += x[k * n + i]! * x[k * n + j]!;
        a[i * n + j] = s;
      }
    const inverse = invertSpd(Float64Array.from(a), n);
    const product = multiply(a, inverse, n);
    for (let i = 0; i < n; i += 1)
      for (let j = 0; j < n; j += 1) expect(product[i * n + j]).toBeCloseTo(i === j ? 1 : 0, 9);
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => invertSpd(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
    expect(() => invertSpd(new Float64Array(3), 2)).toThrow(/expected 4 entries/);
  });
});

describe('easeWeights', () => {
  it('matches the closed form for two items: B[0][1] = together / (likes of 0 + λ)', () => {
    // Item 0 liked by 4 users, item 1 by 3, together by 2.
    const histories = [[0, 1], [0, 1], [0], [0], [1]];
    const b = easeWeights(histories, 2, 10);
    expect(b[0 * 2 + 1]).toBeCloseTo(2 / (4 + 10), 12);
    expect(b[1 * 2 + 0]).toBeCloseTo(2 / (3 + 10), 12);
    expect(b[0]).toBe(0);
    expect(b[3]).toBe(0);
  });

  it('counts a repeated like once and refuses an item outside the range or λ ≤ 0', () => {
    expect(easeWeights([[0, 0, 1]], 2, 1)).toEqual(easeWeights([[0, 1]], 2, 1));
    expect(() => easeWeights([[2]], 2, 1)).toThrow(/outside 0..1/);
    expect(() => easeWeights([[0]], 1, 0)).toThrow(/lambda must be > 0/);
  });

  it('says so when λ is too small for listings liked by the very same people (singular to rounding)', () => {
    expect(() =>
      easeWeights(
        [
          [0, 1],
          [0, 1],
          [0, 1],
        ],
        2,
        1e-300,
      ),
    ).toThrow(/not positive definite/);
  });
});

describe('easeLists', () => {
  // Listings 10, 11 are liked together, 20, 21 together; 30 is liked but sold (not active).
  const catalogue = catalogueOf([10, 11, 20, 21, 40], new Map());
  const histories = [[10, 11], [10, 11], [10, 11, 30], [20, 21], [20, 21], [20, 21, 30], [10, 30], [20]];

  it("ranks what was liked with the user's likes first, never their own likes or inactive listings", () => {
    const users: ScoredUser[] = [
      { userId: 'a', train: [10, 30], test: [11] },
      { userId: 'b', train: [20], test: [21] },
    ];
    const lists = easeLists(catalogue, histories, users, 3, 1)!;
    expect(lists[0]![0]).toBe(11);
    expect(lists[1]![0]).toBe(21);
    for (const [u, list] of lists.entries()) {
      expect(list).not.toContain(30);
      for (const own of users[u]!.train) expect(list).not.toContain(own);
    }
    // Listing 40 has no train like, so no weights: never listed.
    expect(lists.flat()).not.toContain(40);
  });

  it('declines a catalogue too large to fit, rather than running for hours', () => {
    const many = [Array.from({ length: EASE_MAX_ITEMS + 1 }, (_, i) => i + 1)];
    expect(easeLists(catalogueOf([1], new Map()), many, [], 10)).toBeNull();
  });
});
