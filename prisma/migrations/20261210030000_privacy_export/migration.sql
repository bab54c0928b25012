-- Privacy export (issue #19 item 1, docs/privacy.md#export). A person's export reads their rows under
-- their own identity wherever row-level security lets the gateway role (lodestar_app) read them; an
-- admin's export of someone else reads under the admin identity, which those policies admit. Three parts
-- of a person's data the gateway role cannot read that way get a narrow reader each, here:
--   learning_events        no SELECT for lodestar_app at all (the feed reads it through functions);
--   idempotency_keys       readable only by their own user, not by an admin;
--   feed_viewer_candidates the service path's cache, no grant to lodestar_app.
-- Each returns only p_user_id's rows, and only to that person or an admin identity (42501 otherwise);
-- the pages are keyset pages of at most 1000 rows, so one call is one short statement.

-- Who may read p_user_id's export: the identity's own user, or an admin. Called by the readers below.
CREATE FUNCTION export_require_access(p_user_id uuid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
BEGIN
  IF p_user_id IS NULL
     OR NOT (p_user_id = app_current_user_id() OR app_current_role() = 'admin') THEN
    RAISE EXCEPTION 'only the person or an admin may export their data' USING ERRCODE = '42501';
  END IF;
END $$;

-- A person's feed impressions and their feedback, oldest first: the page after (p_after_at, p_after_id).
CREATE FUNCTION export_learning_events(p_user_id uuid, p_after_at timestamptz, p_after_id uuid,
                                       p_limit integer)
RETURNS TABLE (id uuid, listing_id integer, policy text, source text, propensity double precision,
               "position" integer, reward double precision, rewarded_at timestamptz, context jsonb,
               created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM export_require_access(p_user_id);
  -- created_at >= the cursor as a value: the weeks before it are pruned at executor startup.
  RETURN QUERY
    SELECT e.id, e.listing_id, e.policy, e.source, e.propensity, e.position, e.reward, e.rewarded_at,
           e.context, e.created_at
    FROM learning_events e
    WHERE e.user_id = p_user_id AND e.created_at >= p_after_at
      AND (e.created_at, e.id) > (p_after_at, p_after_id)
    ORDER BY e.created_at, e.id
    LIMIT least(greatest(p_limit, 0), 1000);
END $$;

-- A person's stored idempotency keys and the responses they replay, by key: the page after p_after_key.
CREATE FUNCTION export_idempotency_keys(p_user_id uuid, p_after_key text, p_limit integer)
RETURNS TABLE (key text, operation text, request_hash text, response jsonb, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM export_require_access(p_user_id);
  RETURN QUERY
    SELECT k.key, k.operation, k.request_hash, k.response, k.created_at
    FROM idempotency_keys k
    WHERE k.user_id = p_user_id AND k.key > p_after_key
    ORDER BY k.key
    LIMIT least(greatest(p_limit, 0), 1000);
END $$;

-- The feed's kept candidates of a person (at most one row of at most 1000 candidates).
CREATE FUNCTION export_feed_candidates(p_user_id uuid)
RETURNS TABLE (listing_ids integer[], scores double precision[], sources smallint[], computed_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  PERFORM export_require_access(p_user_id);
  RETURN QUERY
    SELECT c.listing_ids, c.scores, c.sources, c.computed_at
    FROM feed_viewer_candidates c
    WHERE c.user_id = p_user_id;
END $$;

REVOKE ALL ON FUNCTION export_require_access(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION export_learning_events(uuid, timestamptz, uuid, integer),
  export_idempotency_keys(uuid, text, integer), export_feed_candidates(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION export_learning_events(uuid, timestamptz, uuid, integer),
  export_idempotency_keys(uuid, text, integer), export_feed_candidates(uuid) TO lodestar_app;
