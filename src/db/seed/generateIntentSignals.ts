import type { CatalogPlan } from './generateCatalog.js';
import type { ListingPlan } from './generateListings.js';
import { pickListingFor } from './generateLikesAndComments.js';
import type { UserPlan } from './generateUsers.js';
import { createRng } from './createRng.js';
import type { Rng } from './createRng.js';
import { DAY_MS, instantBetween } from './timeSpans.js';
import { SEARCH_SUFFIXES } from './wordLists.js';

export interface IntentSignalPlan {
  /** Ids are 1..n in created_at order. */
  userIndex: number[];
  kinds: string[];
  /** -1 for searches, which have a query instead of a listing. */
  listingIndex: number[];
  queries: (string | null)[];
  weights: number[];
  createdAt: number[];
}

const MAX_SIGNALS_PER_USER = 30;
// Recent behaviour only: the recommender reads the last few weeks, and retention keeps 90 days.
const SIGNAL_WINDOW_DAYS = 30;

function kindFor(rng: Rng): string {
  const u = rng.next();
  return u < 0.5
    ? 'view'
    : u < 0.7
      ? 'click'
      : u < 0.8
        ? 'dwell'
        : u < 0.86
          ? 'save'
          : u < 0.9
            ? 'share'
            : 'search';
}

function weightFor(kind: string, rng: Rng): number {
  switch (kind) {
    case 'click':
      return 2;
    // Dwell weight is seconds spent on the listing.
    case 'dwell':
      return rng.int(5, 180);
    case 'save':
      return 4;
    case 'share':
      return 5;
    default:
      return 1;
  }
}

export function generateIntentSignals(
  users: UserPlan,
  listings: ListingPlan,
  catalog: CatalogPlan,
  seed: number,
  asOfMs: number,
): IntentSignalPlan {
  const rng = createRng(seed, 'intent-signals');
  const raw: IntentSignalPlan = {
    userIndex: [],
    kinds: [],
    listingIndex: [],
    queries: [],
    weights: [],
    createdAt: [],
  };
  const windowStart = asOfMs - SIGNAL_WINDOW_DAYS * DAY_MS;

  for (let user = 0; user < users.count; user += 1) {
    const draw = rng.next();
    const want = Math.floor(draw * draw * MAX_SIGNALS_PER_USER);
    for (let n = 0; n < want; n += 1) {
      const kind = kindFor(rng);
      let listing = -1;
      let query: string | null = null;
      let since = windowStart;
      if (kind === 'search') {
        const home = catalog.categories[users.homeCategories[2 * user] ?? 0];
        const interest = catalog.interests[rng.pick(home?.interestIndexes ?? [0])];
        // People type searches in lower case.
        query = `${(interest?.name ?? 'deals').toLowerCase()}${rng.pick(SEARCH_SUFFIXES)}`;
      } else {
        listing = pickListingFor(user, users, listings, rng);
        since = Math.max(windowStart, listings.createdAt[listing] ?? windowStart);
      }
      raw.userIndex.push(user);
      raw.kinds.push(kind);
      raw.listingIndex.push(listing);
      raw.queries.push(query);
      raw.weights.push(weightFor(kind, rng));
      raw.createdAt.push(instantBetween(since, asOfMs, rng.next()));
    }
  }

  const order = raw.createdAt
    .map((_, i) => i)
    .sort((a, b) => (raw.createdAt[a] ?? 0) - (raw.createdAt[b] ?? 0));
  return {
    userIndex: order.map((i) => raw.userIndex[i] ?? 0),
    kinds: order.map((i) => raw.kinds[i] ?? 'view'),
    listingIndex: order.map((i) => raw.listingIndex[i] ?? -1),
    queries: order.map((i) => raw.queries[i] ?? null),
    weights: order.map((i) => raw.weights[i] ?? 1),
    createdAt: order.map((i) => raw.createdAt[i] ?? 0),
  };
}
