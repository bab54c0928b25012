-- Learned ranking weights (issue #16, item 5). The worker's ranker_training task fits the feed's ranking
-- model (src/feed/ranking.ts) on logged impressions and their rewards, and stores a model here only when
-- it beats the default weights on a time holdout; the gateway serves the latest model of its feature
-- version. Derived data, no user data: the worker writes it (and keeps the latest 20), the service path
-- reads it — like interest_listing_candidates.
CREATE TABLE feed_ranker_models (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  trained_at       timestamptz NOT NULL DEFAULT now(),
  features_version integer NOT NULL CHECK (features_version >= 1),
  bias             double precision NOT NULL,
  -- Feature name → weight, one finite number per feature of that version.
  weights          jsonb NOT NULL CHECK (jsonb_typeof(weights) = 'object'),
  samples          integer NOT NULL CHECK (samples >= 0),
  positives        integer NOT NULL CHECK (positives >= 0 AND positives <= samples),
  -- Holdout metrics of the learned weights and of the defaults (log-loss, AUC, sample counts).
  metrics          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX feed_ranker_models_version_time_idx ON feed_ranker_models (features_version, trained_at DESC);

GRANT SELECT, INSERT, DELETE ON feed_ranker_models TO lodestar_worker;
GRANT SELECT ON feed_ranker_models TO lodestar_service;

-- The training set: one row per labelled impression of a signed-in viewer whose logged features are of
-- p_version, newest first, at most p_limit. Label 1 = a positive reward; 0 = a zero reward, or no reward
-- once the like attribution window (p_attribution) has passed; impressions still inside the window are
-- left out (a like may yet come). Fallback fills (propensity 1, not chosen by a policy) are left out.
-- Only for privileged sessions (the worker runs as the service identity); nobody else reads single events.
CREATE FUNCTION ranker_training_events(p_version integer, p_since timestamptz, p_attribution interval,
                                       p_limit integer)
RETURNS TABLE (features jsonb, label smallint, propensity double precision, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.context -> 'features',
         (CASE WHEN e.reward > 0 THEN 1 ELSE 0 END)::smallint,
         e.propensity,
         e.created_at
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
REVOKE EXECUTE ON FUNCTION ranker_training_events(integer, timestamptz, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ranker_training_events(integer, timestamptz, interval, integer) TO lodestar_worker;
