import type { ServiceDb } from '../db/service.js';
import { listingFeaturesSql, userFeaturesSql } from './sql.js';

/**
 * Bump when a feature's shape or meaning changes: keys carry it, so a deploy never reads values
 * cached by the previous one (they expire on their own).
 */
export const FEATURE_SCHEMA_VERSION = 1;

export interface CategoryAffinity {
  categoryId: number;
  slug: string;
  /** Sum of the user's interest affinities in the category. */
  affinity: number;
}

export interface UserFeatures {
  userId: string;
  interestCount: number;
  /** Up to 5, strongest first. */
  topCategories: CategoryAffinity[];
  likesGiven: number;
  likesReceived: number;
  commentsGiven: number;
  commentsReceived: number;
  followsGiven: number;
  followers: number;
  /** ISO time of the latest like, comment, follow or signal; null if none. */
  lastActivityAt: string | null;
  feedImpressions30d: number;
  feedRewards30d: number;
  /** Rewards per impression over 30 days; null without impressions. */
  feedCtr30d: number | null;
}

export interface ListingFeatures {
  listingId: number;
  categoryId: number;
  categorySlug: string;
  likeCount: number;
  commentCount: number;
  popularity: number;
  /** ISO creation time: the age is derived from it when read, so a cached value never ages wrongly. */
  createdAt: string;
  feedImpressions30d: number;
  feedRewards30d: number;
  feedCtr30d: number | null;
}

/** One kind of feature: how its ids become keys and how a batch is computed in one SQL statement. */
export interface FeatureKind<Id, F> {
  readonly name: 'user' | 'listing';
  readonly keyOf: (id: Id) => string;
  /** Features of every id that exists, in one statement; ids that do not exist are absent. */
  readonly compute: (service: ServiceDb, ids: readonly Id[]) => Promise<Map<Id, F>>;
}

const ctr = (rewards: number, impressions: number): number | null =>
  impressions > 0 ? rewards / impressions : null;

interface UserFeaturesRow {
  user_id: string;
  interest_count: number;
  top_categories: CategoryAffinity[];
  likes_given: number;
  likes_received: number;
  comments_given: number;
  comments_received: number;
  follows_given: number;
  followers: number;
  last_activity_at: Date | null;
  feed_impressions_30d: number;
  feed_rewards_30d: number;
}

export const userFeatureKind: FeatureKind<string, UserFeatures> = {
  name: 'user',
  keyOf: (id) => `feat:v${FEATURE_SCHEMA_VERSION}:user:${id}`,
  compute: async (service, ids) => {
    const rows = await service.query<UserFeaturesRow>(userFeaturesSql, [ids]);
    return new Map(
      rows.map((r) => [
        r.user_id,
        {
          userId: r.user_id,
          interestCount: r.interest_count,
          topCategories: r.top_categories,
          likesGiven: r.likes_given,
          likesReceived: r.likes_received,
          commentsGiven: r.comments_given,
          commentsReceived: r.comments_received,
          followsGiven: r.follows_given,
          followers: r.followers,
          lastActivityAt: r.last_activity_at?.toISOString() ?? null,
          feedImpressions30d: r.feed_impressions_30d,
          feedRewards30d: r.feed_rewards_30d,
          feedCtr30d: ctr(r.feed_rewards_30d, r.feed_impressions_30d),
        },
      ]),
    );
  },
};

interface ListingFeaturesRow {
  listing_id: number;
  category_id: number;
  category_slug: string;
  like_count: number;
  comment_count: number;
  popularity: number;
  created_at: Date;
  feed_impressions_30d: number;
  feed_rewards_30d: number;
}

export const listingFeatureKind: FeatureKind<number, ListingFeatures> = {
  name: 'listing',
  keyOf: (id) => `feat:v${FEATURE_SCHEMA_VERSION}:listing:${id}`,
  compute: async (service, ids) => {
    const rows = await service.query<ListingFeaturesRow>(listingFeaturesSql, [ids]);
    return new Map(
      rows.map((r) => [
        r.listing_id,
        {
          listingId: r.listing_id,
          categoryId: r.category_id,
          categorySlug: r.category_slug,
          likeCount: r.like_count,
          commentCount: r.comment_count,
          popularity: r.popularity,
          createdAt: r.created_at.toISOString(),
          feedImpressions30d: r.feed_impressions_30d,
          feedRewards30d: r.feed_rewards_30d,
          feedCtr30d: ctr(r.feed_rewards_30d, r.feed_impressions_30d),
        },
      ]),
    );
  },
};

/** The cache keys of some users' and listings' features: what a write that changed them must drop. */
export function featureKeysOf(ids: { users?: readonly string[]; listings?: readonly number[] }): string[] {
  return [
    ...(ids.users ?? []).map(userFeatureKind.keyOf),
    ...(ids.listings ?? []).map(listingFeatureKind.keyOf),
  ];
}
