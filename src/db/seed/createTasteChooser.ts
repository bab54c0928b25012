import type { CatalogPlan } from './generateCatalog.js';
import type { ListingPlan } from './generateListings.js';
import { sampleListing } from './generateListings.js';
import type { UserInterestPlan } from './generateUserInterests.js';
import type { UserPlan } from './generateUsers.js';
import type { Rng } from './createRng.js';
import {
  addInterestTaste,
  addScaled,
  gaussianTaste,
  portableExp,
  TASTE_DIM,
  tasteCosine,
} from './tasteModel.js';
import type { TastePlan } from './tasteModel.js';
import { normaliseInPlace } from './unitVectors.js';
import { firstAbove } from './weightedSampler.js';

/**
 * One user's choices under the latent-taste model (see tasteModel.ts):
 * taste(t) drifts from the user's first taste (declared interests + a personal taste) towards a
 * second one; a choice is drawn from popularity × softmax(SHARPNESS · cos(taste(t), item)), or, for a
 * NOISE share, from popularity alone.
 *
 * A softmax over 100k listings per user would be too slow for the bench's 20k users, so each user
 * chooses within a bounded candidate set: uniform draws from their categories (so long-tail items
 * that fit the taste are reachable), popularity draws from them, and global popularity draws.
 */
export interface TasteChooser {
  /** Candidate listings, deduplicated, in draw order. */
  readonly candidates: readonly number[];
  /** The user's taste at a point of their drift, 0 (first taste) to 1 (second). */
  tasteAt(progress: number): Float64Array;
  /**
   * A listing created no later than `at`, not in `exclude`, drawn for the taste at `progress`;
   * -1 when nothing qualifies.
   */
  choose(progress: number, at: number, exclude: ReadonlySet<number>, rng: Rng): number;
}

export const SHARPNESS = 8;
export const NOISE_SHARE = 0.15;
// Segments of the drift: weights are recomputed this many times per user, not per like.
export const DRIFT_STEPS = 4;
const PERSONAL_STRENGTH = 0.9;
const UNIFORM_CANDIDATES = 120;
const HOME_POPULAR_CANDIDATES = 60;
const GLOBAL_CANDIDATES = 30;
const NOISE_RETRIES = 4;
const TASTE_RETRIES = 24;

/** The categories a user cares about: two homes, then those of their declared interests. */
function categoriesOf(
  user: number,
  users: UserPlan,
  interests: readonly number[],
  catalog: CatalogPlan,
): number[] {
  const out = [users.homeCategories[2 * user] ?? 0, users.homeCategories[2 * user + 1] ?? 0];
  for (const interest of interests) out.push(catalog.interests[interest]?.categoryIndex ?? 0);
  return out;
}

