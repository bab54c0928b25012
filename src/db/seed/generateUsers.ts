import type { CatalogPlan } from './generateCatalog.js';
import { createRng } from './createRng.js';
import type { Rng } from './createRng.js';
import { createWeightedSampler, powerLawWeight, ranksOf, shuffledIndexes } from './weightedSampler.js';
import type { WeightedSampler } from './weightedSampler.js';
import { FIRST_NAMES, LAST_NAMES } from './wordLists.js';
import { DAY_MS, instantBetween } from './timeSpans.js';

/**
 * The accounts every seeded database has, so demo logins work without looking anything up:
 * user #0 is the admin, user #1 an ordinary user.
 */
export const DEMO_ACCOUNTS = [
  { handle: 'admin', displayName: 'Lodestar Admin', role: 'admin' },
  { handle: 'demo', displayName: 'Demo User', role: 'user' },
] as const;

/** Column-per-field so bulk inserts can slice straight into array parameters. */
export interface UserPlan {
  count: number;
  userIds: string[];
  handles: string[];
  displayNames: string[];
  roles: string[];
  createdAt: number[];
  /** Two "home" category indexes per user (homeCategories[2i], [2i+1]); equal when only one exists. */
  homeCategories: Int32Array;
  /** Draws a user index with power-law popularity: who gets followed and who sells the most. */
  popularitySampler: WeightedSampler;
}

// Leaves room for a numeric suffix of up to eight digits within the 30-character limit.
const HANDLE_MAX_BASE = 22;

function handleBase(first: string, last: string, rng: Rng): string {
  const f = first.toLowerCase();
  const l = last.toLowerCase();
  const style = rng.int(0, 4);
  const raw =
    style === 0
      ? `${f}_${l}`
      : style === 1
        ? `${f}${l}`
        : style === 2
          ? `${f}${rng.int(10, 99)}`
          : style === 3
            ? `${f.charAt(0)}${l}`
            : `${l}_${f}`;
  return raw.replace(/[^a-z0-9_]/g, '').slice(0, HANDLE_MAX_BASE);
}

export function generateUsers(count: number, catalog: CatalogPlan, seed: number, asOfMs: number): UserPlan {
  const rng = createRng(seed, 'users');
  const plan: UserPlan = {
    count,
    userIds: [],
    handles: [],
    displayNames: [],
    roles: [],
    createdAt: [],
    homeCategories: new Int32Array(count * 2),
    popularitySampler: createWeightedSampler([]),
  };
  const taken = new Set<string>(DEMO_ACCOUNTS.map((account) => account.handle));
  // Next numeric suffix per base, so a popular name costs one lookup rather than a scan.
  const nextSuffix = new Map<string, number>();
  const firstSignup = asOfMs - 365 * DAY_MS;
  // Every account predates the 90-day listing window, so sellers and likers always existed first.
  const signupWindow = 270 * DAY_MS;

  for (let i = 0; i < count; i += 1) {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const demo = DEMO_ACCOUNTS[i];
    let handle: string;
    if (demo !== undefined) {
      handle = demo.handle;
    } else {
      const base = handleBase(first, last, rng);
      handle = base;
      let n = nextSuffix.get(base) ?? 2;
      while (taken.has(handle)) {
        handle = `${base}${n}`;
        n += 1;
      }
      nextSuffix.set(base, n);
      taken.add(handle);
    }
    plan.userIds.push(rng.uuid());
    plan.handles.push(handle);
    plan.displayNames.push(demo?.displayName ?? `${first} ${last}`);
    plan.roles.push(demo?.role ?? 'user');
    // Ids follow sign-up order, as they would in a live app.
    plan.createdAt.push(instantBetween(firstSignup, firstSignup + signupWindow, (i + rng.next()) / count));

    const home = catalog.categorySampler.sample(rng);
    let second = home;
    for (let tries = 0; second === home && tries < 8 && catalog.categories.length > 1; tries += 1) {
      second = catalog.categorySampler.sample(rng);
    }
    plan.homeCategories[2 * i] = home;
    plan.homeCategories[2 * i + 1] = second;
  }

  const popularityRank = ranksOf(shuffledIndexes(count, createRng(seed, 'user-popularity')));
  const weights = new Float64Array(count);
  for (let i = 0; i < count; i += 1) weights[i] = powerLawWeight(popularityRank[i] ?? 0, 5);
  plan.popularitySampler = createWeightedSampler(weights);
  return plan;
}
