import type { CatalogPlan } from './generateCatalog.js';
import type { UserPlan } from './generateUsers.js';
import { createRng } from './createRng.js';
import { DAY_MS, instantBetween } from './timeSpans.js';

export interface UserInterestPlan {
  userIndex: number[];
  interestIndex: number[];
  affinity: number[];
  createdAt: number[];
  reinforcedAt: number[];
}

export const MIN_INTERESTS_PER_USER = 3;
export const MAX_INTERESTS_PER_USER = 12;

// Share of a user's interests drawn from their two home categories; the rest follow global taste.
const HOME_SHARE = 0.75;

function roundAffinity(value: number): number {
  // Three decimals survive the trip through `real` unchanged in print; never 0 (the (0,1] range).
  return Math.max(0.001, Math.min(1, Math.round(value * 1000) / 1000));
}

export function generateUserInterests(
  users: UserPlan,
  catalog: CatalogPlan,
  seed: number,
  asOfMs: number,
): UserInterestPlan {
  const rng = createRng(seed, 'user-interests');
  const plan: UserInterestPlan = {
    userIndex: [],
    interestIndex: [],
    affinity: [],
    createdAt: [],
    reinforcedAt: [],
  };
  const interestCount = catalog.interests.length;
  const maxPerUser = Math.min(MAX_INTERESTS_PER_USER, interestCount);
  const chosen = new Set<number>();

  for (let u = 0; u < users.count; u += 1) {
    // Squaring skews toward a handful of interests, with a tail of enthusiasts near the maximum.
    const draw = rng.next();
    const want = Math.min(maxPerUser, MIN_INTERESTS_PER_USER + Math.floor(draw * draw * 10));
    const homes = [users.homeCategories[2 * u] ?? 0, users.homeCategories[2 * u + 1] ?? 0];
    chosen.clear();
    for (let attempts = 0; chosen.size < want && attempts < want * 20; attempts += 1) {
      const fromHome = rng.chance(HOME_SHARE);
      let interest: number;
      if (fromHome) {
        const pool = catalog.categories[rng.pick(homes)]?.interestIndexes ?? [];
        if (pool.length === 0) continue;
        interest = rng.pick(pool);
      } else {
        interest = catalog.interestSampler.sample(rng);
      }
      if (chosen.has(interest)) continue;
      chosen.add(interest);
      const home = homes.includes(catalog.interests[interest]?.categoryIndex ?? -1);
      const signup = users.createdAt[u] ?? asOfMs;
      const createdAt = instantBetween(signup, asOfMs - 7 * DAY_MS, rng.next());
      plan.userIndex.push(u);
      plan.interestIndex.push(interest);
      plan.affinity.push(roundAffinity(home ? 0.55 + 0.45 * rng.next() : 0.1 + 0.5 * rng.next()));
      plan.createdAt.push(createdAt);
      plan.reinforcedAt.push(instantBetween(createdAt, asOfMs, rng.next()));
    }
    // Unlucky draws on a tiny catalog: top up in id order so the 3-interest minimum always holds.
    for (let interest = 0; chosen.size < want && interest < interestCount; interest += 1) {
      if (chosen.has(interest)) continue;
      chosen.add(interest);
      const signup = users.createdAt[u] ?? asOfMs;
      plan.userIndex.push(u);
      plan.interestIndex.push(interest);
      plan.affinity.push(roundAffinity(0.1 + 0.5 * rng.next()));
      plan.createdAt.push(signup);
      plan.reinforcedAt.push(signup);
    }
  }
  return plan;
}
