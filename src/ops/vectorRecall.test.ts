import { describe, expect, it } from 'vitest';
import { listsTooMany, outgrown, suggestLists } from './vectorRecall.js';

describe('suggestLists: pgvector’s rule', () => {
  it('is rows / 1000 up to 1M rows (at least 1) and sqrt(rows) above', () => {
    expect(suggestLists(0)).toBe(1);
    expect(suggestLists(1682)).toBe(1);
    expect(suggestLists(3382)).toBe(3);
    expect(suggestLists(200_000)).toBe(200);
    expect(suggestLists(1_000_000)).toBe(1000);
    expect(suggestLists(4_000_000)).toBe(2000);
  });
});

describe('listsTooMany: fewer than 50 rows per list', () => {
  it('accepts the runbook’s 200 and 400–800 at its catalogue sizes, refuses them on small tables', () => {
    expect(listsTooMany(200, 10_000)).toBe(false);
    expect(listsTooMany(200, 9_999)).toBe(true);
    expect(listsTooMany(400, 200_000)).toBe(false);
    expect(listsTooMany(800, 1_000_000)).toBe(false);
    expect(listsTooMany(200, 1682)).toBe(true);
  });

  it('accepts the issue’s 5 lists on 1,682 rows (~336 rows per list) and one list on any table', () => {
    expect(listsTooMany(5, 1682)).toBe(false);
    expect(listsTooMany(34, 1682)).toBe(true);
    expect(listsTooMany(33, 1682)).toBe(false);
    expect(listsTooMany(1, 0)).toBe(false);
    expect(listsTooMany(1, 3)).toBe(false);
  });
});

describe('outgrown: more than 2× bigger or smaller than at the build', () => {
  it('rebuilds an index of unknown or empty build once there are rows, and on a 2× change only', () => {
    expect(outgrown(0, null)).toBe(false);
    expect(outgrown(1682, null)).toBe(true);
    expect(outgrown(1682, 0)).toBe(true);
    expect(outgrown(3364, 1682)).toBe(false);
    expect(outgrown(3365, 1682)).toBe(true);
    expect(outgrown(841, 1682)).toBe(false);
    expect(outgrown(840, 1682)).toBe(true);
    expect(outgrown(0, 1682)).toBe(false);
  });
});
