/** user features: one row per existing user of $1 (uuid[]), computed by user_features() as the service role. */
export const userFeaturesSql = `
SELECT user_id, interest_count, top_categories, likes_given, likes_received, comments_given,
       comments_received, follows_given, followers, last_activity_at, feed_impressions_30d, feed_rewards_30d
FROM user_features($1::uuid[])`;

/** item features: one row per existing listing of $1 (int[]), computed by listing_features(). */
export const listingFeaturesSql = `
SELECT listing_id, category_id, category_slug, like_count, comment_count, popularity, created_at,
       feed_impressions_30d, feed_rewards_30d
FROM listing_features($1::int[])`;
