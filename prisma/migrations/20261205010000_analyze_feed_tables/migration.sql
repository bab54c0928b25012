-- The feed's candidate statement also reads likes (exclusions, the viewer's latest likes), hidden_listings
-- and listing_coengagement (rebuilt in bulk daily, moved by every like): their statistics go stale after
-- an import, a rebuild or a busy day like the other hot tables', and the planner then misjudges the
-- statement. Same function, same signature and grants (CREATE OR REPLACE keeps them); three more tables.
CREATE OR REPLACE FUNCTION analyze_changed_hot_tables(p_min_rows bigint DEFAULT 1000,
                                                      p_fraction double precision DEFAULT 0.05)
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_table text;
  v_done  text[] := '{}';
BEGIN
  PERFORM app_require_maintainer('analyze_changed_hot_tables');
  IF p_min_rows IS NULL OR p_min_rows < 0 OR p_fraction IS NULL OR p_fraction < 0 THEN
    RAISE EXCEPTION 'p_min_rows and p_fraction must be >= 0' USING ERRCODE = '22023';
  END IF;
  FOR v_table IN
    SELECT s.relname
    FROM pg_stat_user_tables s
    WHERE s.schemaname = 'public'
      AND s.relname IN ('interest_catalog', 'profiles', 'marketplace_listings', 'user_interests',
                        'interest_listing_candidates', 'intent_signals', 'learning_events',
                        'events_queue', 'marketplace_discovery_queue',
                        'likes', 'hidden_listings', 'listing_coengagement')
      AND (s.n_mod_since_analyze > p_min_rows + p_fraction * s.n_live_tup
           OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AND s.n_mod_since_analyze > 0))
    ORDER BY s.relname
  LOOP
    EXECUTE format('ANALYZE public.%I', v_table);
    v_done := v_done || v_table;
  END LOOP;
  RETURN v_done;
END $$;
