-- The personalised feed: "not interested" marks, what the feed excludes, and the service role's reads.

-- "Not interested": never served to that viewer again.
CREATE TABLE hidden_listings (
  user_id    uuid NOT NULL REFERENCES profiles (user_id) ON DELETE CASCADE,
  listing_id integer NOT NULL REFERENCES marketplace_listings (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, listing_id)
);
ALTER TABLE hidden_listings ENABLE ROW LEVEL SECURITY;
CREATE POLICY hidden_listings_own ON hidden_listings
  USING (user_id = app_current_user_id() OR app_is_privileged())
  WITH CHECK (user_id = app_current_user_id() OR app_is_privileged());
GRANT SELECT, DELETE ON hidden_listings TO lodestar_app;
GRANT INSERT (user_id, listing_id, created_at) ON hidden_listings TO lodestar_app;

-- Served impressions are looked up per viewer and feed session.
CREATE INDEX learning_events_session_idx ON learning_events (user_id, (context ->> 'session'))
  WHERE context ? 'session';

-- Listings the feed must not serve the caller again: served in this feed session or in the last
-- p_since. Only for the caller's own id (or the service role), so nobody learns what others were shown.
-- Anonymous feeds (p_user_id NULL) exclude what their own session served. ROWS 10: the planner must
-- not expect a large set, or the anti-join would stop the vector index from ordering the scan.
CREATE FUNCTION recently_served_listings(p_user_id uuid, p_since interval, p_session text)
RETURNS SETOF integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public ROWS 10 AS $$
  SELECT DISTINCT e.listing_id
  FROM learning_events e
  WHERE (p_user_id = app_current_user_id() OR app_is_privileged())
    AND ((p_user_id IS NOT NULL AND e.user_id = p_user_id
          AND (e.created_at >= now() - p_since OR e.context ->> 'session' = p_session))
      OR (p_user_id IS NULL AND e.user_id IS NULL AND p_session IS NOT NULL
          AND e.context ? 'session' AND e.context ->> 'session' = p_session))
$$;
REVOKE EXECUTE ON FUNCTION recently_served_listings(uuid, interval, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recently_served_listings(uuid, interval, text) TO lodestar_service;

-- Impressions and rewards per policy, source and category since a moment: the Thompson-sampling
-- posteriors and the off-policy report read these aggregates, never single events.
CREATE FUNCTION learning_arm_stats(p_since timestamptz)
RETURNS TABLE (policy text, source text, category_id integer, impressions bigint, rewards double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT e.policy, e.source, l.category_id, count(*), coalesce(sum(e.reward), 0)
  FROM learning_events e
  JOIN marketplace_listings l ON l.id = e.listing_id
  WHERE e.created_at >= p_since AND app_is_privileged()
  GROUP BY e.policy, e.source, l.category_id
$$;
REVOKE EXECUTE ON FUNCTION learning_arm_stats(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION learning_arm_stats(timestamptz) TO lodestar_service;

-- The service path reads what ranking needs (RLS lets it through only with lodestar.role = 'service').
GRANT USAGE ON SCHEMA public TO lodestar_service;
GRANT SELECT ON profiles, marketplace_listings, likes, hidden_listings, user_interests, interest_catalog,
  interest_listing_candidates, categories, experiments TO lodestar_service;
GRANT EXECUTE ON FUNCTION app_current_user_id(), app_current_role(), app_is_privileged() TO lodestar_service;

-- "Not interested": hides the listing from the caller's feed for good and records a zero reward on the
-- caller's latest unrewarded impression of it (a negative signal for its source and category arm).
-- Returns whether an impression was rewarded.
CREATE FUNCTION hide_listing(p_listing_id integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_user uuid := app_current_user_id();
  v_n integer;
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'hide_listing needs a signed-in caller' USING ERRCODE = '42501';
  END IF;
  INSERT INTO hidden_listings (user_id, listing_id) VALUES (v_user, p_listing_id) ON CONFLICT DO NOTHING;
  UPDATE learning_events SET reward = 0, rewarded_at = now()
   WHERE id = (SELECT id FROM learning_events
                WHERE user_id = v_user AND listing_id = p_listing_id AND reward IS NULL
                ORDER BY created_at DESC LIMIT 1);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n = 1;
END $$;
REVOKE EXECUTE ON FUNCTION hide_listing(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hide_listing(integer) TO lodestar_app;