export function createTasteChooser(
  user: number,
  declared: { interests: readonly number[]; affinities: readonly number[] },
  context: { users: UserPlan; listings: ListingPlan; catalog: CatalogPlan; taste: TastePlan },
  rng: Rng,
): TasteChooser {
  const { users, listings, catalog, taste } = context;
  const shared = new Float64Array(TASTE_DIM);
  declared.interests.forEach((interest, n) =>
    addInterestTaste(shared, taste, catalog, interest, declared.affinities[n] ?? 0),
  );
  const lengthOf = Math.sqrt(shared.reduce((sum, x) => sum + x * x, 0));
  if (lengthOf > 0) addScaled(shared, shared, 1 / lengthOf - 1);
  const first = shared.slice();
  addScaled(first, gaussianTaste(rng, PERSONAL_STRENGTH), 1);
  const second = shared.slice();
  addScaled(second, gaussianTaste(rng, PERSONAL_STRENGTH), 1);
  normaliseInPlace(first);
  normaliseInPlace(second);

  const categories = categoriesOf(user, users, declared.interests, catalog);
  const seen = new Set<number>();
  const candidates: number[] = [];
  const add = (listing: number): void => {
    if (seen.has(listing)) return;
    seen.add(listing);
    candidates.push(listing);
  };
  for (let n = 0; n < UNIFORM_CANDIDATES; n += 1) {
    const members = listings.byCategory[rng.pick(categories)]?.members;
    if (members && members.length > 0) add(members[rng.int(0, members.length - 1)] ?? 0);
  }
  for (let n = 0; n < HOME_POPULAR_CANDIDATES; n += 1) {
    add(sampleListing(listings, listings.byCategory[rng.pick(categories)], rng));
  }
  for (let n = 0; n < GLOBAL_CANDIDATES; n += 1) add(sampleListing(listings, undefined, rng));

  const tasteAt = (progress: number): Float64Array => {
    const v = new Float64Array(TASTE_DIM);
    addScaled(v, first, 1 - progress);
    addScaled(v, second, progress);
    return normaliseInPlace(v);
  };
  // Cumulative weights per drift step, computed once: √popularity × exp(SHARPNESS · (cos − 1)).
  // The square root: candidates are partly drawn by popularity already, so full weight would count it twice.
  // taste(p) is linear in p before normalising, so two dot products per candidate serve every step.
  const toFirst = candidates.map((listing) => tasteCosine(taste, listing, first));
  const toSecond = candidates.map((listing) => tasteCosine(taste, listing, second));
  const cumulative = Array.from({ length: DRIFT_STEPS }, (_, step) => {
    const progress = (step + 0.5) / DRIFT_STEPS;
    const blend = mixedLength(first, second, progress);
    const out = new Float64Array(candidates.length);
    let total = 0;
    candidates.forEach((listing, i) => {
      const cosine = ((1 - progress) * (toFirst[i] ?? 0) + progress * (toSecond[i] ?? 0)) / blend;
      total += Math.sqrt(listings.popularity[listing] ?? 0) * affinityWeight(cosine);
      out[i] = total;
    });
    return out;
  });
  const available = (listing: number, at: number, exclude: ReadonlySet<number>): boolean =>
    !exclude.has(listing) && (listings.createdAt[listing] ?? Infinity) <= at;

  return {
    candidates,
    tasteAt,
    choose(progress, at, exclude, chooser) {
      if (chooser.chance(NOISE_SHARE)) {
        for (let tries = 0; tries < NOISE_RETRIES; tries += 1) {
          const listing = sampleListing(listings, undefined, chooser);
          if (available(listing, at, exclude)) return listing;
        }
      }
      const step = Math.min(DRIFT_STEPS - 1, Math.floor(progress * DRIFT_STEPS));
      const running = cumulative[step] ?? new Float64Array(0);
      const total = running[running.length - 1] ?? 0;
      if (total <= 0) return -1;
      // Rejection first (cheap: most draws are allowed), then one exact pass over what is left.
      for (let tries = 0; tries < TASTE_RETRIES; tries += 1) {
        const listing = candidates[firstAbove(running, chooser.next() * total)] ?? 0;
        if (available(listing, at, exclude)) return listing;
      }
      let left = 0;
      for (let i = 0; i < candidates.length; i += 1) {
        if (available(candidates[i] ?? 0, at, exclude)) left += weightAt(running, i);
      }
      let target = chooser.next() * left;
      let last = -1;
      for (let i = 0; i < candidates.length && left > 0; i += 1) {
        const listing = candidates[i] ?? 0;
        const weight = weightAt(running, i);
        if (weight <= 0 || !available(listing, at, exclude)) continue;
        last = listing;
        target -= weight;
        if (target < 0) return listing;
      }
      return last;
    },
  };
}

/** Length of (1 − p)·a + p·b. */
function mixedLength(a: Float64Array, b: Float64Array, p: number): number {
  let sumSq = 0;
  for (let i = 0; i < a.length; i += 1) {
    const x = (1 - p) * (a[i] ?? 0) + p * (b[i] ?? 0);
    sumSq += x * x;
  }
  return Math.sqrt(sumSq);
}

// exp(SHARPNESS · (cos − 1)) tabulated over cosine steps of 1/1024: a 0.8 % weight step at most, and
// one lookup instead of a series per candidate and step.
const COSINE_STEPS = 1024;
const AFFINITY = Float64Array.from({ length: 2 * COSINE_STEPS + 1 }, (_, i) =>
  portableExp(SHARPNESS * (i / COSINE_STEPS - 2)),
);

function affinityWeight(cosine: number): number {
  const i = Math.round((Math.max(-1, Math.min(1, cosine)) + 1) * COSINE_STEPS);
  return AFFINITY[i] ?? 0;
}

function weightAt(running: Float64Array, i: number): number {
  return (running[i] ?? 0) - (i > 0 ? (running[i - 1] ?? 0) : 0);
}

/** Per user, the range of their rows in a plan grouped by user (as generateUserInterests makes it). */
export function declaredInterests(
  plan: UserInterestPlan,
  userCount: number,
): { start: Int32Array; end: Int32Array } {
  const start = new Int32Array(userCount);
  const end = new Int32Array(userCount);
  for (let row = plan.userIndex.length - 1; row >= 0; row -= 1) {
    const user = plan.userIndex[row] ?? 0;
    if (end[user] === 0) end[user] = row + 1;
    start[user] = row;
  }
  return { start, end };
}
