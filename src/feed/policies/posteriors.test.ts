import { describe, expect, it } from 'vitest';
import type { BetaParams } from './posteriors.js';
import {
  armKey,
  createPosteriorStore,
  defaultExplorationPrior,
  defaultExploitPrior,
  defaultPriorStrength,
  posteriorFor,
  posteriorsFromCounts,
  UNIFORM_PRIOR,
} from './posteriors.js';

/** Empirical-Bayes priors are ratios times a strength, so compare them to rounding. */
function expectBeta(actual: BetaParams | undefined, alpha: number, beta: number): void {
  expect(actual?.alpha).toBeCloseTo(alpha, 9);
  expect(actual?.beta).toBeCloseTo(beta, 9);
}

describe('armKey', () => {
  it('keeps SIMILAR as one arm and splits exploration pools by category', () => {
    expect(armKey('SIMILAR', 3)).toBe('SIMILAR');
    expect(armKey('SIMILAR', 4)).toBe('SIMILAR');
    expect(armKey('POPULAR', 3)).toBe('POPULAR:3');
    expect(armKey('EXPLORE', 12)).toBe('EXPLORE:12');
  });
});

describe('the default priors', () => {
  it('weigh the exploration prior as much as a source prior, so a source’s first data moves only the mean', () => {
    expect(defaultExplorationPrior.alpha + defaultExplorationPrior.beta).toBe(defaultPriorStrength);
    const mean = ({ alpha, beta }: BetaParams) => alpha / (alpha + beta);
    expect(mean(defaultExploitPrior)).toBeGreaterThan(mean(defaultExplorationPrior));
  });
});

describe('posteriorsFromCounts', () => {
  it('gives a new deployment the exploit prior for SIMILAR and the exploration prior elsewhere', () => {
    const snapshot = posteriorsFromCounts([]);
    expect(snapshot.arms).toEqual({});
    expect(posteriorFor(snapshot, 'SIMILAR')).toEqual(defaultExploitPrior);
    expect(posteriorFor(snapshot, 'RECENT:3')).toEqual(defaultExplorationPrior);
    expect(posteriorFor(snapshot, 'EXPLORE:12')).toEqual(defaultExplorationPrior);
    expect(posteriorFor(snapshot, 'toString')).toEqual(defaultExplorationPrior);
  });

  it('adds each arm’s counts to its source’s prior, summing rows of the same arm', () => {
    // RECENT pools 100 impressions and 6 clicks: a mean of (0.4 + 6) / (20 + 100), at strength 20.
    const recent = { alpha: (20 * 6.4) / 120, beta: (20 * 113.6) / 120 };
    const snapshot = posteriorsFromCounts([
      { source: 'SIMILAR', categoryId: 1, impressions: 10, rewards: 3 },
      { source: 'SIMILAR', categoryId: 2, impressions: 5, rewards: 1 },
      { source: 'RECENT', categoryId: 4, impressions: 60, rewards: 4 },
      { source: 'RECENT', categoryId: 5, impressions: 40, rewards: 2 },
      { source: 'RECENT', categoryId: 6, impressions: 0, rewards: 0 },
    ]);
    expect(Object.keys(snapshot.arms)).toEqual(['RECENT:4', 'RECENT:5', 'RECENT:6', 'SIMILAR']);
    expect(snapshot.arms.SIMILAR).toEqual({ alpha: 6 + 4, beta: 24 + 11 });
    expectBeta(snapshot.arms['RECENT:4'], recent.alpha + 4, recent.beta + 56);
    expectBeta(snapshot.arms['RECENT:5'], recent.alpha + 2, recent.beta + 38);
    expectBeta(snapshot.arms['RECENT:6'], recent.alpha, recent.beta);
    expectBeta(posteriorFor(snapshot, 'RECENT:9'), recent.alpha, recent.beta);
    // POPULAR has no data: its arms keep the exploration prior.
    expect(posteriorFor(snapshot, 'POPULAR:4')).toEqual(defaultExplorationPrior);
  });

  it('starts a new category of a data-rich source near the source’s rate, not at the exploration prior', () => {
    const snapshot = posteriorsFromCounts([
      { source: 'POPULAR', categoryId: 1, impressions: 30_000, rewards: 2_400 },
      { source: 'POPULAR', categoryId: 2, impressions: 20_000, rewards: 1_600 },
    ]);
    const { alpha, beta } = posteriorFor(snapshot, 'POPULAR:7');
    expect(alpha + beta).toBeCloseTo(defaultPriorStrength, 9);
    expect(alpha / (alpha + beta)).toBeCloseTo(0.08, 3);
  });

  it('lets a source’s first few clicks move its prior only a little', () => {
    const snapshot = posteriorsFromCounts([{ source: 'EXPLORE', categoryId: 1, impressions: 3, rewards: 1 }]);
    const { alpha, beta } = posteriorFor(snapshot, 'EXPLORE:2');
    // (0.4 + 1) / (20 + 3) ≈ 6%, not the 33% those three impressions show.
    expect(alpha / (alpha + beta)).toBeCloseTo(1.4 / 23, 9);
  });

  it('takes other priors and another strength when asked', () => {
    const snapshot = posteriorsFromCounts(
      [{ source: 'EXPLORE', categoryId: 1, impressions: 4, rewards: 1 }],
      {
        exploitPrior: UNIFORM_PRIOR,
        explorationPrior: { alpha: 1, beta: 19 },
        priorStrength: 12,
      },
    );
    // EXPLORE's pooled mean (1 + 1) / (20 + 4) = 1/12, at strength 12: Beta(1, 11).
    expectBeta(snapshot.arms['EXPLORE:1'], 1 + 1, 11 + 3);
    expectBeta(posteriorFor(snapshot, 'EXPLORE:2'), 1, 11);
    expect(posteriorFor(snapshot, 'RECENT:2')).toEqual({ alpha: 1, beta: 19 });
    expect(posteriorFor(snapshot, 'SIMILAR')).toEqual(UNIFORM_PRIOR);
  });

  it('refuses counts and priors that cannot be right', () => {
    const row = { source: 'POPULAR', categoryId: 1 } as const;
    expect(() => posteriorsFromCounts([{ ...row, impressions: 3, rewards: 4 }])).toThrow(RangeError);
    expect(() => posteriorsFromCounts([{ ...row, impressions: -1, rewards: 0 }])).toThrow(RangeError);
    expect(() => posteriorsFromCounts([{ ...row, impressions: Number.NaN, rewards: 0 }])).toThrow(RangeError);
    expect(() => posteriorsFromCounts([], { explorationPrior: { alpha: 0, beta: 1 } })).toThrow(
      /^explorationPrior /,
    );
    expect(() => posteriorsFromCounts([], { exploitPrior: { alpha: 1, beta: Infinity } })).toThrow(
      /^exploitPrior /,
    );
    expect(() => posteriorsFromCounts([], { priorStrength: 0 })).toThrow(/^priorStrength /);
  });
});

