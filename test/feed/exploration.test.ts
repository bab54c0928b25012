import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  createFeedHarness,
  sourcesOf,
  suggestionsPage,
  type FeedHarness,
  type SuggestionsPage,
} from '../support/feedHarness.js';
import { createFeedViewer, learningEvents, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';

/** k exploration pools (POPULAR, RECENT, EXPLORE) split ε evenly: ε/k with k ∈ {1, 2, 3}. */
const explorationPropensities = (epsilon: number) => [1, 2, 3].map((k) => epsilon / k);

describe('ε-greedy exploration', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  const harnesses: FeedHarness[] = [];

  const harness = (epsilon: string): FeedHarness => {
    const h = createFeedHarness(db, { FEED_EPSILON: epsilon });
    harnesses.push(h);
    return h;
  };
  const viewer = (): Promise<Viewer & { userId: string }> =>
    createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.9 }]);

  /** `pages` pages of first: size in one session. */
  async function session(
    h: FeedHarness,
    who: Viewer,
    size: number,
    pages: number,
  ): Promise<SuggestionsPage[]> {
    const out: SuggestionsPage[] = [];
    let after: string | null = null;
    for (let i = 0; i < pages; i += 1) {
      const page = await suggestionsPage(h, who, { first: size, after });
      out.push(page);
      after = page.pageInfo.endCursor;
    }
    return out;
  }

  const impressionIds = (pages: SuggestionsPage[]) =>
    pages.flatMap((p) => p.edges.map((e) => e.node.impressionId));

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [30, 30, 30]);
  });

  afterAll(async () => {
    for (const h of harnesses) await h.close();
    await db?.drop();
  });

  it('with FEED_EPSILON=0 serves only SIMILAR, each logged with propensity 1', async () => {
    const h = harness('0');
    const who = await viewer();
    const pages = await session(h, who, 10, 3);
    expect(pages.flatMap(sourcesOf)).toEqual(Array<string>(30).fill('SIMILAR'));
    expect(pages.map((p) => p.fallback)).toEqual([null, null, null]);
    const events = await learningEvents(db.pool, impressionIds(pages));
    expect(events).toHaveLength(30);
    expect(events.map((e) => e.source)).toEqual(Array<string>(30).fill('SIMILAR'));
    expect(events.map((e) => e.propensity)).toEqual(Array<number>(30).fill(1));
    expect(new Set(events.map((e) => e.policy))).toEqual(new Set(['epsilon-greedy']));
  });

  it('with FEED_EPSILON=1 serves no SIMILAR while the exploration pools have items', async () => {
    const h = harness('1');
    const who = await viewer();
    const pages = await session(h, who, 10, 3);
    const sources = pages.flatMap(sourcesOf);
    expect(sources).toHaveLength(30);
    expect(sources.filter((s) => s === 'SIMILAR')).toEqual([]);
    expect(new Set(sources).size).toBeGreaterThan(1);
    const events = await learningEvents(db.pool, impressionIds(pages));
    expect(events).toHaveLength(30);
    for (const e of events) {
      expect(['POPULAR', 'RECENT', 'EXPLORE']).toContain(e.source);
      expect(explorationPropensities(1)).toContainEqual(e.propensity);
    }
  });

  it('with FEED_EPSILON=0.5 mixes both and logs 1 − ε for SIMILAR and ε/k for exploration', async () => {
    const h = harness('0.5');
    const who = await viewer();
    const pages = await session(h, who, 10, 4);
    const events = await learningEvents(db.pool, impressionIds(pages));
    expect(events).toHaveLength(40);
    const similar = events.filter((e) => e.source === 'SIMILAR');
    const explored = events.filter((e) => e.source !== 'SIMILAR');
    // Both kinds appear (all 40 slots the same kind has probability 2 × 0.5^40).
    expect(similar.length).toBeGreaterThan(0);
    expect(explored.length).toBeGreaterThan(0);
    expect(new Set(similar.map((e) => e.propensity))).toEqual(new Set([0.5]));
    for (const e of explored) expect(explorationPropensities(0.5)).toContainEqual(e.propensity);
    // The served source and the logged source agree slot by slot.
    expect(events.map((e) => e.source)).toEqual(pages.flatMap(sourcesOf));
  });
});
