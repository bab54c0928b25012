import type { CatalogPlan } from './generateCatalog.js';
import type { ListingPlan } from './generateListings.js';
import { LISTING_WINDOW_DAYS } from './generateListings.js';
import type { UserInterestPlan } from './generateUserInterests.js';
import type { UserPlan } from './generateUsers.js';
import { createTasteChooser, declaredInterests } from './createTasteChooser.js';
import { VIEW_LEAD_MS } from './engagementRows.js';
import type { CommentPlan, LikePlan, UserHistory, UserWindow } from './engagementRows.js';
import { createRng } from './createRng.js';
import type { Rng } from './createRng.js';
import { addIntentSignals } from './generateIntentSignals.js';
import type { IntentSignalPlan } from './generateIntentSignals.js';
import { portableExp } from './tasteModel.js';
import type { TastePlan } from './tasteModel.js';
import { DAY_MS, instantBetween } from './timeSpans.js';
import { BUYER_COMMENTS, SELLER_REPLIES } from './wordLists.js';

export interface EngagementPlan {
  likes: LikePlan;
  comments: CommentPlan;
  intentSignals: IntentSignalPlan;
}

// Likes per user are log-normal (median × e^(σ·N(0,1))), with a share of lurkers who like nothing.
const MEDIAN_LIKES = 12;
const LIKES_SIGMA = 1;
const LURKER_SHARE = 0.12;
const MAX_LIKES_PER_USER = 200;
/** The demo account always has a history worth recommending from. */
const DEMO_USER = 1;
const DEMO_MIN_LIKES = 24;
// Nobody is active before the first listings exist.
const ACTIVE_LEAD_DAYS = 7;
const MAX_COMMENTS_PER_USER = 10;
const COMMENT_ON_LIKED_SHARE = 0.7;
const SELLER_REPLY_RATE = 0.35;
const SOFT_DELETE_RATE = 0.03;

const NOTHING: ReadonlySet<number> = new Set<number>();

function likesWanted(user: number, rng: Rng, candidates: number): number {
  const lurker = rng.chance(LURKER_SHARE);
  const drawn = Math.round(MEDIAN_LIKES * portableExp(LIKES_SIGMA * rng.gaussian()));
  const want = user === DEMO_USER ? Math.max(DEMO_MIN_LIKES, drawn) : lurker ? 0 : drawn;
  // Half the candidates at most, so the softmax still has a choice for the last like.
  return Math.max(0, Math.min(want, MAX_LIKES_PER_USER, Math.floor(candidates / 2)));
}

function sortedByTime<T extends { createdAt: number[] }>(raw: T): T {
  // Stable sort by time (ties keep generation order) so ids ascend with created_at.
  const order = raw.createdAt
    .map((_, i) => i)
    .sort((a, b) => (raw.createdAt[a] ?? 0) - (raw.createdAt[b] ?? 0));
  const out = {} as Record<string, unknown[]>;
  for (const [key, column] of Object.entries(raw as Record<string, unknown[]>)) {
    out[key] = order.map((i) => column[i]);
  }
  return out as T;
}

function activeWindow(user: number, users: UserPlan, rng: Rng, asOfMs: number): UserWindow {
  const earliest = Math.max(
    users.createdAt[user] ?? asOfMs,
    asOfMs - (LISTING_WINDOW_DAYS - ACTIVE_LEAD_DAYS) * DAY_MS,
  );
  const from = earliest + rng.next() * 0.4 * (asOfMs - earliest);
  const to = from + (0.3 + 0.7 * rng.next()) * (asOfMs - from);
  return { from, to, progress: (at) => Math.max(0, Math.min(1, (at - from) / Math.max(1, to - from))) };
}

/**
 * Likes, comments and intent signals from the latent-taste model (tasteModel.ts, createTasteChooser.ts):
 * each user's likes drift over their active window, their comments are mostly on what they liked, and
 * their recent views precede their likes. Fills listings.likeCount and commentCount exactly.
 */
