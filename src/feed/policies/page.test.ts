import { describe, expect, it } from 'vitest';
import { createEpsilonGreedyPolicy } from './epsilonGreedy.js';
import { exploitOnTop } from './page.js';
import { createRng } from './random.js';
import type { Candidate, FeedSource, SlotDecision } from './types.js';

const decision = (id: number, source: FeedSource, propensity: number, position: number): SlotDecision => ({
  item: { id, categoryId: id % 3, score: 1 },
  source,
  propensity,
  position,
});

const page = (sources: FeedSource[]): SlotDecision[] =>
  sources.map((source, i) => decision(i + 1, source, source === 'SIMILAR' ? 0.9 : 0.05, i));

describe('exploitOnTop', () => {
  it('moves exploration chosen for the top slots just below the first exploit items', () => {
    const shown = exploitOnTop(
      page(['EXPLORE', 'SIMILAR', 'POPULAR', 'SIMILAR', 'SIMILAR', 'RECENT', 'SIMILAR']),
      3,
    );
    expect(shown.map((d) => [d.item.id, d.source, d.position, d.decidedAt])).toEqual([
      [2, 'SIMILAR', 0, 1],
      [4, 'SIMILAR', 1, 3],
      [5, 'SIMILAR', 2, 4],
      [1, 'EXPLORE', 3, 0],
      [3, 'POPULAR', 4, 2],
      [6, 'RECENT', 5, undefined],
      [7, 'SIMILAR', 6, undefined],
    ]);
  });

  it('keeps every item, its source and its propensity: only places move', () => {
    const before = page(['POPULAR', 'RECENT', 'SIMILAR', 'EXPLORE', 'SIMILAR']);
    const shown = exploitOnTop(before, 2);
    const key = (d: SlotDecision) => `${d.item.id}:${d.source}:${d.propensity}`;
    expect(shown.map(key).sort()).toEqual(before.map(key).sort());
    expect(shown.map((d) => d.position)).toEqual([0, 1, 2, 3, 4]);
  });

  it('leaves a page alone when its top is exploit already, when it has no exploit items, or with 0 slots', () => {
    const ordered = page(['SIMILAR', 'SIMILAR', 'SIMILAR', 'POPULAR']);
    expect(exploitOnTop(ordered, 3)).toEqual(ordered);
    const explorationOnly = page(['POPULAR', 'RECENT']);
    expect(exploitOnTop(explorationOnly, 3)).toEqual(explorationOnly);
    const mixed = page(['RECENT', 'SIMILAR']);
    expect(exploitOnTop(mixed, 0)).toEqual(mixed);
  });

  it('puts all exploit items first when the page has fewer than the kept slots', () => {
    const shown = exploitOnTop(page(['POPULAR', 'SIMILAR', 'RECENT']), 5);
    expect(shown.map((d) => d.source)).toEqual(['SIMILAR', 'POPULAR', 'RECENT']);
  });

  it('refuses a negative or fractional number of slots', () => {
    expect(() => exploitOnTop([], -1)).toThrow(RangeError);
    expect(() => exploitOnTop([], 1.5)).toThrow(RangeError);
  });

  it('shows no exploration above the top slots’ ranked items of an ε-greedy page, and explores as often', () => {
    const pool = (from: number, n: number): Candidate[] =>
      Array.from({ length: n }, (_, i) => ({ id: from + i, categoryId: i % 5, score: n - i }));
    const policy = createEpsilonGreedyPolicy({ epsilon: 0.3 });
    let explored = 0;
    let exploredShown = 0;
    for (let seed = 0; seed < 200; seed += 1) {
      const chosen = policy.fillPage(
        {
          pools: {
            SIMILAR: pool(1, 40),
            POPULAR: pool(100, 20),
            RECENT: pool(200, 20),
            EXPLORE: pool(300, 20),
          },
          slots: 10,
          categoryCap: 10,
        },
        createRng(`page-${seed}`),
      );
      const shown = exploitOnTop(chosen, 3);
      // The top holds ranked items only, as many as the page has up to three.
      const ranked = Math.min(3, chosen.filter((d) => d.source === 'SIMILAR').length);
      expect(shown.slice(0, ranked).every((d) => d.source === 'SIMILAR')).toBe(true);
      explored += chosen.filter((d) => d.source !== 'SIMILAR').length;
      exploredShown += shown.filter((d) => d.source !== 'SIMILAR').length;
    }
    // ε = 0.3 of 2,000 slots: about 600 explore, with or without the top kept for exploit items.
    expect(explored).toBeGreaterThan(500);
    expect(exploredShown).toBe(explored);
  });
});
