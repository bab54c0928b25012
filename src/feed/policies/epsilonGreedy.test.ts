import { describe, expect, it } from 'vitest';
import { createEpsilonGreedyPolicy } from './epsilonGreedy.js';
import { createRng } from './random.js';
import type { Candidate, CandidatePools, ExplorationSource, SlotDecision } from './types.js';
import { EXPLORATION_SOURCES } from './types.js';

/** `count` items with ids from `firstId`, categories cycling through 1..categories. */
function pool(firstId: number, count: number, categories = 8): Candidate[] {
  return Array.from({ length: count }, (_, i) => ({
    id: firstId + i,
    categoryId: 1 + (i % categories),
    score: count - i,
  }));
}

const wide: CandidatePools = {
  SIMILAR: pool(1, 40),
  POPULAR: pool(1001, 40),
  RECENT: pool(2001, 40),
  EXPLORE: pool(3001, 40),
};

function fill(epsilon: number, pools: CandidatePools, slots: number, seed: string, categoryCap = Infinity) {
  return createEpsilonGreedyPolicy({ epsilon }).fillPage({ pools, slots, categoryCap }, createRng(seed));
}

/** Replays a page to count, before each slot, the exploration pools that still had an unused item. */
function openPoolsBeforeEachSlot(pools: CandidatePools, page: readonly SlotDecision[]): number[] {
  const used = new Set<number>();
  return page.map(({ item }) => {
    const open = EXPLORATION_SOURCES.filter((s: ExplorationSource) =>
      (pools[s] ?? []).some((c) => !used.has(c.id)),
    ).length;
    used.add(item.id);
    return open;
  });
}

describe('createEpsilonGreedyPolicy', () => {
  it('with ε = 0 fills every slot from SIMILAR, in order, with propensity 1', () => {
    for (let p = 0; p < 50; p++) {
      const page = fill(0, wide, 10, `eps0:${p}`);
      expect(page.map((d) => d.source)).toEqual(new Array(10).fill('SIMILAR'));
      expect(page.map((d) => d.item.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(page.every((d) => d.propensity === 1)).toBe(true);
      expect(page.map((d) => d.position)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  it('with ε = 1 never uses SIMILAR while an exploration pool has items; propensity 1/k of open pools', () => {
    const pools: CandidatePools = {
      SIMILAR: pool(1, 20),
      POPULAR: pool(101, 2),
      RECENT: pool(201, 4),
      EXPLORE: pool(301, 6),
    };
    for (let p = 0; p < 30; p++) {
      const page = fill(1, pools, 16, `eps1:${p}`);
      const open = openPoolsBeforeEachSlot(pools, page);
      // 12 exploration items first, then SIMILAR once they are gone.
      expect(page.slice(0, 12).every((d) => d.source !== 'SIMILAR')).toBe(true);
      expect(page.slice(12).every((d) => d.source === 'SIMILAR' && d.propensity === 1)).toBe(true);
      page.slice(0, 12).forEach((d, i) => expect(d.propensity).toBeCloseTo(1 / (open[i] ?? NaN), 12));
    }
  });

  it('with ε = 0.1 explores about 10% of slots, logging 1 − ε and ε/3', () => {
    let explored = 0;
    let slots = 0;
    for (let p = 0; p < 2000; p++) {
      for (const d of fill(0.1, wide, 10, `eps0.1:${p}`)) {
        slots++;
        if (d.source === 'SIMILAR') expect(d.propensity).toBeCloseTo(0.9, 12);
        else {
          explored++;
          expect(d.propensity).toBeCloseTo(0.1 / 3, 12);
        }
      }
    }
    // 20,000 slots: the standard error of the share is 0.0021; allow about 5 of them.
    expect(Math.abs(explored / slots - 0.1)).toBeLessThan(0.01);
  });

  it('fills from exploration with propensity 1/k when SIMILAR runs dry, and from SIMILAR alone with 1', () => {
    const pools: CandidatePools = { SIMILAR: pool(1, 2), POPULAR: pool(101, 10), RECENT: pool(201, 10) };
    for (let p = 0; p < 20; p++) {
      const page = fill(0.2, pools, 8, `dry:${p}`);
      expect(page).toHaveLength(8);
      let similarLeft = 2;
      for (const d of page) {
        if (d.source === 'SIMILAR') expect(d.propensity).toBeCloseTo(0.8, 12);
        else expect(d.propensity).toBeCloseTo(similarLeft > 0 ? 0.2 / 2 : 1 / 2, 12);
        if (d.source === 'SIMILAR') similarLeft--;
      }
    }
    const onlySimilar = fill(0.5, { SIMILAR: pool(1, 5) }, 5, 'only');
    expect(onlySimilar.every((d) => d.source === 'SIMILAR' && d.propensity === 1)).toBe(true);
  });

  it('returns a shorter page only when every pool is exhausted', () => {
    expect(fill(0.3, { SIMILAR: pool(1, 3), EXPLORE: pool(10, 2) }, 10, 'short')).toHaveLength(5);
    expect(fill(0.3, {}, 10, 'empty')).toEqual([]);
  });

  it('refuses an epsilon outside [0, 1]', () => {
    for (const epsilon of [-0.1, 1.1, Number.NaN])
      expect(() => createEpsilonGreedyPolicy({ epsilon })).toThrow(RangeError);
  });
});
