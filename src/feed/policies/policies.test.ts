import { describe, expect, it } from 'vitest';
import { createEpsilonGreedyPolicy } from './epsilonGreedy.js';
import { capOfCategory } from './page.js';
import { posteriorsFromCounts } from './posteriors.js';
import type { Rng } from './random.js';
import { createRng, uniformInt } from './random.js';
import { createThompsonPolicy } from './thompson.js';
import type { Candidate, CandidatePools, FeedPolicy, PageInput, SlotDecision } from './types.js';
import { FEED_SOURCES } from './types.js';

// Rules every policy must keep, checked on many random pages whose pools overlap (shared ids) and whose
// categories are few, so the cap binds and sometimes has to give way.

const policies: FeedPolicy[] = [
  createEpsilonGreedyPolicy({ epsilon: 0 }),
  createEpsilonGreedyPolicy({ epsilon: 0.3 }),
  createEpsilonGreedyPolicy({ epsilon: 1 }),
  createThompsonPolicy({ posteriors: posteriorsFromCounts([]) }),
  createThompsonPolicy({
    posteriors: posteriorsFromCounts([
      { source: 'SIMILAR', categoryId: 1, impressions: 900, rewards: 90 },
      { source: 'POPULAR', categoryId: 2, impressions: 300, rewards: 45 },
      { source: 'RECENT', categoryId: 3, impressions: 50, rewards: 1 },
    ]),
  }),
];

function randomPage(rng: Rng): PageInput {
  // Ids from a small range, so the same item often sits in several pools; its category is a function of
  // the id, as in the real catalogue.
  const categories = 1 + uniformInt(rng, 4);
  const item = (id: number): Candidate => ({ id, categoryId: 1 + (id % categories), score: rng.next() });
  const pools: CandidatePools = {};
  for (const source of FEED_SOURCES) {
    const size = uniformInt(rng, 9);
    const ids = new Set(Array.from({ length: size }, () => 1 + uniformInt(rng, 25)));
    pools[source] = [...ids].map(item);
  }
  const exclude = Array.from({ length: uniformInt(rng, 4) }, () => 1 + uniformInt(rng, 25));
  const categoryCap = 1 + uniformInt(rng, 3);
  // Some categories allowed more (a viewer's own share of them), on half the pages.
  const categoryCaps = new Map<number, number>();
  if (uniformInt(rng, 2) === 1)
    for (let c = 1; c <= categories; c++)
      if (uniformInt(rng, 2) === 1) categoryCaps.set(c, categoryCap + uniformInt(rng, 4));
  return { pools, slots: uniformInt(rng, 13), categoryCap, categoryCaps, exclude };
}

/** Replays a page against the rules; returns the first broken rule, or undefined. */
function brokenRule(input: PageInput, page: readonly SlotDecision[]): string | undefined {
  const excluded = new Set(input.exclude ?? []);
  const all = new Map<number, Candidate>();
  for (const source of FEED_SOURCES) for (const c of input.pools[source] ?? []) all.set(c.id, c);
  const available = [...all.values()].filter((c) => !excluded.has(c.id));
  const used = new Set<number>();
  const perCategory = new Map<number, number>();
  for (const [i, d] of page.entries()) {
    if (d.position !== i) return `position ${d.position} at index ${i}`;
    if (!(d.propensity > 0 && d.propensity <= 1)) return `propensity ${d.propensity}`;
    if (used.has(d.item.id) || excluded.has(d.item.id)) return `item ${d.item.id} repeated or excluded`;
    if (!(input.pools[d.source] ?? []).some((c) => c.id === d.item.id))
      return `item ${d.item.id} is not in ${d.source}`;
    const count = perCategory.get(d.item.categoryId) ?? 0;
    if (count >= capOfCategory(input, d.item.categoryId)) {
      const fits = available.some(
        (c) => !used.has(c.id) && (perCategory.get(c.categoryId) ?? 0) < capOfCategory(input, c.categoryId),
      );
      if (fits) return `cap broken at slot ${i} although a candidate fitted`;
    }
    used.add(d.item.id);
    perCategory.set(d.item.categoryId, count + 1);
  }
  const expectedLength = Math.min(input.slots, available.length);
  if (page.length !== expectedLength) return `page has ${page.length} slots, expected ${expectedLength}`;
  return undefined;
}

