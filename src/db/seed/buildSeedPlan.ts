import { generateCatalog } from './generateCatalog.js';
import type { CatalogPlan } from './generateCatalog.js';
import { generateFollows } from './generateFollows.js';
import type { FollowPlan } from './generateFollows.js';
import { generateIntentSignals } from './generateIntentSignals.js';
import type { IntentSignalPlan } from './generateIntentSignals.js';
import { generateComments, generateLikes } from './generateLikesAndComments.js';
import type { CommentPlan, LikePlan } from './generateLikesAndComments.js';
import { generateListings } from './generateListings.js';
import type { ListingPlan } from './generateListings.js';
import { generateUserInterests } from './generateUserInterests.js';
import type { UserInterestPlan } from './generateUserInterests.js';
import { generateUsers } from './generateUsers.js';
import type { UserPlan } from './generateUsers.js';
import type { SeedOptions } from './seedOptions.js';

/** Every row to insert except listing embeddings, which are produced while loading. */
export interface SeedPlan {
  seed: number;
  asOfMs: number;
  catalog: CatalogPlan;
  users: UserPlan;
  userInterests: UserInterestPlan;
  listings: ListingPlan;
  follows: FollowPlan;
  likes: LikePlan;
  comments: CommentPlan;
  intentSignals: IntentSignalPlan;
}

export function buildSeedPlan(options: SeedOptions, asOfMs: number): SeedPlan {
  const { seed } = options;
  const catalog = generateCatalog(options.categories, options.interests, seed);
  const users = generateUsers(options.users, catalog, seed, asOfMs);
  const listings = generateListings(options.listings, catalog, users, seed, asOfMs);
  return {
    seed,
    asOfMs,
    catalog,
    users,
    userInterests: generateUserInterests(users, catalog, seed, asOfMs),
    listings,
    follows: generateFollows(users, seed, asOfMs),
    // These two also fill listings.likeCount / commentCount.
    likes: generateLikes(users, listings, seed, asOfMs),
    comments: generateComments(users, listings, seed, asOfMs),
    intentSignals: generateIntentSignals(users, listings, catalog, seed, asOfMs),
  };
}
