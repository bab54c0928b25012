-- Feature store: user and item features for a whole batch of ids, each kind in one statement. The
-- gateway caches the results in Redis; these functions are the source of truth it falls back to.
-- SECURITY DEFINER (they aggregate learning_events and other users' rows) and only for the service
-- role, behind the gateway's own checks (a user may read their own features, an admin anyone's).

-- User features per id (ids that are not users are left out). Counters come from the denormalised
-- columns where they exist; the rest are index-backed aggregates per user.
CREATE FUNCTION user_features(p_user_ids uuid[])
RETURNS TABLE (
  user_id uuid,
  interest_count integer,
  top_categories jsonb,
  likes_given integer,
  likes_received integer,
  comments_given integer,
  comments_received integer,
  follows_given integer,
  followers integer,
  last_activity_at timestamptz,
  feed_impressions_30d integer,
  feed_rewards_30d double precision
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT p.user_id,
         (SELECT count(*)::integer FROM user_interests ui WHERE ui.user_id = p.user_id),
         coalesce((SELECT jsonb_agg(jsonb_build_object('categoryId', t.category_id, 'slug', t.slug,
                                                       'affinity', t.affinity) ORDER BY t.affinity DESC, t.category_id)
                   FROM (SELECT ic.category_id, c.slug, sum(ui.affinity)::float8 AS affinity
                         FROM user_interests ui
                         JOIN interest_catalog ic ON ic.id = ui.interest_id
                         JOIN categories c ON c.id = ic.category_id
                         WHERE ui.user_id = p.user_id
                         GROUP BY ic.category_id, c.slug
                         ORDER BY affinity DESC, ic.category_id
                         LIMIT 5) t), '[]'::jsonb),
         (SELECT count(*)::integer FROM likes k WHERE k.user_id = p.user_id),
         (SELECT coalesce(sum(l.like_count), 0)::integer FROM marketplace_listings l WHERE l.seller_id = p.user_id),
         (SELECT count(*)::integer FROM comments m WHERE m.user_id = p.user_id AND m.deleted_at IS NULL),
         (SELECT coalesce(sum(l.comment_count), 0)::integer FROM marketplace_listings l WHERE l.seller_id = p.user_id),
         p.following_count,
         p.follower_count,
         (SELECT max(a.at) FROM (
            SELECT max(k.created_at) AS at FROM likes k WHERE k.user_id = p.user_id
            UNION ALL SELECT max(m.created_at) FROM comments m WHERE m.user_id = p.user_id
            UNION ALL SELECT max(f.created_at) FROM follows f WHERE f.follower_id = p.user_id
            UNION ALL SELECT max(s.created_at) FROM intent_signals s WHERE s.user_id = p.user_id) a),
         e.impressions,
         e.rewards
  FROM profiles p
  CROSS JOIN LATERAL (
    SELECT count(*)::integer AS impressions, coalesce(sum(le.reward), 0)::float8 AS rewards
    FROM learning_events le
    WHERE le.user_id = p.user_id AND le.created_at >= now() - interval '30 days') e
  WHERE p.user_id = ANY (p_user_ids) AND app_is_privileged()
$$;

-- Item features per listing id (ids that are not listings are left out).
CREATE FUNCTION listing_features(p_listing_ids integer[])
RETURNS TABLE (
  listing_id integer,
  category_id integer,
  category_slug text,
  like_count integer,
  comment_count integer,
  popularity double precision,
  created_at timestamptz,
  feed_impressions_30d integer,
  feed_rewards_30d double precision
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT l.id, l.category_id, c.slug, l.like_count, l.comment_count, l.popularity::float8, l.created_at,
         e.impressions, e.rewards
  FROM marketplace_listings l
  JOIN categories c ON c.id = l.category_id
  CROSS JOIN LATERAL (
    SELECT count(*)::integer AS impressions, coalesce(sum(le.reward), 0)::float8 AS rewards
    FROM learning_events le
    WHERE le.listing_id = l.id AND le.created_at >= now() - interval '30 days') e
  WHERE l.id = ANY (p_listing_ids) AND app_is_privileged()
$$;

REVOKE EXECUTE ON FUNCTION user_features(uuid[]), listing_features(integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION user_features(uuid[]), listing_features(integer[]) TO lodestar_service;
