import type { Rng } from './random.js';
import { createRng, standardNormal, uniformInt } from './random.js';
import { PageState } from './page.js';
import type { Candidate, CandidatePools, FeedPolicy, FeedSource, PageInput, SlotDecision } from './types.js';
import { FEED_SOURCES } from './types.js';

/**
 * A synthetic marketplace whose click probabilities are known, so the simulator can measure regret exactly.
 * True CTR depends only on (viewer, source, category): the arms both policies act on.
 */
export interface SimUser {
  readonly id: number;
  /** Hidden taste per category (index categoryId − 1), in [0, 1]; two liked categories per user. */
  readonly preference: readonly number[];
  /** In the segment for which the secret arm is excellent; invisible to the SIMILAR ranking. */
  readonly trendSeeker: boolean;
  /** The user's exploit ranking: the 400 items most similar to their taste, read with noise. */
  readonly similar: readonly Candidate[];
}

export interface SimEnvironment {
  readonly categories: number;
  readonly users: readonly SimUser[];
  /** The (source, category) that is secretly good for trend seekers. */
  readonly secretArm: { readonly source: FeedSource; readonly categoryId: number };
  ctr(user: SimUser, source: FeedSource, categoryId: number): number;
  /** This page's candidate pools, the viewer's already-seen items left out as the gateway would. */
  pools(user: SimUser, seen: ReadonlySet<number>, rng: Rng): CandidatePools;
}

const ITEMS_PER_CATEGORY = 200;
const POOL_SIZE = 60;
/** Similarity is a noisy read of taste: the exploit ranking mixes in other categories, as real ones do. */
const SIMILARITY_NOISE = 0.45;
const TREND_SEEKER_SHARE = 0.3;

function firstUnseen(list: readonly Candidate[], seen: ReadonlySet<number>, n: number): Candidate[] {
  const out: Candidate[] = [];
  for (const item of list) {
    if (out.length >= n) break;
    if (!seen.has(item.id)) out.push(item);
  }
  return out;
}

export function createSimEnvironment(seed: number, userCount: number, categories = 8): SimEnvironment {
  const rng = createRng(`sim-env:${seed}`);
  const catalog: Candidate[] = [];
  const recency = new Map<number, number>();
  for (let c = 1; c <= categories; c++) {
    for (let j = 0; j < ITEMS_PER_CATEGORY; j++) {
      const id = catalog.length + 1;
      catalog.push({ id, categoryId: c, score: Math.exp(standardNormal(rng)) });
      recency.set(id, rng.next());
    }
  }
  const popular = [...catalog].sort((a, b) => b.score - a.score);
  const recent = catalog
    .map((item) => ({ ...item, score: recency.get(item.id) ?? 0 }))
    .sort((a, b) => b.score - a.score);
  const secretArm = { source: 'RECENT' as const, categoryId: 1 + uniformInt(rng, categories) };

  const users: SimUser[] = [];
  for (let id = 1; id <= userCount; id++) {
    const preference = Array.from({ length: categories }, () => 0.15 * rng.next());
    const first = uniformInt(rng, categories);
    const second = (first + 1 + uniformInt(rng, categories - 1)) % categories;
    preference[first] = 1;
    preference[second] = 0.6;
    const similar = catalog
      .map((item) => ({
        ...item,
        score: (preference[item.categoryId - 1] ?? 0) + SIMILARITY_NOISE * standardNormal(rng),
      }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 400);
    users.push({ id, preference, trendSeeker: rng.next() < TREND_SEEKER_SHARE, similar });
  }

  // SIMILAR items convert best and track taste most; the other pools convert worse on average, except
  // the secret arm, which beats everything for trend seekers (and only for them).
  const ctr = (user: SimUser, source: FeedSource, categoryId: number): number => {
    const taste = user.preference[categoryId - 1] ?? 0;
    switch (source) {
      case 'SIMILAR':
        return 0.02 + 0.1 * taste;
      case 'POPULAR':
        return 0.02 + 0.05 * taste;
      case 'RECENT':
        if (user.trendSeeker && categoryId === secretArm.categoryId) return 0.25;
        return 0.015 + 0.04 * taste;
      case 'EXPLORE':
        return 0.01 + 0.04 * taste;
    }
  };

  const pools = (user: SimUser, seen: ReadonlySet<number>, pageRng: Rng): CandidatePools => {
    const explore = new Map<number, Candidate>();
    for (let tries = 0; explore.size < POOL_SIZE && tries < POOL_SIZE * 20; tries++) {
      const item = catalog[uniformInt(pageRng, catalog.length)];
      if (item && !seen.has(item.id)) explore.set(item.id, { ...item, score: 0 });
    }
    return {
      SIMILAR: firstUnseen(user.similar, seen, POOL_SIZE),
      POPULAR: firstUnseen(popular, seen, POOL_SIZE),
      RECENT: firstUnseen(recent, seen, POOL_SIZE),
      EXPLORE: [...explore.values()],
    };
  };

  return { categories, users, secretArm, ctr, pools };
}

/**
 * The oracle: a policy that knows the viewer's true CTR for every arm and, slot by slot, takes the eligible
 * (source, item) pair with the highest one, under the same rules as the real policies (PageState: no
 * repeats, category cap, relaxed only when nothing fits). Under "at most cap per category, at most `slots`
 * items, each item once" greedy by weight is optimal (a laminar matroid), so it fills the best page the
 * pools allow.
 */
export function createOraclePolicy(env: SimEnvironment, user: SimUser): FeedPolicy {
  return {
    name: 'oracle',
    fillPage(input: PageInput): SlotDecision[] {
      const page = new PageState(input);
      while (!page.full) {
        const relaxed = page.capRelaxed();
        let best: { source: FeedSource; item: Candidate; value: number } | undefined;
        for (const source of FEED_SOURCES) {
          for (const item of page.nextPerCategory(source, relaxed).values()) {
            const value = env.ctr(user, source, item.categoryId);
            if (!best || value > best.value) best = { source, item, value };
          }
        }
        if (!best) break;
        page.place(best.item, best.source, 1);
      }
      return page.decisions;
    },
  };
}
