-- Runbook views and maintenance functions (production-runbook.md "Quick Diagnostics", "Maintenance").

-- Identity of the caller, set per transaction by the gateway with set_config(..., true).
-- A transaction-local setting reads back as '' once the transaction is over: '' means "nobody".
CREATE FUNCTION app_current_user_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('lodestar.user_id', true), '')::uuid
$$;

CREATE FUNCTION app_current_role() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('lodestar.role', true), ''), 'anonymous')
$$;

-- Admins and the service role see and write every user's rows.
CREATE FUNCTION app_is_privileged() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT app_current_role() IN ('admin', 'service')
$$;

-- Queue health, one row per queue. "Waiting" means not finished yet (queued or leased/processing);
-- ages are measured from created_at. high_retry_ct counts unfinished or failed items with attempts >= 3.
CREATE VIEW vw_events_queue_health AS
SELECT
  count(*) FILTER (WHERE status = 'queued')                                  AS queued_ct,
  count(*) FILTER (WHERE status = 'leased')                                  AS leased_ct,
  count(*) FILTER (WHERE status = 'done')                                    AS done_ct,
  count(*) FILTER (WHERE status = 'error')                                   AS error_ct,
  count(*)                                                                   AS total_ct,
  min(created_at) FILTER (WHERE status IN ('queued', 'leased'))              AS oldest_waiting_at,
  coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status IN ('queued', 'leased'))), 0)::double precision
                                                                             AS oldest_age_sec,
  coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM now() - created_at))
    FILTER (WHERE status IN ('queued', 'leased')), 0)::double precision     AS p95_age_sec,
  count(*) FILTER (WHERE attempts >= 3 AND status <> 'done')                 AS high_retry_ct,
  count(*) FILTER (WHERE status = 'leased' AND lease_expires_at < now())     AS stuck_lease_ct
FROM events_queue;

CREATE VIEW vw_discovery_queue_health AS
SELECT
  count(*) FILTER (WHERE status = 'queued')                                  AS queued_ct,
  count(*) FILTER (WHERE status = 'processing')                              AS processing_ct,
  count(*) FILTER (WHERE status = 'done')                                    AS done_ct,
  count(*) FILTER (WHERE status = 'error')                                   AS error_ct,
  count(*)                                                                   AS total_ct,
  min(created_at) FILTER (WHERE status IN ('queued', 'processing'))          AS oldest_waiting_at,
  coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status IN ('queued', 'processing'))), 0)::double precision
                                                                             AS oldest_age_sec,
  coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM now() - created_at))
    FILTER (WHERE status IN ('queued', 'processing')), 0)::double precision AS p95_age_sec,
  count(*) FILTER (WHERE attempts >= 3 AND status <> 'done')                 AS high_retry_ct,
  count(*) FILTER (WHERE status = 'processing' AND lease_expires_at < now()) AS stuck_lease_ct
FROM marketplace_discovery_queue;

