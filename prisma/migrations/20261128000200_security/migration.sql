-- Roles, grants and row-level security (runbook "Security Checklist").
--
-- lodestar_app      the gateway's role: not a superuser, no BYPASSRLS, owns nothing, so every policy
--                   applies to it. Production logins are members of it (see README); the gateway also
--                   SETs this role on each connection.
-- lodestar_service  the service path: the only role that may write learning_events, and only INSERT.
-- The caller's identity is set per transaction: set_config('lodestar.user_id', <uuid>, true) and
-- set_config('lodestar.role', 'user' | 'admin' | 'service', true).

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lodestar_app') THEN
    CREATE ROLE lodestar_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  -- Another database on this cluster created it concurrently: roles are cluster-wide.
  NULL;
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lodestar_service') THEN
    CREATE ROLE lodestar_service NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END $$;

-- NOINHERIT: lodestar_app may SET ROLE lodestar_service for the service path, but does not hold its
-- privileges otherwise (PostgreSQL 15 has no per-grant INHERIT FALSE). Unconditional, because the
-- role may have been created before.
ALTER ROLE lodestar_app NOINHERIT;

DO $$
BEGIN
  IF NOT pg_has_role('lodestar_app', 'lodestar_service', 'MEMBER') THEN
    GRANT lodestar_service TO lodestar_app;
  END IF;
EXCEPTION WHEN unique_violation THEN
  NULL;
END $$;

GRANT USAGE ON SCHEMA public TO lodestar_app, lodestar_service;

-- Readiness: the gateway checks that no migration is pending. The table exists when this runs
-- (both our migrator and `prisma migrate deploy` create it first).
GRANT SELECT ON _prisma_migrations TO lodestar_app;

-- Public catalog data. Sellers edit their listings' content; counters and popularity are written
-- only by the owner's triggers and functions.
GRANT SELECT ON categories, interest_catalog, interest_listing_candidates TO lodestar_app;
GRANT SELECT ON marketplace_listings TO lodestar_app;
GRANT INSERT (category_id, seller_id, title, description, price, currency, status, embedding, created_at,
              updated_at),
      UPDATE (category_id, title, description, price, currency, status, embedding, updated_at)
  ON marketplace_listings TO lodestar_app;

-- User data: rows are filtered by the policies below; columns are limited so that counters,
-- embeddings and keys are never written directly (triggers and SECURITY DEFINER functions do that).
GRANT SELECT, DELETE ON profiles, user_interests, likes, comments, follows, intent_signals TO lodestar_app;
GRANT INSERT (user_id, handle, display_name, role, created_at, updated_at),
      UPDATE (handle, display_name, role, updated_at)
  ON profiles TO lodestar_app;
GRANT INSERT (user_id, interest_id, affinity, reinforced_at, decayed_at, created_at),
      UPDATE (affinity, reinforced_at, decayed_at)
  ON user_interests TO lodestar_app;
GRANT INSERT (user_id, listing_id, created_at) ON likes TO lodestar_app;
GRANT INSERT (listing_id, user_id, body, created_at, updated_at, deleted_at),
      UPDATE (body, updated_at, deleted_at)
  ON comments TO lodestar_app;
GRANT INSERT (follower_id, followee_id, created_at) ON follows TO lodestar_app;
GRANT INSERT (user_id, kind, listing_id, query, weight, created_at) ON intent_signals TO lodestar_app;

-- Queues, flags, experiments, latency samples and the audit log: the gateway enqueues and runs ops.
GRANT SELECT, INSERT, UPDATE ON events_queue, marketplace_discovery_queue, feature_flags,
  feature_flag_history, experiments TO lodestar_app;
GRANT SELECT, INSERT ON kernel_latency, ops_audit TO lodestar_app;
GRANT SELECT ON vw_events_queue_health, vw_discovery_queue_health, vw_kernel_slos, vw_gap_severity
  TO lodestar_app;

-- learning_events: insert-only for the service role; nobody else reads or changes them directly.
REVOKE ALL ON learning_events FROM PUBLIC;
GRANT INSERT ON learning_events TO lodestar_service;

