-- Admin rules enforced by the database as well as by GraphQL (issue #13, item 10). Before this, a
-- session of the gateway role with no identity could run the retention functions with any cutoff and
-- change feature flags and experiments; the worker role could raise a rollout, write audit rows in an
-- admin's name and enqueue any event; the service role could insert rewarded impressions for any user.
-- The expected grants of every role on every table, view and function are spelled out in
-- test/db/privilegesMatrix.ts, which the catalogue must match.

-- The owner's own session: the login is (a member of) the schema owner and has not narrowed itself with
-- SET ROLE. Migrations, seeding, the ops CLI on the owner's URL and psql as the owner run like this; the
-- gateway and the worker never do (they always SET ROLE). current_setting('role') is the session's
-- SET ROLE and is not changed by SECURITY DEFINER, so this reads the same inside a definer function.
CREATE FUNCTION app_is_owner_session() RETURNS boolean
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
  SELECT current_setting('role') = 'none'
     AND pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'public.profiles'::regclass), 'MEMBER')
$$;

-- Maintenance may be run by an admin (the ops API), the service identity (the worker's sessions), the
-- worker role, or the owner's own session; anyone else gets 42501 before anything is touched.
CREATE FUNCTION app_require_maintainer(p_what text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
BEGIN
  IF app_is_privileged() OR current_setting('role') = 'lodestar_worker' OR app_is_owner_session() THEN
    RETURN;
  END IF;
  RAISE EXCEPTION '% needs an admin or the worker (caller identity: %)', p_what, app_current_role()
    USING ERRCODE = '42501';
END $$;
-- app_is_owner_session() stays executable by everyone (triggers run it as the caller); the check that
-- raises is only for the definer functions below.
REVOKE EXECUTE ON FUNCTION app_require_maintainer(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION gc_intent_signals(p_retention interval DEFAULT interval '90 days',
                                             p_batch integer DEFAULT 10000,
                                             p_max_rows bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM app_require_maintainer('gc_intent_signals');
  RETURN gc_batched('public.intent_signals', now() - p_retention, p_batch, p_max_rows);
END $$;

CREATE OR REPLACE FUNCTION gc_learning_events(p_retention interval DEFAULT interval '180 days',
                                              p_batch integer DEFAULT 10000,
                                              p_max_rows bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM app_require_maintainer('gc_learning_events');
  RETURN gc_batched('public.learning_events', now() - p_retention, p_batch, p_max_rows);
END $$;

CREATE OR REPLACE FUNCTION gc_idempotency_keys(p_older_than interval DEFAULT interval '48 hours',
                                               p_batch integer DEFAULT 5000)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_total bigint := 0;
  v_n integer;
BEGIN
  PERFORM app_require_maintainer('gc_idempotency_keys');
  IF p_older_than < interval '24 hours' THEN
    RAISE EXCEPTION 'idempotency keys are kept at least 24 hours, got %', p_older_than USING ERRCODE = '22023';
  END IF;
  LOOP
    DELETE FROM idempotency_keys
     WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < now() - p_older_than LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  RETURN v_total;
END $$;

CREATE OR REPLACE FUNCTION gc_done_queue_items(p_retention interval DEFAULT interval '7 days',
                                               p_batch integer DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_total bigint := 0;
  v_n     bigint;
BEGIN
  PERFORM app_require_maintainer('gc_done_queue_items');
  IF p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'p_batch must be >= 1, got %', p_batch USING ERRCODE = '22023';
  END IF;
  LOOP
    DELETE FROM events_queue WHERE id IN (
      SELECT id FROM events_queue WHERE status = 'done' AND updated_at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  LOOP
    DELETE FROM marketplace_discovery_queue WHERE id IN (
      SELECT id FROM marketplace_discovery_queue WHERE status = 'done' AND updated_at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  RETURN v_total;
END $$;

CREATE OR REPLACE FUNCTION gc_ops_telemetry(p_retention interval DEFAULT interval '7 days',
                                            p_batch integer DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_total bigint := 0;
  v_n     bigint;
BEGIN
  PERFORM app_require_maintainer('gc_ops_telemetry');
  IF p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'p_batch must be >= 1, got %', p_batch USING ERRCODE = '22023';
  END IF;
  LOOP
    DELETE FROM kernel_latency WHERE id IN (
      SELECT id FROM kernel_latency WHERE at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  LOOP
    DELETE FROM flag_exposure_stats WHERE id IN (
      SELECT id FROM flag_exposure_stats WHERE at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  RETURN v_total;
END $$;

CREATE OR REPLACE FUNCTION decay_interest_affinity(p_now timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_n bigint;
BEGIN
  PERFORM app_require_maintainer('decay_interest_affinity');
  WITH due AS (
    SELECT user_id, interest_id,
           greatest(reinforced_at, coalesce(decayed_at, reinforced_at)) AS since,
           floor(extract(epoch FROM p_now - greatest(reinforced_at, coalesce(decayed_at, reinforced_at)))
                 / 604800)::integer AS weeks
    FROM user_interests
    WHERE greatest(reinforced_at, coalesce(decayed_at, reinforced_at)) <= p_now - interval '7 days'
  )
  UPDATE user_interests ui
     SET affinity = (ui.affinity * power(0.98::double precision, due.weeks))::real,
         decayed_at = due.since + make_interval(weeks => due.weeks)
    FROM due
   WHERE ui.user_id = due.user_id AND ui.interest_id = due.interest_id AND due.weeks >= 1;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;

CREATE OR REPLACE FUNCTION analyze_hot_tables() RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM app_require_maintainer('analyze_hot_tables');
  ANALYZE public.interest_catalog;
  ANALYZE public.profiles;
  ANALYZE public.marketplace_listings;
  ANALYZE public.events_queue;
  ANALYZE public.marketplace_discovery_queue;
  RETURN ARRAY['interest_catalog', 'profiles', 'marketplace_listings', 'events_queue',
               'marketplace_discovery_queue'];
END $$;

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

-- Feature flags: everyone reads them (the gateway evaluates them per request); on the gateway role only
-- an admin identity creates or changes one. The worker's scheduled auto-rollback may only lower a
-- rollout (or switch it off), never raise it or change anything else.
ALTER TABLE feature_flags ENABLE ROW LEVEL SECURITY;
CREATE POLICY feature_flags_read ON feature_flags FOR SELECT USING (true);
CREATE POLICY feature_flags_admin_insert ON feature_flags FOR INSERT TO lodestar_app
  WITH CHECK (app_current_role() = 'admin');
CREATE POLICY feature_flags_admin_update ON feature_flags FOR UPDATE TO lodestar_app
  USING (app_current_role() = 'admin') WITH CHECK (app_current_role() = 'admin');
CREATE POLICY feature_flags_worker_update ON feature_flags FOR UPDATE TO lodestar_worker
  USING (true) WITH CHECK (true);
REVOKE UPDATE ON feature_flags FROM lodestar_worker;
GRANT UPDATE (rollout_pct, state) ON feature_flags TO lodestar_worker;

-- Policies cannot compare with the old row: a trigger refuses raising a rollout to anyone but an admin
-- identity or the owner's own session (whatever role the caller has).
CREATE FUNCTION trg_feature_flags_guard_raise() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF NEW.rollout_pct > OLD.rollout_pct AND app_current_role() <> 'admin' AND NOT app_is_owner_session() THEN
    RAISE EXCEPTION 'only an admin may raise the rollout of flag % (% -> %)', OLD.key, OLD.rollout_pct,
      NEW.rollout_pct USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER feature_flags_guard_raise BEFORE UPDATE OF rollout_pct ON feature_flags
  FOR EACH ROW EXECUTE FUNCTION trg_feature_flags_guard_raise();

-- The history of a flag: admins write any change; the worker only its own roll-backs.
ALTER TABLE feature_flag_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY feature_flag_history_read ON feature_flag_history FOR SELECT USING (true);
CREATE POLICY feature_flag_history_admin_insert ON feature_flag_history FOR INSERT TO lodestar_app
  WITH CHECK (app_current_role() = 'admin');
CREATE POLICY feature_flag_history_worker_insert ON feature_flag_history FOR INSERT TO lodestar_worker
  WITH CHECK (actor LIKE 'worker:%' AND from_pct IS NOT NULL AND to_pct <= from_pct);
REVOKE UPDATE ON feature_flag_history FROM lodestar_app;

-- Experiments: read by the feed (service role) and the ops console; written by an admin identity only.
ALTER TABLE experiments ENABLE ROW LEVEL SECURITY;
CREATE POLICY experiments_read ON experiments FOR SELECT USING (true);
CREATE POLICY experiments_admin_insert ON experiments FOR INSERT TO lodestar_app
  WITH CHECK (app_current_role() = 'admin');
CREATE POLICY experiments_admin_update ON experiments FOR UPDATE TO lodestar_app
  USING (app_current_role() = 'admin') WITH CHECK (app_current_role() = 'admin');

-- The audit log: the gateway records its admins' actions (and reads them back for ops.audit); it can
-- neither pass itself off as the worker or the CLI nor change a row. The worker appends rows in its
-- own name only, and cannot read the log. (The CLI writes as the owner.)
ALTER TABLE ops_audit ENABLE ROW LEVEL SECURITY;
CREATE POLICY ops_audit_app_read ON ops_audit FOR SELECT TO lodestar_app USING (true);
CREATE POLICY ops_audit_app_insert ON ops_audit FOR INSERT TO lodestar_app
  WITH CHECK (actor_role NOT IN ('worker', 'cli'));
CREATE POLICY ops_audit_worker_insert ON ops_audit FOR INSERT TO lodestar_worker
  WITH CHECK (actor_role = 'worker' AND actor_id IS NULL);

-- The worker's queues: it leases, completes and retries items (only those columns) and enqueues
-- discovery; it never creates events (the outbox writes them in the user's transaction, and
-- request_profile_recompute runs as the owner).
REVOKE INSERT, UPDATE ON events_queue, marketplace_discovery_queue FROM lodestar_worker;
GRANT UPDATE (status, attempts, last_error, lease_token, lease_expires_at, run_after)
  ON events_queue, marketplace_discovery_queue TO lodestar_worker;
GRANT INSERT (interest_id, category_id, reason, idempotency_key) ON marketplace_discovery_queue
  TO lodestar_worker;

-- Learning events: the service path inserts impressions for the identity it runs for (the viewer's
-- user id, set per transaction, or none for an anonymous feed), never with a reward (rewards come only
-- through record_learning_reward, hide_listing and likes) and never backdated.
REVOKE INSERT ON learning_events FROM lodestar_service;
GRANT INSERT (id, user_id, listing_id, policy, source, propensity, position, context) ON learning_events
  TO lodestar_service;
DROP POLICY learning_events_service_insert ON learning_events;
CREATE POLICY learning_events_service_insert ON learning_events FOR INSERT TO lodestar_service
  WITH CHECK (user_id IS NOT DISTINCT FROM app_current_user_id() AND reward IS NULL AND rewarded_at IS NULL);
