import type { CatalogPlan } from './generateCatalog.js';
import { VIEW_LEAD_MS } from './engagementRows.js';
import type { UserHistory } from './engagementRows.js';
import type { ListingPlan } from './generateListings.js';
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

/** A browsing signal's kind: mostly views and clicks, now and then a save, share or search. */
export function kindFor(rng: Rng): string {
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

export function weightFor(kind: string, rng: Rng): number {
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

const MAX_EXTRA_SIGNALS_PER_USER = 30;
// Recent behaviour only: the recommender reads the last few weeks, and retention keeps 90 days.
const SIGNAL_WINDOW_DAYS = 30;
const ACCOMPANY_SHARE = 0.4;
const ACCOMPANYING_KINDS = ['click', 'dwell', 'save'] as const;
const NOTHING: ReadonlySet<number> = new Set<number>();

/**
 * One user's recent browsing: a view before each recent like (sometimes with a click, dwell or save),
 * plus views and searches that led nowhere, drawn from the same drifting taste.
 */
export function addIntentSignals(
  user: number,
  history: UserHistory,
  declaredInterests: readonly number[],
  signals: IntentSignalPlan,
  context: { listings: ListingPlan; catalog: CatalogPlan },
  rng: Rng,
  asOfMs: number,
): void {
  const { listings, catalog } = context;
  const windowStart = asOfMs - SIGNAL_WINDOW_DAYS * DAY_MS;
  const add = (kind: string, listing: number, query: string | null, at: number): void => {
    signals.userIndex.push(user);
    signals.kinds.push(kind);
    signals.listingIndex.push(listing);
    signals.queries.push(query);
    signals.weights.push(weightFor(kind, rng));
    signals.createdAt.push(at);
  };
  const { firstLike, likes, chooser, window } = history;
  for (let row = firstLike; row < likes.userIndex.length; row += 1) {
    const likedAt = likes.createdAt[row] ?? 0;
    if (likedAt < windowStart) continue;
    const listing = likes.listingIndex[row] ?? 0;
    const since = Math.max(windowStart, listings.createdAt[listing] ?? likedAt, likedAt - VIEW_LEAD_MS);
    const viewedAt = instantBetween(since, likedAt, rng.next());
    add('view', listing, null, viewedAt);
    if (rng.chance(ACCOMPANY_SHARE)) {
      add(rng.pick(ACCOMPANYING_KINDS), listing, null, instantBetween(viewedAt, likedAt, rng.next()));
    }
  }

  const draw = rng.next();
  const want = Math.floor(draw * draw * MAX_EXTRA_SIGNALS_PER_USER);
  for (let n = 0; n < want; n += 1) {
    const kind = kindFor(rng);
    const at = instantBetween(windowStart, asOfMs, rng.next());
    if (kind === 'search') {
      const interest = catalog.interests[declaredInterests.length > 0 ? rng.pick(declaredInterests) : 0];
      // People type searches in lower case.
      add(kind, -1, `${(interest?.name ?? 'deals').toLowerCase()}${rng.pick(SEARCH_SUFFIXES)}`, at);
      continue;
    }
    const listing = chooser.choose(window.progress(at), at, NOTHING, rng);
    if (listing >= 0) add(kind, listing, null, at);
  }
}