export function generateEngagement(
  users: UserPlan,
  userInterests: UserInterestPlan,
  listings: ListingPlan,
  catalog: CatalogPlan,
  taste: TastePlan,
  seed: number,
  asOfMs: number,
): EngagementPlan {
  const tasteRng = createRng(seed, 'user-tastes');
  const likeRng = createRng(seed, 'likes');
  const commentRng = createRng(seed, 'comments');
  const signalRng = createRng(seed, 'intent-signals');
  const ranges = declaredInterests(userInterests, users.count);
  const likes: LikePlan = { userIndex: [], listingIndex: [], createdAt: [] };
  const comments: CommentPlan = {
    listingIndex: [],
    userIndex: [],
    bodies: [],
    createdAt: [],
    updatedAt: [],
    deletedAt: [],
  };
  const signals: IntentSignalPlan = {
    userIndex: [],
    kinds: [],
    listingIndex: [],
    queries: [],
    weights: [],
    createdAt: [],
  };
  const context = { users, listings, catalog, taste };
  const liked = new Set<number>();

  for (let user = 0; user < users.count; user += 1) {
    const start = ranges.start[user] ?? 0;
    const end = ranges.end[user] ?? 0;
    const declared = {
      interests: userInterests.interestIndex.slice(start, end),
      affinities: userInterests.affinity.slice(start, end),
    };
    const chooser = createTasteChooser(user, declared, context, tasteRng);
    const window = activeWindow(user, users, likeRng, asOfMs);

    // Likes, in time order, each drawn for the taste of its moment.
    const want = likesWanted(user, likeRng, chooser.candidates.length);
    const times = Array.from({ length: want }, () => instantBetween(window.from, window.to, likeRng.next()));
    times.sort((a, b) => a - b);
    liked.clear();
    const firstLike = likes.userIndex.length;
    for (const at of times) {
      const listing = chooser.choose(window.progress(at), at, liked, likeRng);
      if (listing < 0) continue;
      liked.add(listing);
      likes.userIndex.push(user);
      likes.listingIndex.push(listing);
      likes.createdAt.push(at);
      listings.likeCount[listing] = (listings.likeCount[listing] ?? 0) + 1;
    }

    const history: UserHistory = { firstLike, likes, chooser, window };
    addComments(user, history, comments, listings, users, commentRng, asOfMs);
    addIntentSignals(user, history, declared.interests, signals, context, signalRng, asOfMs);
  }

  return { likes, comments: sortedByTime(comments), intentSignals: sortedByTime(signals) };
}

function addComments(
  user: number,
  history: UserHistory,
  comments: CommentPlan,
  listings: ListingPlan,
  users: UserPlan,
  rng: Rng,
  asOfMs: number,
): void {
  const add = (listing: number, author: number, body: string, createdAt: number): void => {
    const deletedAt = rng.chance(SOFT_DELETE_RATE) ? instantBetween(createdAt, asOfMs, rng.next()) : null;
    comments.listingIndex.push(listing);
    comments.userIndex.push(author);
    comments.bodies.push(body);
    comments.createdAt.push(createdAt);
    comments.updatedAt.push(deletedAt ?? createdAt);
    comments.deletedAt.push(deletedAt);
    if (deletedAt === null) listings.commentCount[listing] = (listings.commentCount[listing] ?? 0) + 1;
  };
  const { firstLike, likes, chooser, window } = history;
  const likedCount = likes.userIndex.length - firstLike;
  const draw = rng.next();
  const want = Math.floor(draw * draw * draw * MAX_COMMENTS_PER_USER);
  for (let n = 0; n < want; n += 1) {
    let listing: number;
    let askedAt: number;
    if (likedCount > 0 && rng.chance(COMMENT_ON_LIKED_SHARE)) {
      // A question around the time of the like: before it (deciding) or after (arranging pick-up).
      const row = firstLike + rng.int(0, likedCount - 1);
      listing = likes.listingIndex[row] ?? 0;
      const likedAt = likes.createdAt[row] ?? asOfMs;
      const since = Math.max(
        listings.createdAt[listing] ?? likedAt,
        users.createdAt[user] ?? likedAt,
        likedAt - VIEW_LEAD_MS,
      );
      askedAt = instantBetween(since, Math.min(asOfMs, likedAt + VIEW_LEAD_MS), rng.next());
    } else {
      askedAt = instantBetween(window.from, asOfMs, rng.next());
      listing = chooser.choose(window.progress(askedAt), askedAt, NOTHING, rng);
      if (listing < 0) continue;
    }
    add(listing, user, rng.pick(BUYER_COMMENTS), askedAt);
    const seller = listings.sellerIndex[listing] ?? user;
    if (seller !== user && rng.chance(SELLER_REPLY_RATE)) {
      add(listing, seller, rng.pick(SELLER_REPLIES), instantBetween(askedAt, asOfMs, rng.next()));
    }
  }
}
