import { describe, expect, it } from 'vitest';
import {
  armKey,
  createPosteriorStore,
  posteriorFor,
  posteriorsFromCounts,
  UNIFORM_PRIOR,
} from './posteriors.js';

describe('armKey', () => {
  it('keeps SIMILAR as one arm and splits exploration pools by category', () => {
    expect(armKey('SIMILAR', 3)).toBe('SIMILAR');
    expect(armKey('SIMILAR', 4)).toBe('SIMILAR');
    expect(armKey('POPULAR', 3)).toBe('POPULAR:3');
    expect(armKey('EXPLORE', 12)).toBe('EXPLORE:12');
  });
});

describe('posteriorsFromCounts', () => {
  it('is Beta(1 + rewards, 1 + impressions − rewards), summing rows of the same arm', () => {
    const snapshot = posteriorsFromCounts([
      { source: 'SIMILAR', categoryId: 1, impressions: 10, rewards: 3 },
      { source: 'SIMILAR', categoryId: 2, impressions: 5, rewards: 1 },
      { source: 'RECENT', categoryId: 4, impressions: 7, rewards: 2 },
      { source: 'RECENT', categoryId: 5, impressions: 0, rewards: 0 },
    ]);
    expect(snapshot.arms).toEqual({
      'RECENT:4': { alpha: 3, beta: 6 },
      'RECENT:5': { alpha: 1, beta: 1 },
      SIMILAR: { alpha: 5, beta: 12 },
    });
    expect(snapshot.prior).toEqual(UNIFORM_PRIOR);
    expect(posteriorFor(snapshot, 'POPULAR:1')).toEqual({ alpha: 1, beta: 1 });
    expect(posteriorFor(snapshot, 'toString')).toEqual({ alpha: 1, beta: 1 });
  });

  it('takes another prior when asked', () => {
    const snapshot = posteriorsFromCounts(
      [{ source: 'EXPLORE', categoryId: 1, impressions: 4, rewards: 1 }],
      {
        alpha: 1,
        beta: 19,
      },
    );
    expect(snapshot.arms['EXPLORE:1']).toEqual({ alpha: 2, beta: 22 });
    expect(posteriorFor(snapshot, 'EXPLORE:2')).toEqual({ alpha: 1, beta: 19 });
  });

  it('refuses counts that cannot be right', () => {
    const row = { source: 'POPULAR', categoryId: 1 } as const;
    expect(() => posteriorsFromCounts([{ ...row, impressions: 3, rewards: 4 }])).toThrow(RangeError);
    expect(() => posteriorsFromCounts([{ ...row, impressions: -1, rewards: 0 }])).toThrow(RangeError);
    expect(() => posteriorsFromCounts([{ ...row, impressions: Number.NaN, rewards: 0 }])).toThrow(RangeError);
    expect(() => posteriorsFromCounts([], { alpha: 0, beta: 1 })).toThrow(RangeError);
  });
});

describe('createPosteriorStore', () => {
  it('accumulates updates and hands out frozen snapshots that later updates do not touch', () => {
    const store = createPosteriorStore([{ source: 'RECENT', categoryId: 2, impressions: 10, rewards: 1 }]);
    store.update({ source: 'RECENT', categoryId: 2 }, 5, 2);
    store.update({ source: 'SIMILAR', categoryId: 9 }, 1, 1);
    const before = store.snapshot();
    expect(before.arms).toEqual({ 'RECENT:2': { alpha: 4, beta: 13 }, SIMILAR: { alpha: 2, beta: 1 } });
    store.update({ source: 'SIMILAR', categoryId: 1 }, 3, 0);
    expect(before.arms.SIMILAR).toEqual({ alpha: 2, beta: 1 });
    expect(store.snapshot().arms.SIMILAR).toEqual({ alpha: 2, beta: 4 });
    expect(Object.isFrozen(before)).toBe(true);
    expect(Object.isFrozen(before.arms)).toBe(true);
    expect(JSON.parse(JSON.stringify(before))).toEqual(before);
  });

  it('refuses an update with more rewards than impressions', () => {
    expect(() => createPosteriorStore().update({ source: 'EXPLORE', categoryId: 1 }, 1, 2)).toThrow(
      RangeError,
    );
  });
});