-- Per-kernel latency SLOs over a window; the view uses the last hour.
CREATE FUNCTION kernel_slos(p_window interval)
RETURNS TABLE (kernel text, n bigint, p50_ms double precision, p95_ms double precision,
               p99_ms double precision, error_rate double precision, window_start timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT k.kernel,
         count(*),
         percentile_cont(0.50) WITHIN GROUP (ORDER BY k.duration_ms),
         percentile_cont(0.95) WITHIN GROUP (ORDER BY k.duration_ms),
         percentile_cont(0.99) WITHIN GROUP (ORDER BY k.duration_ms),
         (count(*) FILTER (WHERE NOT k.ok))::double precision / count(*),
         now() - p_window
  FROM kernel_latency k
  WHERE k.at >= now() - p_window
  GROUP BY k.kernel
  ORDER BY k.kernel
$$;

CREATE VIEW vw_kernel_slos AS
SELECT * FROM kernel_slos(interval '1 hour');

-- Demand (users and their summed affinity per interest) against supply (active listings in the
-- interest's category), worst first. severity = demand_weight / (supply_listings + 1).
CREATE VIEW vw_gap_severity AS
WITH demand AS (
  SELECT ui.interest_id, count(*) AS demand_users, sum(ui.affinity)::double precision AS demand_weight
  FROM user_interests ui
  GROUP BY ui.interest_id
), supply AS (
  SELECT l.category_id, count(*) AS supply_listings
  FROM marketplace_listings l
  WHERE l.status = 'active'
  GROUP BY l.category_id
), candidates AS (
  SELECT c.interest_id, count(*) AS candidate_listings
  FROM interest_listing_candidates c
  GROUP BY c.interest_id
)
SELECT i.id                                     AS interest_id,
       i.slug                                   AS interest_slug,
       i.category_id,
       cat.slug                                 AS category_slug,
       d.demand_users,
       d.demand_weight,
       coalesce(s.supply_listings, 0)           AS supply_listings,
       coalesce(c.candidate_listings, 0)        AS candidate_listings,
       d.demand_weight / (coalesce(s.supply_listings, 0) + 1) AS severity
FROM demand d
JOIN interest_catalog i ON i.id = d.interest_id
JOIN categories cat ON cat.id = i.category_id
LEFT JOIN supply s ON s.category_id = i.category_id
LEFT JOIN candidates c ON c.interest_id = i.id
ORDER BY severity DESC, d.demand_users DESC, i.id;

-- Profile embedding = unit-length affinity-weighted mean of the user's interest embeddings
-- (the direction of the weighted sum). No weighted interests → NULL. Returns whether one is set now.
CREATE FUNCTION recompute_profile_embedding(p_user_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_sum vector;
BEGIN
  SELECT sum(ic.embedding * array_fill(ui.affinity::real, ARRAY[vector_dims(ic.embedding)])::vector)
    INTO v_sum
  FROM user_interests ui
  JOIN interest_catalog ic ON ic.id = ui.interest_id
  WHERE ui.user_id = p_user_id AND ic.embedding IS NOT NULL AND ui.affinity > 0;

  IF v_sum IS NOT NULL AND vector_norm(v_sum) = 0 THEN
    v_sum := NULL;
  END IF;

  UPDATE profiles
     SET embedding = CASE WHEN v_sum IS NULL THEN NULL ELSE l2_normalize(v_sum) END,
         embedding_updated_at = now()
   WHERE user_id = p_user_id;

  RETURN v_sum IS NOT NULL;
END $$;

-- Deletes rows of a retention-managed table (bigint/uuid id, created_at) older than p_cutoff, in
-- batches of p_batch rows so no single statement holds locks for long; p_max_rows caps one call
-- (NULL = all). Invoker rights and no EXECUTE for anyone but the owner: only the gc_* functions
-- below, which run as the owner, call it.
CREATE FUNCTION gc_batched(p_table regclass, p_cutoff timestamptz, p_batch integer, p_max_rows bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_total bigint := 0;
  v_n bigint;
BEGIN
  IF p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'p_batch must be >= 1, got %', p_batch USING ERRCODE = '22023';
  END IF;
  LOOP
    EXECUTE format('DELETE FROM %s WHERE id IN (SELECT id FROM %s WHERE created_at < $1 LIMIT $2)', p_table, p_table)
      USING p_cutoff, least(p_batch, coalesce(p_max_rows - v_total, p_batch));
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n = 0 OR (p_max_rows IS NOT NULL AND v_total >= p_max_rows);
  END LOOP;
  RETURN v_total;
END $$;
REVOKE EXECUTE ON FUNCTION gc_batched(regclass, timestamptz, integer, bigint) FROM PUBLIC;

-- Retention: intent signals older than p_retention (default 90 days). Returns rows deleted.
CREATE FUNCTION gc_intent_signals(p_retention interval DEFAULT interval '90 days',
                                  p_batch integer DEFAULT 10000,
                                  p_max_rows bigint DEFAULT NULL) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
  SELECT gc_batched('public.intent_signals', now() - p_retention, p_batch, p_max_rows)
$$;

-- Retention: learning events older than p_retention (default 180 days). Returns rows deleted.
CREATE FUNCTION gc_learning_events(p_retention interval DEFAULT interval '180 days',
                                   p_batch integer DEFAULT 10000,
                                   p_max_rows bigint DEFAULT NULL) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
  SELECT gc_batched('public.learning_events', now() - p_retention, p_batch, p_max_rows)
$$;

-- Online interest drift (runbook "Upgrade Path"): affinity × 0.98 per whole week elapsed since the
-- interest was last reinforced or last decayed, whichever is later. Safe to run at any cadence:
-- running daily or weekly gives the same affinities. Returns the number of rows decayed.
CREATE FUNCTION decay_interest_affinity(p_now timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_n bigint;
BEGIN
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

-- Runbook "Analyze After Bulk Updates", callable by the gateway role (ANALYZE needs the owner).
CREATE FUNCTION analyze_hot_tables() RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  ANALYZE public.interest_catalog;
  ANALYZE public.profiles;
  ANALYZE public.marketplace_listings;
  ANALYZE public.events_queue;
  ANALYZE public.marketplace_discovery_queue;
  RETURN ARRAY['interest_catalog', 'profiles', 'marketplace_listings', 'events_queue',
               'marketplace_discovery_queue'];
END $$;

-- Sets the reward of one impression once; a second call does nothing and returns false.
-- Only the impression's own user (the caller's identity) may reward it; the service role may reward
-- any impression. Users can never read learning_events directly.
CREATE FUNCTION record_learning_reward(p_event_id uuid, p_reward double precision)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_n integer;
  v_user uuid := app_current_user_id();
  v_service boolean := app_current_role() = 'service';
BEGIN
  IF p_reward IS NULL OR p_reward < 0 OR p_reward > 1 THEN
    RAISE EXCEPTION 'reward must be between 0 and 1, got %', p_reward USING ERRCODE = '22023';
  END IF;
  IF v_user IS NULL AND NOT v_service THEN
    RETURN false;
  END IF;
  UPDATE learning_events
     SET reward = p_reward, rewarded_at = now()
   WHERE id = p_event_id AND reward IS NULL AND (v_service OR user_id = v_user);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;

-- Denormalised counters stay exact under concurrency: each change is a single-row UPDATE under the
-- row lock. SECURITY DEFINER because a user changes their own like/comment/follow but not the
-- listing's or the other profile's row.
CREATE FUNCTION trg_likes_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE marketplace_listings SET like_count = like_count + 1 WHERE id = NEW.listing_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE marketplace_listings SET like_count = greatest(like_count - 1, 0) WHERE id = OLD.listing_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER likes_count AFTER INSERT OR DELETE ON likes
  FOR EACH ROW EXECUTE FUNCTION trg_likes_count();

CREATE FUNCTION trg_comments_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF TG_OP = 'INSERT' AND NEW.deleted_at IS NULL THEN
    UPDATE marketplace_listings SET comment_count = comment_count + 1 WHERE id = NEW.listing_id;
  ELSIF TG_OP = 'DELETE' AND OLD.deleted_at IS NULL THEN
    UPDATE marketplace_listings SET comment_count = greatest(comment_count - 1, 0) WHERE id = OLD.listing_id;
  ELSIF TG_OP = 'UPDATE' AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
    UPDATE marketplace_listings SET comment_count = greatest(comment_count - 1, 0) WHERE id = NEW.listing_id;
  ELSIF TG_OP = 'UPDATE' AND OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL THEN
    UPDATE marketplace_listings SET comment_count = comment_count + 1 WHERE id = NEW.listing_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER comments_count AFTER INSERT OR DELETE OR UPDATE OF deleted_at ON comments
  FOR EACH ROW EXECUTE FUNCTION trg_comments_count();

CREATE FUNCTION trg_follows_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE profiles SET follower_count = follower_count + 1 WHERE user_id = NEW.followee_id;
    UPDATE profiles SET following_count = following_count + 1 WHERE user_id = NEW.follower_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE profiles SET follower_count = greatest(follower_count - 1, 0) WHERE user_id = OLD.followee_id;
    UPDATE profiles SET following_count = greatest(following_count - 1, 0) WHERE user_id = OLD.follower_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER follows_count AFTER INSERT OR DELETE ON follows
  FOR EACH ROW EXECUTE FUNCTION trg_follows_count();
