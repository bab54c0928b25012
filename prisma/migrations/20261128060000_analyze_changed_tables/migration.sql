-- "Analyze after bulk updates" (runbook "Maintenance"; "Always ANALYZE after bulk inserts"): the worker
-- calls this every few minutes and it analyzes only the hot tables changed by more than
-- p_min_rows + p_fraction × their live rows since their last analyze (autovacuum's own rule, which a
-- server with autovacuum off never applies). Tables never analyzed count as changed once they have rows.
-- Returns the tables analyzed, so a quiet database costs one catalog read.
CREATE FUNCTION analyze_changed_hot_tables(p_min_rows bigint DEFAULT 1000, p_fraction double precision DEFAULT 0.05)
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_table text;
  v_done  text[] := '{}';
BEGIN
  IF p_min_rows IS NULL OR p_min_rows < 0 OR p_fraction IS NULL OR p_fraction < 0 THEN
    RAISE EXCEPTION 'p_min_rows and p_fraction must be >= 0' USING ERRCODE = '22023';
  END IF;
  FOR v_table IN
    SELECT s.relname
    FROM pg_stat_user_tables s
    WHERE s.schemaname = 'public'
      AND s.relname IN ('interest_catalog', 'profiles', 'marketplace_listings', 'user_interests',
                        'interest_listing_candidates', 'intent_signals', 'learning_events',
                        'events_queue', 'marketplace_discovery_queue')
      AND (s.n_mod_since_analyze > p_min_rows + p_fraction * s.n_live_tup
           OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL AND s.n_mod_since_analyze > 0))
    ORDER BY s.relname
  LOOP
    EXECUTE format('ANALYZE public.%I', v_table);
    v_done := v_done || v_table;
  END LOOP;
  RETURN v_done;
END $$;
REVOKE EXECUTE ON FUNCTION analyze_changed_hot_tables(bigint, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analyze_changed_hot_tables(bigint, double precision) TO lodestar_app;
