-- Erasure of a person (issue #19 item 2): "delete my account" and an admin's erasure, carried out by the
-- worker as a resumable job in bounded batches. See docs/privacy.md#erasure for what each store keeps.
--
-- erasure_requests holds one row per request. While it is open the person's id (and handle, for the audit
-- scrub) are kept there; the row that finishes the job sets both to NULL in the same transaction, so a
-- finished request says only that some account was erased, when, and how many rows each step removed.
-- The pseudonym stands for the person in the rows that must stay (ops_audit, feature_flag_history).
CREATE TABLE erasure_requests (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id          uuid,
  handle           text,
  pseudonym        uuid NOT NULL DEFAULT gen_random_uuid(),
  requested_by     text NOT NULL,
  status           text NOT NULL DEFAULT 'queued',
  step             text NOT NULL DEFAULT 'drain',
  rows_done        jsonb NOT NULL DEFAULT '{}',
  -- Where a step that walks a whole table (other people's rows naming the person) has got to: a block.
  scan_block       bigint,
  batches          integer NOT NULL DEFAULT 0,
  attempts         integer NOT NULL DEFAULT 0,
  lease_token      uuid,
  lease_expires_at timestamptz,
  last_error       text,
  requested_at     timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  CONSTRAINT erasure_requests_requested_by CHECK (requested_by IN ('self', 'admin')),
  CONSTRAINT erasure_requests_status CHECK (status IN ('queued', 'running', 'done')),
  -- Done is exactly when nothing about the person is left in the row.
  CONSTRAINT erasure_requests_done CHECK ((status = 'done') = (user_id IS NULL)
                                         AND (status = 'done') = (finished_at IS NOT NULL)
                                         AND (status <> 'done' OR handle IS NULL))
);
-- One open request per person (a second request returns the first).
CREATE UNIQUE INDEX erasure_requests_user_key ON erasure_requests (user_id) WHERE user_id IS NOT NULL;
-- The worker's claim: open requests, oldest first.
CREATE INDEX erasure_requests_open_idx ON erasure_requests (id) WHERE status <> 'done';

-- Admins read the requests (ops.erasureRequests); the role lookup (lodestar_service) reads which people
-- are being erased, so their tokens stop at once; every write goes through the functions below.
ALTER TABLE erasure_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY erasure_requests_admin_read ON erasure_requests FOR SELECT TO lodestar_app
  USING (app_current_role() = 'admin');
GRANT SELECT ON erasure_requests TO lodestar_app;
GRANT SELECT (user_id) ON erasure_requests TO lodestar_service;
CREATE POLICY erasure_requests_service_read ON erasure_requests FOR SELECT TO lodestar_service USING (true);

-- Opens (or returns the open) erasure request of p_user_id: the person themself, or an admin. No row
-- when no profile has that id. Tokens of the account stop working as soon as this commits (the role
-- lookup skips people with an open request).
CREATE FUNCTION request_user_erasure(p_user_id uuid)
RETURNS TABLE (id bigint, status text, step text, requested_by text, requested_at timestamptz, created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_by text;
  v_handle text;
  v_id bigint;
BEGIN
  IF p_user_id IS NULL THEN
    RAISE EXCEPTION 'request_user_erasure needs a user id' USING ERRCODE = '22023';
  END IF;
  IF app_current_user_id() = p_user_id AND app_current_role() IN ('user', 'admin') THEN
    v_by := 'self';
  ELSIF app_current_role() = 'admin' THEN
    v_by := 'admin';
  ELSE
    RAISE EXCEPTION 'only an admin may erase another account' USING ERRCODE = '42501';
  END IF;
  SELECT p.handle INTO v_handle FROM profiles p WHERE p.user_id = p_user_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  INSERT INTO erasure_requests AS r (user_id, handle, requested_by)
  VALUES (p_user_id, v_handle, v_by)
  ON CONFLICT (user_id) WHERE user_id IS NOT NULL DO NOTHING
  RETURNING r.id INTO v_id;
  RETURN QUERY
    SELECT r.id, r.status, r.step, r.requested_by, r.requested_at, r.id IS NOT DISTINCT FROM v_id
    FROM erasure_requests r WHERE r.user_id = p_user_id;
END $$;

-- The worker claims the oldest open request whose lease is free (never leased, expired, or backing off
-- after a failure) with a fresh lease token; it learns whose keys to delete from Redis.
CREATE FUNCTION erasure_claim(p_lease_ms integer)
RETURNS TABLE (id bigint, lease_token uuid, step text, attempts integer, user_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM app_require_maintainer('erasure_claim');
  RETURN QUERY
    UPDATE erasure_requests r
       SET status = 'running', lease_token = gen_random_uuid(),
           lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0),
           attempts = r.attempts + 1, updated_at = now()
     WHERE r.id = (SELECT q.id FROM erasure_requests q
                    WHERE q.status <> 'done' AND (q.lease_expires_at IS NULL OR q.lease_expires_at < now())
                    ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING r.id, r.lease_token, r.step, r.attempts, r.user_id;
END $$;

-- A failed batch: the error is kept and the lease given back after p_retry_ms, so the request is
-- retried (by this worker or another) with backoff.
CREATE FUNCTION erasure_fail(p_id bigint, p_lease uuid, p_error text, p_retry_ms integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM app_require_maintainer('erasure_fail');
  UPDATE erasure_requests r
     SET last_error = left(p_error, 2000), lease_token = NULL,
         lease_expires_at = now() + make_interval(secs => p_retry_ms / 1000.0), updated_at = now()
   WHERE r.id = p_id AND r.lease_token = p_lease AND r.status <> 'done';
  RETURN FOUND;
END $$;

-- Extends the lease of a request this worker holds (long Redis sweeps); false when it was lost.
CREATE FUNCTION erasure_renew(p_id bigint, p_lease uuid, p_lease_ms integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM app_require_maintainer('erasure_renew');
  UPDATE erasure_requests r
     SET lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0), updated_at = now()
   WHERE r.id = p_id AND r.lease_token = p_lease AND r.lease_expires_at >= now() AND r.status <> 'done';
  RETURN FOUND;
END $$;

-- Text with the person's id replaced by the pseudonym and their handle (a whole word, any case) by
-- "erased-user".
CREATE FUNCTION erasure_scrub_text(p_text text, p_id uuid, p_pseudonym uuid, p_handle text)
RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = public, pg_temp AS $$
  SELECT regexp_replace(replace(p_text, p_id::text, p_pseudonym::text),
                        '\m' || p_handle || '\M', 'erased-user', 'gi')
$$;

-- The same inside a JSON document: only string values change (keys, numbers, booleans and the
-- document's shape stay), so the result is always valid JSON whatever the handle is.
CREATE FUNCTION erasure_scrub_jsonb(p_doc jsonb, p_id uuid, p_pseudonym uuid, p_handle text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
DECLARE
  v_out jsonb;
BEGIN
  CASE jsonb_typeof(p_doc)
  WHEN 'string' THEN
    RETURN to_jsonb(erasure_scrub_text(p_doc #>> '{}', p_id, p_pseudonym, p_handle));
  WHEN 'object' THEN
    SELECT coalesce(jsonb_object_agg(e.key, erasure_scrub_jsonb(e.value, p_id, p_pseudonym, p_handle)), '{}')
      INTO v_out FROM jsonb_each(p_doc) AS e;
    RETURN v_out;
  WHEN 'array' THEN
    SELECT coalesce(jsonb_agg(erasure_scrub_jsonb(e.value, p_id, p_pseudonym, p_handle) ORDER BY e.ord), '[]')
      INTO v_out FROM jsonb_array_elements(p_doc) WITH ORDINALITY AS e(value, ord);
    RETURN v_out;
  ELSE
    RETURN p_doc;
  END CASE;
END $$;

-- One bounded batch of the request's current step, in the caller's transaction, with the request's
-- progress: a batch and its progress commit together, so a worker killed at any point leaves either
-- both or neither, and the next lease holder goes on from there (each step's effect happens once).
-- The lease is checked under the request's row lock: a worker that lost its lease changes nothing.
--
-- Steps, in order (a deleting step moves on once a batch finds nothing left; a walking step once it
-- has walked past the table's last block):
--   drain            wait until p_settle_ms after the request (requests already past the role check on
--                    other gateways finish: the role cache plus a statement) and until the person's
--                    queued like and comment events are processed (popularity, co-engagement), at most 5
--                    minutes; then the effects of their like and comment events that never ran (still
--                    queued, or failed) are applied and the events deleted, so the reversals below take
--                    back exactly what is counted
--   learning_events  delete (feed impressions and feedback; docs/privacy.md says why not pseudonymised)
--   intent_signals   delete
--   likes            delete; like_count (trigger), popularity, co-engagement: likes outside the person's
--                    latest p_user_likes first (the rebuild counts them in no pair), then the latest,
--                    oldest first, each taken back through coengagement_apply_like as an unlike; every
--                    pair score of the touched listings is recomputed from the new like counts
--   comments         delete (comment_count by trigger; popularity of the visible ones)
--   follows          delete both ways (follower counts by trigger)
--   hidden_listings, user_interests, idempotency_keys, feed_viewer_candidates, flag_problem_reports
--                    delete
--   listings         the person's listings: taken out of feeds (removed; sold stay sold), text, embedding
--                    and import ids cleared, seller unset, and their candidate and co-engagement rows gone
--   profile          the profile row (cascading whatever a racing write added since)
--   queue_items, idempotent_replies, audit, flag_history, flag_stats
--                    walk the table ERASURE_SCAN_BLOCKS blocks per batch (a TID range scan): the person's
--                    own queue items deleted, other people's scrubbed (nil uuid); other people's stored
--                    replies naming them deleted; ops_audit and feature_flag_history rewritten to the
--                    request's pseudonym; their id taken out of flag error lists
--   references       the small tables: a backfill cursor at them, maintenance results naming them
--   redis            the worker deletes their Redis keys, then calls once more: the request is done and
--                    forgets the person
-- Returns the step worked on, the rows it changed, the status (running, waiting, redis or done) and the
-- listings and people whose cached features the batch made stale.
CREATE FUNCTION erasure_step(p_id bigint, p_lease uuid, p_lease_ms integer, p_batch integer,
                             p_settle_ms integer, p_user_likes integer, p_min_support integer,
                             p_top_k integer)
RETURNS TABLE (step text, rows_changed integer, status text, stale_listings integer[], stale_users uuid[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
  r erasure_requests;
  v_u uuid;
  v_ut text;
  v_n integer := 0;
  v_m integer := 0;
  v_next text;
  v_status text := 'running';
  v_total bigint;
  v_ids integer[] := '{}';
  v_users uuid[] := '{}';
  v_listing integer;
  v_nil constant text := '00000000-0000-0000-0000-000000000000';
  -- Blocks of a walked table per batch (8 kB each): a bounded TID range scan.
  v_blocks constant bigint := 256;
  v_from bigint;
  v_lo tid;
  v_hi tid;
  v_walked boolean := false;
  v_table regclass;
BEGIN
  PERFORM app_require_maintainer('erasure_step');
  IF p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'p_batch must be >= 1' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO r FROM erasure_requests q WHERE q.id = p_id FOR UPDATE;
  IF NOT FOUND OR r.status = 'done' OR r.lease_token IS DISTINCT FROM p_lease OR r.lease_expires_at < now() THEN
    RAISE EXCEPTION 'erasure request % is not leased with this token (lost lease)', p_id USING ERRCODE = '55000';
  END IF;
  v_u := r.user_id;
  v_ut := v_u::text;

  -- The walking steps' table and this batch's block range.
  v_table := CASE r.step
    WHEN 'queue_items' THEN 'events_queue'::regclass
    WHEN 'idempotent_replies' THEN 'idempotency_keys'::regclass
    WHEN 'audit' THEN 'ops_audit'::regclass
    WHEN 'flag_history' THEN 'feature_flag_history'::regclass
    WHEN 'flag_stats' THEN 'flag_exposure_stats'::regclass
  END;
  IF v_table IS NOT NULL THEN
    v_from := coalesce(r.scan_block, 0);
    v_lo := format('(%s,0)', v_from)::tid;
    v_hi := format('(%s,0)', v_from + v_blocks)::tid;
    -- Past the last block (the size is read afresh each batch, so rows added meanwhile are walked too).
    v_walked := v_from >= pg_relation_size(v_table) / current_setting('block_size')::bigint;
  END IF;

  CASE r.step
  WHEN 'drain' THEN
    IF r.requested_at > now() - make_interval(secs => p_settle_ms / 1000.0)
       OR (r.requested_at > now() - interval '5 minutes'
           AND EXISTS (SELECT 1 FROM events_queue e
                       WHERE (e.status = 'queued' OR e.status = 'leased')
                         AND e.kind IN ('like.created', 'like.deleted', 'comment.created', 'comment.deleted')
                         AND e.payload ->> 'userId' = v_ut)) THEN
      v_status := 'waiting';
    ELSE
      -- Their like and comment events that never ran (stuck, or failed for good): their popularity
      -- applied here as the handler would, so the steps below take back only what is counted.
      WITH pending AS (
        DELETE FROM events_queue e
         WHERE e.status IN ('queued', 'leased', 'error')
           AND e.kind IN ('like.created', 'like.deleted', 'comment.created', 'comment.deleted')
           AND e.payload ->> 'userId' = v_ut
        RETURNING e.kind, e.payload ->> 'listingId' AS listing)
      UPDATE marketplace_listings l
         SET popularity = greatest(0, l.popularity + x.delta)
        FROM (SELECT p.listing::integer AS id,
                     sum(CASE p.kind WHEN 'like.created' THEN 1 WHEN 'like.deleted' THEN -1
                                     WHEN 'comment.created' THEN 2 ELSE -2 END) AS delta
                FROM pending p WHERE p.listing ~ '^[0-9]{1,9}$' GROUP BY 1) x
       WHERE l.id = x.id;
      GET DIAGNOSTICS v_n = ROW_COUNT;
      v_next := 'learning_events';
    END IF;

  WHEN 'learning_events' THEN
    DELETE FROM learning_events l
     USING (SELECT e.id, e.created_at FROM learning_events e WHERE e.user_id = v_u LIMIT p_batch) d
     WHERE l.id = d.id AND l.created_at = d.created_at;
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'intent_signals' THEN
    DELETE FROM intent_signals s
     USING (SELECT e.id, e.created_at FROM intent_signals e WHERE e.user_id = v_u LIMIT p_batch) d
     WHERE s.id = d.id AND s.created_at = d.created_at;
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'likes' THEN
    SELECT count(*) INTO v_total FROM likes k WHERE k.user_id = v_u;
    -- Outside the latest p_user_likes, a batch; inside, at most 25 (each unlike is a few statements).
    SELECT array_agg(o.listing_id ORDER BY o.created_at, o.listing_id) INTO v_ids
      FROM (SELECT k.listing_id, k.created_at FROM likes k WHERE k.user_id = v_u
            ORDER BY k.created_at, k.listing_id
            LIMIT CASE WHEN v_total > p_user_likes THEN least(p_batch, v_total - p_user_likes)
                       ELSE least(p_batch, 25) END) o;
    v_ids := coalesce(v_ids, '{}');
    -- The listings first, in id order, as every other writer of their counters takes them.
    PERFORM 1 FROM marketplace_listings l WHERE l.id = ANY (v_ids) ORDER BY l.id FOR NO KEY UPDATE;
    IF v_total > p_user_likes THEN
      DELETE FROM likes k WHERE k.user_id = v_u AND k.listing_id = ANY (v_ids);
      GET DIAGNOSTICS v_n = ROW_COUNT;
      UPDATE marketplace_listings l SET popularity = greatest(0, l.popularity - 1) WHERE l.id = ANY (v_ids);
    ELSE
      FOREACH v_listing IN ARRAY v_ids LOOP
        DELETE FROM likes k WHERE k.user_id = v_u AND k.listing_id = v_listing;
        UPDATE marketplace_listings l SET popularity = greatest(0, l.popularity - 1) WHERE l.id = v_listing;
        PERFORM coengagement_apply_like(v_u, v_listing, -1, p_user_likes, p_min_support, p_top_k);
        v_n := v_n + 1;
      END LOOP;
    END IF;
    -- The like counts of these listings fell: every pair score they are part of, recomputed from the
    -- counts now (an unlike rescores only the pairs it changes), rows locked in key order.
    PERFORM 1 FROM listing_coengagement c
     WHERE c.listing_id = ANY (v_ids) OR c.neighbour_id = ANY (v_ids)
     ORDER BY c.listing_id, c.neighbour_id FOR UPDATE;
    UPDATE listing_coengagement c
       SET score = (c.together / sqrt(greatest(li.like_count, c.together)::float8
                                      * greatest(lj.like_count, c.together)))::real,
           updated_at = now()
      FROM marketplace_listings li, marketplace_listings lj
     WHERE (c.listing_id = ANY (v_ids) OR c.neighbour_id = ANY (v_ids))
       AND li.id = c.listing_id AND lj.id = c.neighbour_id;

  WHEN 'comments' THEN
    WITH gone AS (
      DELETE FROM comments c
       WHERE c.id IN (SELECT o.id FROM comments o WHERE o.user_id = v_u LIMIT p_batch)
      RETURNING c.listing_id, c.deleted_at)
    SELECT coalesce(array_agg(g.listing_id) FILTER (WHERE g.deleted_at IS NULL), '{}'), count(*)
      INTO v_ids, v_n FROM gone g;
    UPDATE marketplace_listings l SET popularity = greatest(0, l.popularity - 2 * x.n)
      FROM (SELECT u.id, count(*) AS n FROM unnest(v_ids) AS u(id) GROUP BY u.id) x
     WHERE l.id = x.id;

  WHEN 'follows' THEN
    WITH gone AS (
      DELETE FROM follows f
       USING (SELECT o.follower_id, o.followee_id FROM follows o WHERE o.follower_id = v_u LIMIT p_batch) d
       WHERE f.follower_id = d.follower_id AND f.followee_id = d.followee_id
      RETURNING f.followee_id AS other)
    SELECT coalesce(array_agg(g.other), '{}'), count(*) INTO v_users, v_n FROM gone g;
    WITH gone AS (
      DELETE FROM follows f
       USING (SELECT o.follower_id, o.followee_id FROM follows o WHERE o.followee_id = v_u LIMIT p_batch) d
       WHERE f.follower_id = d.follower_id AND f.followee_id = d.followee_id
      RETURNING f.follower_id AS other)
    SELECT v_users || coalesce(array_agg(g.other), '{}'), v_n + count(*) INTO v_users, v_n FROM gone g;

  WHEN 'hidden_listings' THEN
    DELETE FROM hidden_listings h
     USING (SELECT o.listing_id FROM hidden_listings o WHERE o.user_id = v_u LIMIT p_batch) d
     WHERE h.user_id = v_u AND h.listing_id = d.listing_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'user_interests' THEN
    DELETE FROM user_interests i
     USING (SELECT o.interest_id FROM user_interests o WHERE o.user_id = v_u LIMIT p_batch) d
     WHERE i.user_id = v_u AND i.interest_id = d.interest_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'idempotency_keys' THEN
    DELETE FROM idempotency_keys i
     USING (SELECT o.key FROM idempotency_keys o WHERE o.user_id = v_u LIMIT p_batch) d
     WHERE i.user_id = v_u AND i.key = d.key;
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'feed_viewer_candidates' THEN
    DELETE FROM feed_viewer_candidates c WHERE c.user_id = v_u;
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'flag_problem_reports' THEN
    DELETE FROM flag_problem_reports f
     WHERE f.id IN (SELECT o.id FROM flag_problem_reports o WHERE o.user_id = v_u LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'listings' THEN
    SELECT array_agg(o.id) INTO v_ids
      FROM (SELECT l.id FROM marketplace_listings l WHERE l.seller_id = v_u ORDER BY l.id LIMIT p_batch) o;
    v_ids := coalesce(v_ids, '{}');
    IF cardinality(v_ids) > 0 THEN
      DELETE FROM interest_listing_candidates c WHERE c.listing_id = ANY (v_ids);
      DELETE FROM listing_coengagement c WHERE c.listing_id = ANY (v_ids);
      DELETE FROM listing_coengagement c WHERE c.neighbour_id = ANY (v_ids);
      UPDATE marketplace_listings l
         SET seller_id = NULL, status = CASE WHEN l.status = 'sold' THEN 'sold' ELSE 'removed' END,
             title = 'Removed listing', description = '', embedding = NULL, source = NULL, external_id = NULL
       WHERE l.id = ANY (v_ids);
      GET DIAGNOSTICS v_n = ROW_COUNT;
    END IF;

  WHEN 'profile' THEN
    DELETE FROM profiles p WHERE p.user_id = v_u;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_next := 'queue_items';

  WHEN 'queue_items' THEN
    -- The person's own items (their effects were drained or never will be), then other people's
    -- items that name them (a like's seller, a follow's followee): the nil uuid in their place.
    DELETE FROM events_queue e
     WHERE e.ctid >= v_lo AND e.ctid < v_hi
       AND (e.payload ->> 'userId' = v_ut OR e.payload ->> 'followerId' = v_ut);
    GET DIAGNOSTICS v_m = ROW_COUNT;
    v_n := v_m;
    UPDATE events_queue e
       SET payload = replace(e.payload::text, v_ut, v_nil)::jsonb,
           last_error = replace(e.last_error, v_ut, v_nil)
     WHERE e.ctid >= v_lo AND e.ctid < v_hi
       AND (strpos(e.payload::text, v_ut) > 0 OR strpos(e.last_error, v_ut) > 0);
    GET DIAGNOSTICS v_m = ROW_COUNT;
    v_n := v_n + v_m;

  WHEN 'idempotent_replies' THEN
    -- Someone else's stored reply that shows the person: the reply goes (a retry then runs afresh).
    DELETE FROM idempotency_keys i
     WHERE i.ctid >= v_lo AND i.ctid < v_hi AND strpos(i.response::text, v_ut) > 0;
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'audit' THEN
    -- The audit trail keeps what was done, by a pseudonym: one per erasure, so an erased admin's
    -- actions still read as one actor's; their handle, where a row spells it, becomes "erased-user".
    UPDATE ops_audit a
       SET actor_id = CASE WHEN a.actor_id = v_u THEN r.pseudonym ELSE a.actor_id END,
           args = erasure_scrub_jsonb(a.args, v_u, r.pseudonym, r.handle),
           result = erasure_scrub_jsonb(a.result, v_u, r.pseudonym, r.handle),
           error = erasure_scrub_text(a.error, v_u, r.pseudonym, r.handle),
           request_id = replace(a.request_id, v_ut, r.pseudonym::text)
     WHERE a.ctid >= v_lo AND a.ctid < v_hi
       AND (a.actor_id = v_u OR strpos(a.args::text, v_ut) > 0 OR strpos(a.result::text, v_ut) > 0
            OR strpos(a.error, v_ut) > 0 OR strpos(a.request_id, v_ut) > 0);
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'flag_history' THEN
    UPDATE feature_flag_history h
       SET actor = replace(h.actor, v_ut, r.pseudonym::text),
           reason = erasure_scrub_text(h.reason, v_u, r.pseudonym, r.handle)
     WHERE h.ctid >= v_lo AND h.ctid < v_hi
       AND (strpos(h.actor, v_ut) > 0 OR strpos(h.reason, v_ut) > 0);
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'flag_stats' THEN
    UPDATE flag_exposure_stats s
       SET (error_user_ids, error_user_counts) = (
             SELECT coalesce(array_agg(t.uid ORDER BY t.ord), '{}'), coalesce(array_agg(t.n ORDER BY t.ord), '{}')
               FROM unnest(s.error_user_ids, s.error_user_counts) WITH ORDINALITY AS t(uid, n, ord)
              WHERE t.uid <> v_u)
     WHERE s.ctid >= v_lo AND s.ctid < v_hi AND v_u = ANY (s.error_user_ids);
    GET DIAGNOSTICS v_n = ROW_COUNT;

  WHEN 'references' THEN
    -- A paused backfill's cursor at the person: the id before theirs resumes at the same place.
    UPDATE ops_backfills b
       SET cursor_user_id = (SELECT p.user_id FROM profiles p WHERE p.user_id < v_u
                              ORDER BY p.user_id DESC LIMIT 1)
     WHERE b.cursor_user_id = v_u;
    GET DIAGNOSTICS v_m = ROW_COUNT;
    v_n := v_m;
    UPDATE maintenance_runs m SET last_result = replace(m.last_result::text, v_ut, v_nil)::jsonb
     WHERE strpos(m.last_result::text, v_ut) > 0;
    GET DIAGNOSTICS v_m = ROW_COUNT;
    v_n := v_n + v_m;
    v_next := 'redis';
    v_status := 'redis';

  WHEN 'redis' THEN
    -- Called after the worker removed the person's Redis keys: the request forgets them.
    UPDATE erasure_requests q
       SET status = 'done', step = 'done', user_id = NULL, handle = NULL, lease_token = NULL,
           lease_expires_at = NULL, last_error = NULL, scan_block = NULL, batches = q.batches + 1,
           finished_at = now(), updated_at = now()
     WHERE q.id = p_id;
    RETURN QUERY SELECT 'redis'::text, 0, 'done'::text, '{}'::integer[], '{}'::uuid[];
    RETURN;

  ELSE
    RAISE EXCEPTION 'erasure request % is at an unknown step %', p_id, r.step USING ERRCODE = '55000';
  END CASE;

  -- A deleting step moves on once a batch finds nothing; a walking step once it is past the end.
  IF v_next IS NULL AND v_status = 'running' AND (v_table IS NULL AND v_n = 0 OR v_walked) THEN
    v_next := CASE r.step
      WHEN 'learning_events' THEN 'intent_signals'
      WHEN 'intent_signals' THEN 'likes'
      WHEN 'likes' THEN 'comments'
      WHEN 'comments' THEN 'follows'
      WHEN 'follows' THEN 'hidden_listings'
      WHEN 'hidden_listings' THEN 'user_interests'
      WHEN 'user_interests' THEN 'idempotency_keys'
      WHEN 'idempotency_keys' THEN 'feed_viewer_candidates'
      WHEN 'feed_viewer_candidates' THEN 'flag_problem_reports'
      WHEN 'flag_problem_reports' THEN 'listings'
      WHEN 'listings' THEN 'profile'
      WHEN 'queue_items' THEN 'idempotent_replies'
      WHEN 'idempotent_replies' THEN 'audit'
      WHEN 'audit' THEN 'flag_history'
      WHEN 'flag_history' THEN 'flag_stats'
      WHEN 'flag_stats' THEN 'references'
    END;
  END IF;

  UPDATE erasure_requests q
     SET step = coalesce(v_next, q.step),
         scan_block = CASE WHEN v_next IS NOT NULL THEN NULL
                           WHEN v_table IS NOT NULL THEN v_from + v_blocks ELSE q.scan_block END,
         rows_done = CASE WHEN v_n = 0 THEN q.rows_done
                          ELSE jsonb_set(q.rows_done, ARRAY[r.step],
                                         to_jsonb(coalesce((q.rows_done ->> r.step)::bigint, 0) + v_n)) END,
         batches = q.batches + 1, last_error = NULL,
         lease_expires_at = now() + make_interval(secs => p_lease_ms / 1000.0), updated_at = now()
   WHERE q.id = p_id;
  RETURN QUERY SELECT r.step, v_n, v_status, v_ids, v_users;
END $$;

-- Someone's problem reports, found without reading every report (the erasure's flag_problem_reports step).
CREATE INDEX flag_problem_reports_user_idx ON flag_problem_reports (user_id);

REVOKE ALL ON FUNCTION request_user_erasure(uuid), erasure_claim(integer),
  erasure_fail(bigint, uuid, text, integer), erasure_renew(bigint, uuid, integer),
  erasure_scrub_text(text, uuid, uuid, text), erasure_scrub_jsonb(jsonb, uuid, uuid, text),
  erasure_step(bigint, uuid, integer, integer, integer, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION request_user_erasure(uuid) TO lodestar_app;
GRANT EXECUTE ON FUNCTION erasure_claim(integer), erasure_fail(bigint, uuid, text, integer),
  erasure_renew(bigint, uuid, integer),
  erasure_step(bigint, uuid, integer, integer, integer, integer, integer, integer) TO lodestar_worker;