describe.each(policies.map((policy, i) => [`${policy.name} #${i}`, policy] as const))('%s', (_, policy) => {
  it('keeps the page rules on 1,500 random overlapping pools', () => {
    const rng = createRng(`rules:${policy.name}`);
    for (let n = 0; n < 1500; n++) {
      const input = randomPage(rng);
      const page = policy.fillPage(input, createRng(`page:${n}`));
      const broken = brokenRule(input, page);
      if (broken) expect.fail(`${broken}\ninput: ${JSON.stringify(input)}\npage: ${JSON.stringify(page)}`);
    }
  });

  it('never repeats an item that is in SIMILAR and POPULAR at once', () => {
    const shared = [1, 2, 3, 4, 5].map((id) => ({ id, categoryId: id, score: 1 }));
    const input = { pools: { SIMILAR: shared, POPULAR: [...shared].reverse() }, slots: 10, categoryCap: 2 };
    for (let n = 0; n < 50; n++) {
      const page = policy.fillPage(input, createRng(`shared:${n}`));
      expect(page).toHaveLength(5);
      expect(new Set(page.map((d) => d.item.id)).size).toBe(5);
    }
  });

  it('respects the cap while it can and relaxes it only to avoid an empty slot', () => {
    // Category 1 dominates every pool; only 2 items of other categories exist.
    const items = (first: number) =>
      [0, 1, 2, 3, 4, 5].map((i) => ({ id: first + i, categoryId: 1, score: 6 - i }));
    const input: PageInput = {
      pools: {
        SIMILAR: items(1),
        POPULAR: [{ id: 50, categoryId: 2, score: 1 }],
        EXPLORE: [{ id: 60, categoryId: 3, score: 1 }, ...items(20)],
      },
      slots: 6,
      categoryCap: 2,
    };
    for (let n = 0; n < 50; n++) {
      const page = policy.fillPage(input, createRng(`cap:${n}`));
      expect(page).toHaveLength(6);
      // Both off-category items are placed before the cap is exceeded.
      const firstOverCap = page.findIndex(
        (_d, i) => page.slice(0, i + 1).filter((x) => x.item.categoryId === 1).length > 2,
      );
      expect(firstOverCap).toBeGreaterThanOrEqual(4);
      expect(page.slice(0, firstOverCap).map((d) => d.item.id)).toEqual(expect.arrayContaining([50, 60]));
      expect(brokenRule(input, page)).toBeUndefined();
    }
  });

  it('lets a category with a cap of its own take that many, and holds the others to the page’s cap', () => {
    // The viewer's own category (1) fills SIMILAR; their likes allow it 5 of 6 slots, the rest 2.
    const own = [0, 1, 2, 3, 4, 5].map((i) => ({ id: 1 + i, categoryId: 1, score: 6 - i }));
    const others = [
      { id: 40, categoryId: 2, score: 1 },
      { id: 41, categoryId: 2, score: 0.5 },
      { id: 42, categoryId: 2, score: 0.2 },
    ];
    const input: PageInput = {
      pools: { SIMILAR: [...own, ...others], POPULAR: others, RECENT: others, EXPLORE: others },
      slots: 6,
      categoryCap: 2,
      categoryCaps: new Map([[1, 5]]),
    };
    for (let n = 0; n < 50; n++) {
      const page = policy.fillPage(input, createRng(`own:${n}`));
      expect(page).toHaveLength(6);
      const own1 = page.filter((d) => d.item.categoryId === 1).length;
      expect(own1).toBeLessThanOrEqual(5);
      expect(page.filter((d) => d.item.categoryId === 2).length).toBeLessThanOrEqual(2);
      // Both categories are at their caps or fewer, so a page of 6 is 5 + 1 or 4 + 2.
      expect(own1).toBeGreaterThanOrEqual(4);
      expect(brokenRule(input, page)).toBeUndefined();
    }
  });

  it('gives the same page for the same seed', () => {
    const input = randomPage(createRng('same'));
    expect(policy.fillPage(input, createRng('s'))).toEqual(policy.fillPage(input, createRng('s')));
  });

  it('refuses nonsense slots or caps', () => {
    expect(() => policy.fillPage({ pools: {}, slots: -1, categoryCap: 1 }, createRng(1))).toThrow(RangeError);
    expect(() => policy.fillPage({ pools: {}, slots: 3, categoryCap: 0 }, createRng(1))).toThrow(RangeError);
    const below = { pools: {}, slots: 3, categoryCap: 3, categoryCaps: new Map([[1, 2]]) };
    expect(() => policy.fillPage(below, createRng(1))).toThrow(
      /categoryCaps of 1 must be an integer >= categoryCap/,
    );
    const fractional = { pools: {}, slots: 3, categoryCap: 1, categoryCaps: new Map([[1, 2.5]]) };
    expect(() => policy.fillPage(fractional, createRng(1))).toThrow(RangeError);
  });
});
