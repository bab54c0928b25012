-- The learned ranker's training set with each impression's position in the viewer's feed (issue #16,
-- docs/recommendations.md, "Learned ranking"): people react less to what is further down, whatever it is,
-- so the worker fits a term in the position beside the features (trained, never served) and the
-- features' weights no longer carry the attention the top places got.
--
-- A new function: ranker_training_events keeps its columns for workers of the previous release during a
-- rolling deploy (a changed return type would mean dropping it), and now reads this one.
CREATE FUNCTION ranker_training_rows(p_version integer, p_since timestamptz, p_attribution interval,
                                     p_limit integer)
RETURNS TABLE (features jsonb, label smallint, propensity double precision, created_at timestamptz,
               "position" integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.context -> 'features',
         (CASE WHEN e.reward > 0 THEN 1 ELSE 0 END)::smallint,
         e.propensity,
         e.created_at,
         e.position
  FROM public.learning_events e
  WHERE public.app_is_privileged()
    AND e.created_at >= p_since
    AND e.user_id IS NOT NULL
    AND e.policy <> 'fallback'
    AND e.context ->> 'featuresVersion' = p_version::text
    AND jsonb_typeof(e.context -> 'features') = 'array'
    AND (e.reward IS NOT NULL OR e.created_at < now() - p_attribution)
  ORDER BY e.created_at DESC
  LIMIT greatest(p_limit, 0)
$$;
REVOKE EXECUTE ON FUNCTION ranker_training_rows(integer, timestamptz, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ranker_training_rows(integer, timestamptz, interval, integer) TO lodestar_worker;

CREATE OR REPLACE FUNCTION ranker_training_events(p_version integer, p_since timestamptz,
                                                  p_attribution interval, p_limit integer)
RETURNS TABLE (features jsonb, label smallint, propensity double precision, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT r.features, r.label, r.propensity, r.created_at
  FROM public.ranker_training_rows(p_version, p_since, p_attribution, p_limit) r
$$;
