-- Thompson's arm statistics below the top of a page (issue #16, "exploration below the top",
-- docs/recommendations.md). A page shows its ranked items first (FEED_EXPLOIT_TOP_SLOTS), so exploration
-- is never shown in the top places, where viewers react most: counting every place would credit SIMILAR
-- with the top's advantage and give exploration arms fewer slots than their listings deserve. The arms
-- only compete below the top, so their statistics are counted there: impressions whose place on their
-- page (context.place, logged since this migration) is p_from_place or later. Impressions logged before
-- have no place and still count, as they did.
--
-- A second signature beside learning_arm_stats(timestamptz), which stays for gateways of the previous
-- release during a rolling deploy (a DEFAULT on the new argument would make one-argument calls ambiguous
-- while both exist) and now reads this one from place 0: every impression, as before.
CREATE FUNCTION learning_arm_stats(p_since timestamptz, p_from_place integer)
RETURNS TABLE (policy text, source text, category_id integer, impressions bigint, rewards double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.policy, e.source, l.category_id, count(*), coalesce(sum(e.reward), 0)
  FROM public.learning_events e
  JOIN public.marketplace_listings l ON l.id = e.listing_id
  WHERE e.created_at >= p_since AND e.user_id IS NOT NULL AND public.app_is_privileged()
    AND coalesce((e.context ->> 'place')::integer, p_from_place) >= p_from_place
  GROUP BY e.policy, e.source, l.category_id
$$;
REVOKE EXECUTE ON FUNCTION learning_arm_stats(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION learning_arm_stats(timestamptz, integer) TO lodestar_service;

CREATE OR REPLACE FUNCTION learning_arm_stats(p_since timestamptz)
RETURNS TABLE (policy text, source text, category_id integer, impressions bigint, rewards double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT * FROM public.learning_arm_stats(p_since, 0)
$$;
