import { describe, expect, it } from 'vitest';
import type { ArmCounts } from './posteriors.js';
import { armKey, createPosteriorStore, posteriorFor, posteriorsFromCounts } from './posteriors.js';
import { createRng } from './random.js';
import { createThompsonPolicy } from './thompson.js';
import type { Candidate, CandidatePools, FeedSource } from './types.js';

function pool(firstId: number, count: number, categoryOf: (i: number) => number): Candidate[] {
  return Array.from({ length: count }, (_, i) => ({ id: firstId + i, categoryId: categoryOf(i), score: -i }));
}

/** SIMILAR over categories 1–4; POPULAR and RECENT each hold categories 1 and 2. */
const pools: CandidatePools = {
  SIMILAR: pool(1, 60, (i) => 1 + (i % 4)),
  POPULAR: pool(1001, 60, (i) => 1 + (i % 2)),
  RECENT: pool(2001, 60, (i) => 1 + (i % 2)),
};
const arms: { source: FeedSource; categoryId: number }[] = [
  { source: 'SIMILAR', categoryId: 1 },
  { source: 'POPULAR', categoryId: 1 },
  { source: 'POPULAR', categoryId: 2 },
  { source: 'RECENT', categoryId: 1 },
  { source: 'RECENT', categoryId: 2 },
];

function counts(rates: Partial<Record<string, number>>, impressions: number): ArmCounts[] {
  return arms.map((arm) => ({
    ...arm,
    impressions,
    rewards: Math.round(impressions * (rates[armKey(arm.source, arm.categoryId)] ?? 0.02)),
  }));
}