-- SECURITY DEFINER functions run as the owner: only the gateway role may call them.
REVOKE EXECUTE ON FUNCTION recompute_profile_embedding(uuid), gc_intent_signals(interval, integer, bigint),
  gc_learning_events(interval, integer, bigint), decay_interest_affinity(timestamptz), analyze_hot_tables(),
  record_learning_reward(uuid, double precision), trg_likes_count(), trg_comments_count(),
  trg_follows_count() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recompute_profile_embedding(uuid), gc_intent_signals(interval, integer, bigint),
  gc_learning_events(interval, integer, bigint), decay_interest_affinity(timestamptz), analyze_hot_tables(),
  record_learning_reward(uuid, double precision) TO lodestar_app;
GRANT EXECUTE ON FUNCTION record_learning_reward(uuid, double precision) TO lodestar_service;

-- A user may create and edit their own profile but never give themselves a role. Applies to every
-- role except superusers and the table's owner (migrations, seeding), whatever the login is called.
CREATE FUNCTION trg_profiles_guard_role() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT app_is_privileged()
     AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper)
     AND NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
     AND ((TG_OP = 'INSERT' AND NEW.role <> 'user')
          OR (TG_OP = 'UPDATE' AND NEW.role IS DISTINCT FROM OLD.role)) THEN
    RAISE EXCEPTION 'only an admin may set a profile role' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER profiles_guard_role BEFORE INSERT OR UPDATE OF role ON profiles
  FOR EACH ROW EXECUTE FUNCTION trg_profiles_guard_role();

-- Public projections of user data (run as the view owner, so they see past RLS, but expose only
-- what any visitor may see).
CREATE VIEW public_profiles AS
SELECT user_id, handle, display_name, follower_count, following_count, created_at
FROM profiles;

CREATE VIEW public_comments AS
SELECT id, listing_id, user_id, body, created_at, updated_at
FROM comments
WHERE deleted_at IS NULL;

GRANT SELECT ON public_profiles, public_comments TO lodestar_app;

-- Row-level security on every user-data table.
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_interests ENABLE ROW LEVEL SECURITY;
ALTER TABLE likes ENABLE ROW LEVEL SECURITY;
ALTER TABLE comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE follows ENABLE ROW LEVEL SECURITY;
ALTER TABLE intent_signals ENABLE ROW LEVEL SECURITY;
ALTER TABLE learning_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE marketplace_listings ENABLE ROW LEVEL SECURITY;

CREATE POLICY profiles_own ON profiles
  USING (user_id = app_current_user_id() OR app_is_privileged())
  WITH CHECK (user_id = app_current_user_id() OR app_is_privileged());

CREATE POLICY user_interests_own ON user_interests
  USING (user_id = app_current_user_id() OR app_is_privileged())
  WITH CHECK (user_id = app_current_user_id() OR app_is_privileged());

CREATE POLICY likes_own ON likes
  USING (user_id = app_current_user_id() OR app_is_privileged())
  WITH CHECK (user_id = app_current_user_id() OR app_is_privileged());

CREATE POLICY comments_own ON comments
  USING (user_id = app_current_user_id() OR app_is_privileged())
  WITH CHECK (user_id = app_current_user_id() OR app_is_privileged());

-- A follow belongs to the follower; the followee may see that they are followed.
CREATE POLICY follows_read ON follows FOR SELECT
  USING (follower_id = app_current_user_id() OR followee_id = app_current_user_id() OR app_is_privileged());
CREATE POLICY follows_insert ON follows FOR INSERT
  WITH CHECK (follower_id = app_current_user_id() OR app_is_privileged());
CREATE POLICY follows_delete ON follows FOR DELETE
  USING (follower_id = app_current_user_id() OR app_is_privileged());

CREATE POLICY intent_signals_own ON intent_signals
  USING (user_id = app_current_user_id() OR app_is_privileged())
  WITH CHECK (user_id = app_current_user_id() OR app_is_privileged());

-- No SELECT/UPDATE/DELETE policy at all: only the owner's SECURITY DEFINER functions read them.
CREATE POLICY learning_events_service_insert ON learning_events FOR INSERT TO lodestar_service
  WITH CHECK (true);

-- Listings are a public catalog; only the seller (or an admin/service) changes one.
CREATE POLICY marketplace_listings_read ON marketplace_listings FOR SELECT USING (true);
CREATE POLICY marketplace_listings_insert ON marketplace_listings FOR INSERT
  WITH CHECK (seller_id = app_current_user_id() OR app_is_privileged());
CREATE POLICY marketplace_listings_update ON marketplace_listings FOR UPDATE
  USING (seller_id = app_current_user_id() OR app_is_privileged())
  WITH CHECK (seller_id = app_current_user_id() OR app_is_privileged());
