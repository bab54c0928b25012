import { describe, expect, it } from 'vitest';
import type { CandidateSet, Pool } from './candidates.js';
import { categoryCapOf, OWN_SHARE_MIN_LIKES, personalCategoryCaps } from './categoryCaps.js';
import { candidateSetOf } from '../../test/support/candidateSets.js';

/**
 * A candidate set of (pool, listing, category, the viewer's like share of that category), the shares
 * counted over `recentLikes` likes.
 */
function setOf(
  rows: { pool: Pool; id: number; categoryId: number; share: number }[],
  recentLikes = 40,
): CandidateSet {
  return candidateSetOf(
    rows.map(({ share, ...row }) => ({ ...row, features: { categoryShare: share } })),
    recentLikes,
  );
}

describe('categoryCapOf', () => {
  it('is the share of the page rounded up, at least one', () => {
    expect(categoryCapOf(0.6, 10)).toBe(6);
    expect(categoryCapOf(0.4, 10)).toBe(4);
    expect(categoryCapOf(0.41, 10)).toBe(5);
    expect(categoryCapOf(1, 10)).toBe(10);
    expect(categoryCapOf(0.01, 10)).toBe(1);
    expect(categoryCapOf(0.6, 1)).toBe(1);
  });

  it('does not round a share a hair above a whole number up to the next one', () => {
    // In floating point 0.07 × 100, 0.14 × 50 and 0.28 × 25 are 7.000000000000001, 0.56 × 25 is
    // 14.000000000000002: Math.ceil alone would give 8 and 15.
    expect(categoryCapOf(0.07, 100)).toBe(7);
    expect(categoryCapOf(0.14, 50)).toBe(7);
    expect(categoryCapOf(0.28, 25)).toBe(7);
    expect(categoryCapOf(0.56, 25)).toBe(14);
    // And a share a hair below one still rounds up to it.
    expect(categoryCapOf(0.57, 100)).toBe(57);
  });
});

describe('personalCategoryCaps', () => {
  it('gives a category the viewer’s own share of the page where that is above the configured cap', () => {
    const set = setOf([
      { pool: 'SIMILAR', id: 1, categoryId: 7, share: 0.8 },
      { pool: 'SIMILAR', id: 2, categoryId: 7, share: 0.8 },
      { pool: 'COENGAGED', id: 3, categoryId: 8, share: 0.15 },
      { pool: 'POPULAR', id: 4, categoryId: 9, share: 0.05 },
      { pool: 'RECENT', id: 5, categoryId: 10, share: 0 },
    ]);
    expect(personalCategoryCaps(set, 10, 6)).toEqual(new Map([[7, 8]]));
    // A page of 20 takes 16 of it; with a configured cap of 9 of 10 nothing is raised.
    expect(personalCategoryCaps(set, 20, 12)).toEqual(new Map([[7, 16]]));
    expect(personalCategoryCaps(set, 10, 9)).toEqual(new Map());
  });

  it('reads a category in any pool, and a share of every like in one category as the whole page', () => {
    const set = setOf([
      { pool: 'EXPLORE', id: 1, categoryId: 3, share: 1 },
      { pool: 'CATEGORY', id: 2, categoryId: 4, share: 0.7 },
    ]);
    expect(personalCategoryCaps(set, 10, 4)).toEqual(
      new Map([
        [3, 10],
        [4, 7],
      ]),
    );
  });

  it('raises no cap for a viewer with fewer than ten likes, whatever their shares', () => {
    const rows = [{ pool: 'SIMILAR' as const, id: 1, categoryId: 7, share: 1 }];
    expect(OWN_SHARE_MIN_LIKES).toBe(10);
    expect(personalCategoryCaps(setOf(rows, 1), 10, 6).size).toBe(0);
    expect(personalCategoryCaps(setOf(rows, 9), 10, 6).size).toBe(0);
    expect(personalCategoryCaps(setOf(rows, 10), 10, 6)).toEqual(new Map([[7, 10]]));
  });

  it('reads a share above one (never sent) as the whole page, and skips a negative or missing one', () => {
    const set = setOf([
      { pool: 'SIMILAR', id: 1, categoryId: 1, share: 1.5 },
      { pool: 'SIMILAR', id: 2, categoryId: 2, share: -0.9 },
      { pool: 'SIMILAR', id: 3, categoryId: 3, share: Number.NaN },
    ]);
    expect(personalCategoryCaps(set, 10, 6)).toEqual(new Map([[1, 10]]));
  });

  it('leaves every category at the configured cap for a viewer without likes', () => {
    const set = setOf([
      { pool: 'SIMILAR', id: 1, categoryId: 1, share: 0 },
      { pool: 'SIMILAR', id: 2, categoryId: 2, share: 0 },
    ]);
    expect(personalCategoryCaps(set, 10, 6).size).toBe(0);
    expect(personalCategoryCaps(setOf([], 0), 10, 6).size).toBe(0);
  });
});