describe('createPosteriorStore', () => {
  it('accumulates updates and hands out frozen snapshots that later updates do not touch', () => {
    const store = createPosteriorStore([{ source: 'RECENT', categoryId: 2, impressions: 10, rewards: 1 }]);
    store.update({ source: 'RECENT', categoryId: 2 }, 5, 2);
    store.update({ source: 'SIMILAR', categoryId: 9 }, 1, 1);
    const before = store.snapshot();
    // RECENT: (0.4 + 3) / (20 + 15) at strength 20, plus RECENT:2's own 3 clicks in 15.
    expectBeta(before.arms['RECENT:2'], (20 * 3.4) / 35 + 3, (20 * 31.6) / 35 + 12);
    expect(before.arms.SIMILAR).toEqual({ alpha: 7, beta: 24 });
    store.update({ source: 'SIMILAR', categoryId: 1 }, 3, 0);
    expect(before.arms.SIMILAR).toEqual({ alpha: 7, beta: 24 });
    expect(store.snapshot().arms.SIMILAR).toEqual({ alpha: 7, beta: 27 });
    for (const part of [before, before.arms, before.priors, before.priors.RECENT, before.arms.SIMILAR])
      expect(Object.isFrozen(part)).toBe(true);
    expect(JSON.parse(JSON.stringify(before))).toEqual(before);
  });

  it('builds the same snapshot as posteriorsFromCounts, so the simulator runs the gateway’s priors', () => {
    const rows = [
      { source: 'SIMILAR', categoryId: 1, impressions: 50, rewards: 6 },
      { source: 'POPULAR', categoryId: 3, impressions: 20, rewards: 1 },
      { source: 'EXPLORE', categoryId: 2, impressions: 7, rewards: 0 },
    ] as const;
    const options = { priorStrength: 30 };
    const store = createPosteriorStore([], options);
    for (const row of rows) store.update(row, row.impressions, row.rewards);
    expect(store.snapshot()).toEqual(posteriorsFromCounts(rows, options));
  });

  it('refuses an update with more rewards than impressions', () => {
    expect(() => createPosteriorStore().update({ source: 'EXPLORE', categoryId: 1 }, 1, 2)).toThrow(
      RangeError,
    );
  });
});
