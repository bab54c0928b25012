-- The worker's own role: what the queue consumers and the scheduled maintenance need, and nothing
-- else (it used to run as the schema owner). It is not a superuser, cannot bypass RLS and owns nothing;
-- derived data is written through column grants and the SECURITY DEFINER functions it may execute.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lodestar_worker') THEN
    CREATE ROLE lodestar_worker NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  -- Another database on this cluster created it concurrently: roles are cluster-wide.
  NULL;
END $$;

-- The migrating owner may switch to it (WORKER_DATABASE_URL defaults to the owner's URL).
DO $$
BEGIN
  IF NOT pg_has_role(current_user, 'lodestar_worker', 'MEMBER') THEN
    EXECUTE format('GRANT lodestar_worker TO %I', current_user);
  END IF;
EXCEPTION WHEN unique_violation THEN
  NULL;
END $$;

GRANT USAGE ON SCHEMA public TO lodestar_worker;

-- Leases, completion, retries; discovery enqueued by events and by the gap job.
GRANT SELECT, INSERT, UPDATE ON events_queue, marketplace_discovery_queue TO lodestar_worker;
-- Discovery reads embeddings and replaces an interest's candidates.
GRANT SELECT ON categories, interest_catalog, marketplace_listings TO lodestar_worker;
GRANT SELECT, INSERT, DELETE ON interest_listing_candidates TO lodestar_worker;
-- Popularity is the only listing column the worker writes.
GRANT UPDATE (popularity) ON marketplace_listings TO lodestar_worker;
-- Scheduled maintenance bookkeeping and the health views behind the worker's metrics.
GRANT SELECT, INSERT, UPDATE ON maintenance_runs TO lodestar_worker;
GRANT SELECT ON vw_gap_severity, vw_events_queue_health, vw_discovery_queue_health TO lodestar_worker;
-- evaluateRollouts on a schedule: reads exposure and complaints, rolls flags back, audits it.
GRANT SELECT, UPDATE ON feature_flags TO lodestar_worker;
GRANT SELECT, INSERT ON feature_flag_history TO lodestar_worker;
GRANT SELECT ON flag_exposure_stats, flag_problem_reports TO lodestar_worker;
GRANT INSERT ON ops_audit TO lodestar_worker;

GRANT EXECUTE ON FUNCTION recompute_profile_embedding(uuid), reinforce_listing_interests(uuid, integer, real),
  gc_intent_signals(interval, integer, bigint), gc_learning_events(interval, integer, bigint),
  gc_idempotency_keys(interval, integer), decay_interest_affinity(timestamptz),
  analyze_changed_hot_tables(bigint, double precision), gc_ops_telemetry(interval, integer),
  gc_done_queue_items(interval, integer)
  TO lodestar_worker;
