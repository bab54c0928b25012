-- Issue 13, item 6: anonymous impressions can never be rewarded (recordFeedback needs a signed-in user),
-- so counting them made every arm they touched look worse to Thompson sampling, and anyone could skew the
-- posteriors with anonymous suggestions. They are still logged (an anonymous feed session uses them not
-- to repeat a listing), but the arm statistics — what the posteriors and the off-policy report read —
-- count only signed-in viewers' events. search_path ends in pg_temp (issue 13, item 3).
CREATE OR REPLACE FUNCTION learning_arm_stats(p_since timestamptz)
RETURNS TABLE (policy text, source text, category_id integer, impressions bigint, rewards double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.policy, e.source, l.category_id, count(*), coalesce(sum(e.reward), 0)
  FROM public.learning_events e
  JOIN public.marketplace_listings l ON l.id = e.listing_id
  WHERE e.created_at >= p_since AND e.user_id IS NOT NULL AND public.app_is_privileged()
  GROUP BY e.policy, e.source, l.category_id
$$;

-- The same for the off-policy report (rewards per impression by policy and arm) …
CREATE OR REPLACE FUNCTION learning_policy_report(p_since timestamptz)
RETURNS TABLE (policy text, experiment text, arm text, action text, impressions bigint, rewarded bigint,
               reward_sum double precision, w_sum double precision, wr_sum double precision,
               w2_sum double precision, w2r_sum double precision, w2r2_sum double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.policy,
         coalesce(e.context ->> 'experiment', ''),
         coalesce(e.context ->> 'arm', ''),
         CASE WHEN e.policy = 'thompson' AND e.source <> 'SIMILAR' THEN e.source || ':' || l.category_id
              ELSE e.source END,
         count(*),
         count(*) FILTER (WHERE e.reward > 0),
         sum(coalesce(e.reward, 0)),
         sum(1 / e.propensity),
         sum(coalesce(e.reward, 0) / e.propensity),
         sum(1 / e.propensity ^ 2),
         sum(coalesce(e.reward, 0) / e.propensity ^ 2),
         sum(coalesce(e.reward, 0) ^ 2 / e.propensity ^ 2)
  FROM public.learning_events e
  JOIN public.marketplace_listings l ON l.id = e.listing_id
  WHERE e.created_at >= p_since AND e.user_id IS NOT NULL AND public.app_is_privileged()
  GROUP BY 1, 2, 3, 4
$$;

-- … and for a listing's 30-day feed click-through (impressions that could be rewarded).
CREATE OR REPLACE FUNCTION listing_features(p_listing_ids integer[])
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
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT l.id, l.category_id, c.slug, l.like_count, l.comment_count, l.popularity::float8, l.created_at,
         e.impressions, e.rewards
  FROM public.marketplace_listings l
  JOIN public.categories c ON c.id = l.category_id
  CROSS JOIN LATERAL (
    SELECT count(*)::integer AS impressions, coalesce(sum(le.reward), 0)::float8 AS rewards
    FROM public.learning_events le
    WHERE le.listing_id = l.id AND le.user_id IS NOT NULL
      AND le.created_at >= now() - interval '30 days') e
  WHERE l.id = ANY (p_listing_ids) AND public.app_is_privileged()
$$;
