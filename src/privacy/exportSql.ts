import { namedStatement } from '../platform/pool.js';

/**
 * The privacy export's statements (docs/privacy.md#export). Each runs under the requester's identity
 * (the person, or an admin), so row-level security decides what it may read; the three parts of a
 * person's data the gateway role cannot read that way go through the export_* functions of migration
 * 20261210030000_privacy_export. A list is read in keyset pages: $1 the person, the cursor (the last
 * row's key, strictly after it), then the page size; the first page starts below every key.
 */

/** export profile: the person's profile, the embedding as numbers. $1 user id. */
export const exportProfileSql = namedStatement(
  'export_profile',
  `SELECT p.user_id, p.handle, p.display_name, p.role, p.follower_count, p.following_count,
       p.embedding::real[] AS embedding, p.embedding_updated_at, p.source, p.external_id, p.created_at,
       p.updated_at
FROM profiles p WHERE p.user_id = $1
  -- An account being erased is half gone: not exported (docs/privacy.md#erasure).
  AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.user_id = p.user_id)`,
);

/** export interests: declared interests with their affinities, by interest id. $2 after id. */
export const exportInterestsSql = namedStatement(
  'export_interests',
  `SELECT ui.interest_id, ic.slug, ic.name, ui.affinity, ui.reinforced_at, ui.decayed_at, ui.created_at
FROM user_interests ui JOIN interest_catalog ic ON ic.id = ui.interest_id
WHERE ui.user_id = $1 AND ui.interest_id > $2
ORDER BY ui.interest_id LIMIT $3`,
);

/** export likes: oldest first along likes_user_recent_idx. $2, $3 after (created_at, listing_id). */
export const exportLikesSql = namedStatement(
  'export_likes',
  `SELECT listing_id, created_at FROM likes
WHERE user_id = $1 AND (created_at, listing_id) > ($2::timestamptz, $3::int)
ORDER BY created_at, listing_id LIMIT $4`,
);

/** export comments: deleted ones too, oldest first. $2, $3 after (created_at, id). */
export const exportCommentsSql = namedStatement(
  'export_comments',
  `SELECT id, listing_id, body, created_at, updated_at, deleted_at FROM comments
WHERE user_id = $1 AND created_at >= $2::timestamptz AND (created_at, id) > ($2::timestamptz, $3::bigint)
ORDER BY created_at, id LIMIT $4`,
);

/** export following: whom the person follows (handles are public), by their id. $2 after id. */
export const exportFollowingSql = namedStatement(
  'export_following',
  `SELECT f.followee_id AS user_id, p.handle, f.created_at
FROM follows f LEFT JOIN public_profiles p ON p.user_id = f.followee_id
WHERE f.follower_id = $1 AND f.followee_id > $2::uuid
ORDER BY f.followee_id LIMIT $3`,
);

/** export followers: who follows the person, by their id. $2 after id. */
export const exportFollowersSql = namedStatement(
  'export_followers',
  `SELECT f.follower_id AS user_id, p.handle, f.created_at
FROM follows f LEFT JOIN public_profiles p ON p.user_id = f.follower_id
WHERE f.followee_id = $1 AND f.follower_id > $2::uuid
ORDER BY f.follower_id LIMIT $3`,
);

/** export listings: what the person sells, removed ones included, by id. $2 after id. */
export const exportListingsSql = namedStatement(
  'export_listings',
  `SELECT id, category_id, title, description, price::text AS price, currency, status, like_count, comment_count,
       source, external_id, created_at, updated_at
FROM marketplace_listings WHERE seller_id = $1 AND id > $2
ORDER BY id LIMIT $3`,
);

/** export hidden listings: listings the person hid from their feed, by listing id. $2 after id. */
export const exportHiddenListingsSql = namedStatement(
  'export_hidden_listings',
  `SELECT listing_id, created_at FROM hidden_listings WHERE user_id = $1 AND listing_id > $2
ORDER BY listing_id LIMIT $3`,
);

/** export signals: intent signals, oldest first (earlier weeks pruned). $2, $3 after (created_at, id). */
export const exportSignalsSql = namedStatement(
  'export_signals',
  `SELECT id, kind, listing_id, query, weight, created_at FROM intent_signals
WHERE user_id = $1 AND created_at >= $2::timestamptz AND (created_at, id) > ($2::timestamptz, $3::bigint)
ORDER BY created_at, id LIMIT $4`,
);

/** export feed impressions: through export_learning_events. $2, $3 after (created_at, id). */
export const exportImpressionsSql = namedStatement(
  'export_impressions',
  `SELECT id, listing_id, policy, source, propensity, position, reward, rewarded_at, context, created_at
FROM export_learning_events($1, $2::timestamptz, $3::uuid, $4)`,
);

/** export idempotency keys: through export_idempotency_keys, by key. $2 after key. */
export const exportIdempotencyKeysSql = namedStatement(
  'export_idempotency_keys',
  `SELECT key, operation, request_hash, response, created_at FROM export_idempotency_keys($1, $2, $3)`,
);

/** export problem reports: the person's reports about feature flags, by id. $2 after id. */
export const exportProblemReportsSql = namedStatement(
  'export_problem_reports',
  `SELECT id, flag_key, variant, message, at FROM flag_problem_reports WHERE user_id = $1 AND id > $2
ORDER BY id LIMIT $3`,
);

/** export feed candidates: the feed's kept candidates, through export_feed_candidates. $1 user id. */
export const exportFeedCandidatesSql = namedStatement(
  'export_feed_candidates',
  `SELECT listing_ids, scores, sources, computed_at FROM export_feed_candidates($1)`,
);
