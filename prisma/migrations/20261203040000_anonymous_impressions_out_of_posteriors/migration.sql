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