describe('createThompsonPolicy', () => {
  it('gives almost every slot to an arm the posteriors strongly favour, with propensity near 1', () => {
    const policy = createThompsonPolicy({
      posteriors: posteriorsFromCounts(counts({ 'RECENT:2': 0.4 }, 2000)),
    });
    let favoured = 0;
    for (let p = 0; p < 100; p++) {
      // Cap 3: RECENT:2 can fill 3 slots per page; the rest must go elsewhere.
      const page = policy.fillPage({ pools, slots: 3, categoryCap: 3 }, createRng(`strong:${p}`));
      for (const d of page) {
        if (d.source === 'RECENT' && d.item.categoryId === 2) {
          favoured++;
          expect(d.propensity).toBeGreaterThanOrEqual(0.99);
        }
      }
    }
    expect(favoured).toBeGreaterThanOrEqual(297);
  });

  it('follows the SIMILAR ranking when SIMILAR is the favoured arm', () => {
    const policy = createThompsonPolicy({ posteriors: posteriorsFromCounts(counts({ SIMILAR: 0.3 }, 2000)) });
    const page = policy.fillPage({ pools, slots: 8, categoryCap: 2 }, createRng('similar'));
    expect(page.map((d) => d.item.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(page.every((d) => d.source === 'SIMILAR' && d.propensity >= 0.99)).toBe(true);
  });

  it('logs propensities that match how often each arm is actually chosen', () => {
    // Two arms with overlapping posteriors: SIMILAR ~ Beta(6 + 20, 24 + 80), POPULAR:1 ~ Beta(≈29, ≈91).
    const posteriors = posteriorsFromCounts([
      { source: 'SIMILAR', categoryId: 1, impressions: 100, rewards: 20 },
      { source: 'POPULAR', categoryId: 1, impressions: 100, rewards: 25 },
    ]);
    const policy = createThompsonPolicy({ posteriors });
    const input = {
      pools: { SIMILAR: pool(1, 5, () => 1), POPULAR: pool(101, 5, () => 1) },
      slots: 1,
      categoryCap: 9,
    };
    const pages = 3000;
    let popular = 0;
    let loggedPopular = 0;
    for (let p = 0; p < pages; p++) {
      const [d] = policy.fillPage(input, createRng(`calibration:${p}`));
      if (!d) throw new Error('empty page');
      // Whatever arm was chosen, 1 − its propensity is the other arm's probability (two arms).
      loggedPopular += d.source === 'POPULAR' ? d.propensity : 1 - d.propensity;
      if (d.source === 'POPULAR') popular++;
    }
    const observed = popular / pages;
    expect(observed).toBeGreaterThan(0.6);
    expect(Math.abs(loggedPopular / pages - observed)).toBeLessThan(0.03);
  });

  it('logs exactly 1 when only one arm is available, and floors the estimate at minPropensity', () => {
    const uniform = posteriorsFromCounts([]);
    const single = createThompsonPolicy({ posteriors: uniform }).fillPage(
      { pools: { SIMILAR: pool(1, 4, (i) => i) }, slots: 4, categoryCap: 1 },
      createRng('single'),
    );
    expect(single.map((d) => d.propensity)).toEqual([1, 1, 1, 1]);
    // One Monte Carlo draw: the estimate is 0 or 1, so a chosen arm that lost its draw shows the floor.
    const coarse = createThompsonPolicy({ posteriors: uniform, propensityDraws: 1, minPropensity: 0.005 });
    const logged = new Set<number>();
    for (let p = 0; p < 40; p++) {
      const page = coarse.fillPage({ pools, slots: 5, categoryCap: 9 }, createRng(`floor:${p}`));
      for (const d of page) logged.add(d.propensity);
    }
    expect([...logged].sort()).toEqual([0.005, 1]);
  });

  it('draws an arm with no data from its source’s prior, so a new category starts near its source’s rate', () => {
    // POPULAR converts at 30% and RECENT at 1%; category 2 of either has never been shown. SIMILAR: 10%.
    const posteriors = posteriorsFromCounts([
      { source: 'SIMILAR', categoryId: 1, impressions: 5000, rewards: 500 },
      { source: 'POPULAR', categoryId: 1, impressions: 5000, rewards: 1500 },
      { source: 'RECENT', categoryId: 1, impressions: 5000, rewards: 50 },
    ]);
    const policy = createThompsonPolicy({ posteriors });
    const input = {
      pools: { SIMILAR: pool(1, 5, () => 1), POPULAR: pool(101, 5, () => 2), RECENT: pool(201, 5, () => 2) },
      slots: 1,
      categoryCap: 9,
    };
    const chosen = { SIMILAR: 0, POPULAR: 0, RECENT: 0, EXPLORE: 0 };
    for (let p = 0; p < 1000; p++) {
      const [d] = policy.fillPage(input, createRng(`unseen:${p}`));
      if (d) chosen[d.source]++;
    }
    // Beta(1, 1) would have given each unseen arm ~45% of the slots.
    expect(chosen.POPULAR).toBeGreaterThan(900);
    expect(chosen.RECENT).toBeLessThan(50);
  });

  it('moves the posteriors toward the truly better arm when fed its own rewards', () => {
    // True click rates: POPULAR:2 is best, SIMILAR good, the rest poor.
    const truth: Record<string, number> = { SIMILAR: 0.12, 'POPULAR:1': 0.03, 'POPULAR:2': 0.25 };
    const rate = (key: string) => truth[key] ?? 0.02;
    const store = createPosteriorStore();
    const rewards = createRng('rewards');
    const share: number[] = [];
    for (let round = 0; round < 200; round++) {
      const policy = createThompsonPolicy({ posteriors: store.snapshot() });
      const page = policy.fillPage({ pools, slots: 10, categoryCap: 10 }, createRng(`round:${round}`));
      let best = 0;
      for (const d of page) {
        const key = armKey(d.source, d.item.categoryId);
        if (key === 'POPULAR:2') best++;
        store.update(
          { source: d.source, categoryId: d.item.categoryId },
          1,
          rewards.next() < rate(key) ? 1 : 0,
        );
      }
      share.push(best / page.length);
    }
    const mean = (key: string) => {
      const { alpha, beta } = posteriorFor(store.snapshot(), key);
      return alpha / (alpha + beta);
    };
    for (const other of ['SIMILAR', 'POPULAR:1', 'RECENT:1', 'RECENT:2'])
      expect(mean('POPULAR:2')).toBeGreaterThan(mean(other) + 0.05);
    const average = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const early = average(share.slice(0, 5));
    const late = average(share.slice(-50));
    expect(late).toBeGreaterThan(early + 0.3);
    expect(late).toBeGreaterThan(0.8);
  });

  it('is reproducible for the same seed and refuses bad options', () => {
    const policy = createThompsonPolicy({ posteriors: posteriorsFromCounts(counts({}, 50)) });
    const input = { pools, slots: 10, categoryCap: 3 };
    expect(policy.fillPage(input, createRng('again'))).toEqual(policy.fillPage(input, createRng('again')));
    const posteriors = posteriorsFromCounts([]);
    expect(() => createThompsonPolicy({ posteriors, propensityDraws: 0 })).toThrow(RangeError);
    expect(() => createThompsonPolicy({ posteriors, minPropensity: 0 })).toThrow(RangeError);
  });
});
