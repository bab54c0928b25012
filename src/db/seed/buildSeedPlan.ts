import { generateCatalog } from './generateCatalog.js';
import type { CatalogPlan } from './generateCatalog.js';
import { generateFollows } from './generateFollows.js';
import type { FollowPlan } from './generateFollows.js';
import { generateEngagement } from './generateEngagement.js';
import type { CommentPlan, LikePlan } from './engagementRows.js';
import type { IntentSignalPlan } from './generateIntentSignals.js';
import { generateListings } from './generateListings.js';
import type { ListingPlan } from './generateListings.js';
import { generateUserInterests } from './generateUserInterests.js';
import type { UserInterestPlan } from './generateUserInterests.js';
import { generateUsers } from './generateUsers.js';
import type { UserPlan } from './generateUsers.js';
import type { SeedOptions } from './seedOptions.js';
import { generateTastes } from './tasteModel.js';
import type { TastePlan } from './tasteModel.js';

/** Every row to insert except listing embeddings, which are produced while loading. */
export interface SeedPlan {
  seed: number;
  asOfMs: number;
  catalog: CatalogPlan;
  users: UserPlan;
  userInterests: UserInterestPlan;
  listings: ListingPlan;
  /** The hidden tastes engagement is drawn from; listing embeddings carry part of them. */
  taste: TastePlan;
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
  const userInterests = generateUserInterests(users, catalog, seed, asOfMs);
  const taste = generateTastes(catalog, listings, seed);
  return {
    seed,
    asOfMs,
    catalog,
    users,
    userInterests,
    listings,
    taste,
    follows: generateFollows(users, seed, asOfMs),
    // Also fills listings.likeCount / commentCount.
    ...generateEngagement(users, userInterests, listings, catalog, taste, seed, asOfMs),
  };
}
