import type { ListingPlan } from './generateListings.js';
import { sampleListing } from './generateListings.js';
import type { UserPlan } from './generateUsers.js';
import { createRng } from './createRng.js';
import type { Rng } from './createRng.js';
import { instantBetween } from './timeSpans.js';
import { BUYER_COMMENTS, SELLER_REPLIES } from './wordLists.js';

export interface LikePlan {
  userIndex: number[];
  listingIndex: number[];
  createdAt: number[];
}

export interface CommentPlan {
  /** Comment ids are 1..n in created_at order, as a live app would have assigned them. */
  listingIndex: number[];
  userIndex: number[];
  bodies: string[];
  createdAt: number[];
  updatedAt: number[];
  /** null while visible; soft-deleted comments do not count toward comment_count. */
  deletedAt: (number | null)[];
}

const MAX_LIKES_PER_USER = 60;
const MAX_COMMENTS_PER_USER = 10;
const HOME_SHARE = 0.6;
const SELLER_REPLY_RATE = 0.35;
const SOFT_DELETE_RATE = 0.03;

/** A popular listing, usually from one of the user's home categories. */
export function pickListingFor(user: number, users: UserPlan, listings: ListingPlan, rng: Rng): number {
  if (!rng.chance(HOME_SHARE)) return sampleListing(listings, undefined, rng);
  const category = users.homeCategories[2 * user + (rng.chance(0.5) ? 1 : 0)] ?? 0;
  return sampleListing(listings, listings.byCategory[category], rng);
}

/** Adds likes and fills listings.likeCount with their exact per-listing totals. */
export function generateLikes(
  users: UserPlan,
  listings: ListingPlan,
  seed: number,
  asOfMs: number,
): LikePlan {
  const rng = createRng(seed, 'likes');
  const plan: LikePlan = { userIndex: [], listingIndex: [], createdAt: [] };
  const liked = new Set<number>();
  for (let user = 0; user < users.count; user += 1) {
    const draw = rng.next();
    const want = Math.min(listings.count, Math.floor(draw * draw * MAX_LIKES_PER_USER));
    liked.clear();
    for (let attempts = 0; liked.size < want && attempts < want * 10; attempts += 1) {
      const listing = pickListingFor(user, users, listings, rng);
      if (liked.has(listing)) continue;
      liked.add(listing);
      const since = Math.max(listings.createdAt[listing] ?? asOfMs, users.createdAt[user] ?? asOfMs);
      plan.userIndex.push(user);
      plan.listingIndex.push(listing);
      plan.createdAt.push(instantBetween(since, asOfMs, rng.next()));
      listings.likeCount[listing] = (listings.likeCount[listing] ?? 0) + 1;
    }
  }
  return plan;
}

/** Adds buyer questions and seller replies; fills listings.commentCount (visible comments only). */
export function generateComments(
  users: UserPlan,
  listings: ListingPlan,
  seed: number,
  asOfMs: number,
): CommentPlan {
  const rng = createRng(seed, 'comments');
  const raw: CommentPlan = {
    listingIndex: [],
    userIndex: [],
    bodies: [],
    createdAt: [],
    updatedAt: [],
    deletedAt: [],
  };
  const add = (listing: number, user: number, body: string, createdAt: number): void => {
    const deletedAt = rng.chance(SOFT_DELETE_RATE) ? instantBetween(createdAt, asOfMs, rng.next()) : null;
    raw.listingIndex.push(listing);
    raw.userIndex.push(user);
    raw.bodies.push(body);
    raw.createdAt.push(createdAt);
    raw.updatedAt.push(deletedAt ?? createdAt);
    raw.deletedAt.push(deletedAt);
    if (deletedAt === null) listings.commentCount[listing] = (listings.commentCount[listing] ?? 0) + 1;
  };

  for (let user = 0; user < users.count; user += 1) {
    const draw = rng.next();
    const want = Math.floor(draw * draw * draw * MAX_COMMENTS_PER_USER);
    for (let n = 0; n < want; n += 1) {
      const listing = pickListingFor(user, users, listings, rng);
      const since = Math.max(listings.createdAt[listing] ?? asOfMs, users.createdAt[user] ?? asOfMs);
      const askedAt = instantBetween(since, asOfMs, rng.next());
      add(listing, user, rng.pick(BUYER_COMMENTS), askedAt);
      const seller = listings.sellerIndex[listing] ?? user;
      if (seller !== user && rng.chance(SELLER_REPLY_RATE)) {
        add(listing, seller, rng.pick(SELLER_REPLIES), instantBetween(askedAt, asOfMs, rng.next()));
      }
    }
  }

  // Stable sort by time (ties keep generation order) so ids ascend with created_at.
  const order = raw.createdAt
    .map((_, i) => i)
    .sort((a, b) => (raw.createdAt[a] ?? 0) - (raw.createdAt[b] ?? 0));
  return {
    listingIndex: order.map((i) => raw.listingIndex[i] ?? 0),
    userIndex: order.map((i) => raw.userIndex[i] ?? 0),
    bodies: order.map((i) => raw.bodies[i] ?? ''),
    createdAt: order.map((i) => raw.createdAt[i] ?? 0),
    updatedAt: order.map((i) => raw.updatedAt[i] ?? 0),
    deletedAt: order.map((i) => raw.deletedAt[i] ?? null),
  };
}
