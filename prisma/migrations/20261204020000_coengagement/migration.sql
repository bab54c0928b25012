-- Co-engagement, "liked together" (issue #16, item 4): for each listing its top neighbours by how many
-- people liked both. A candidate source of the feed ("people who liked what you liked also liked").
--
-- together(i, j) = users who liked both i and j, counting each user's latest N likes only (N =
-- COENGAGEMENT_USER_LIKES, src/feed/coengagement.ts): a heavy user adds at most N² pairs, never O(likes²).
-- score = together / sqrt(likes_i · likes_j), the cosine of the two like columns, likes counted the
-- same way (like_count minus the likes that fall outside their user's latest N). Kept: pairs with
-- together >= a minimum support, and per listing its top K neighbours by score. A row (i, j) means
-- "j is among i's top K"; (j, i) is stored when i is among j's top K.
--
-- coengagement_rebuild_batch rebuilds the rows of one batch of listings from likes (the daily task and
-- the importer's derived step walk all listings batch by batch, one short transaction each);
-- coengagement_apply_like moves the rows of one like or unlike (the worker's like events). Between
-- rebuilds the incremental values are an approximation (see docs/recommendations.md#co-engagement).
CREATE TABLE listing_coengagement (
  listing_id   integer NOT NULL REFERENCES marketplace_listings (id) ON DELETE CASCADE,
  neighbour_id integer NOT NULL REFERENCES marketplace_listings (id) ON DELETE CASCADE,
  together     real NOT NULL,
  score        real NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (listing_id, neighbour_id),
  CONSTRAINT listing_coengagement_not_self CHECK (listing_id <> neighbour_id),
  CONSTRAINT listing_coengagement_positive CHECK (together > 0 AND score > 0)
);
-- "The top neighbours of these 50 listings": one index-only range scan per listing, best first.
CREATE INDEX listing_coengagement_top_idx ON listing_coengagement (listing_id, score DESC) INCLUDE (neighbour_id);
-- A deleted listing's rows as a neighbour (the cascade) without a sequential scan.
CREATE INDEX listing_coengagement_neighbour_idx ON listing_coengagement (neighbour_id);
-- A user's latest likes (the per-user bound here, and the feed's "your recent likes") as an index scan.
CREATE INDEX likes_user_recent_idx ON likes (user_id, created_at DESC, listing_id DESC);

-- Derived, public data (aggregate counts, no user ids), read like interest_listing_candidates. Written
-- only through the two functions below (the worker's role has no privilege on the table itself).
GRANT SELECT ON listing_coengagement TO lodestar_app, lodestar_service;

CREATE FUNCTION coengagement_check_params(p_user_likes integer, p_min_support integer, p_top_k integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
BEGIN
  IF p_user_likes IS NULL OR p_user_likes < 2 OR p_min_support IS NULL OR p_min_support < 1
     OR p_top_k IS NULL OR p_top_k < 1 THEN
    RAISE EXCEPTION 'coengagement needs p_user_likes >= 2, p_min_support >= 1 and p_top_k >= 1'
      USING ERRCODE = '22023';
  END IF;
END $$;
REVOKE EXECUTE ON FUNCTION coengagement_check_params(integer, integer, integer) FROM PUBLIC;

-- Rebuilds the rows of the next p_batch listings after p_after (NULL = from the first), in id order:
-- only differences are written (rows that fell out deleted, new ones inserted, changed ones updated),
-- so a second run writes nothing. Returns the batch's last listing id (NULL when there were no more
-- listings), its number of listings and the rows written. Row locks on that batch's rows only.
CREATE FUNCTION coengagement_rebuild_batch(p_after integer, p_batch integer, p_user_likes integer,
                                           p_min_support integer, p_top_k integer)
RETURNS TABLE (last_id integer, listings integer, changed bigint)
-- The pair counts of a batch (~450k groups for 500 listings of the issue #16 data) aggregate in memory.
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET work_mem = '64MB' AS $$
DECLARE
  v_ids integer[];
  v_changed bigint;
BEGIN
  PERFORM app_require_maintainer('coengagement_rebuild_batch');
  PERFORM coengagement_check_params(p_user_likes, p_min_support, p_top_k);
  IF p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'p_batch must be >= 1' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(b.id ORDER BY b.id) INTO v_ids
  FROM (SELECT l.id FROM marketplace_listings l WHERE p_after IS NULL OR l.id > p_after ORDER BY l.id LIMIT p_batch) b;
  IF v_ids IS NULL THEN
    RETURN QUERY SELECT NULL::integer, 0, 0::bigint;
    RETURN;
  END IF;

  WITH likers AS (
    SELECT DISTINCT k.user_id FROM likes k WHERE k.listing_id = ANY (v_ids)),
  -- Each of those users' latest p_user_likes likes (likes_user_recent_idx).
  win AS (
    SELECT u.user_id, w.listing_id
    FROM likers u
    CROSS JOIN LATERAL (SELECT k.listing_id FROM likes k WHERE k.user_id = u.user_id
                        ORDER BY k.created_at DESC, k.listing_id DESC LIMIT p_user_likes) w),
  pairs AS (
    SELECT a.listing_id, b.listing_id AS neighbour_id, count(*) AS together
    FROM win a JOIN win b ON b.user_id = a.user_id AND b.listing_id <> a.listing_id
    WHERE a.listing_id = ANY (v_ids)
    GROUP BY 1, 2
    HAVING count(*) >= p_min_support),
  -- Likes outside their user's window (users with more than p_user_likes likes only), so a listing's
  -- like count is counted as the pairs are.
  heavy AS (
    SELECT k.user_id FROM likes k GROUP BY k.user_id HAVING count(*) > p_user_likes),
  excess AS (
    SELECT x.listing_id, count(*) AS n
    FROM heavy h
    CROSS JOIN LATERAL (SELECT k.listing_id FROM likes k WHERE k.user_id = h.user_id
                        ORDER BY k.created_at DESC, k.listing_id DESC OFFSET p_user_likes) x
    GROUP BY 1),
  counted AS (
    SELECT l.id, greatest(l.like_count - coalesce(e.n, 0), 1)::float8 AS n
    FROM marketplace_listings l LEFT JOIN excess e ON e.listing_id = l.id
    WHERE l.id IN (SELECT p.listing_id FROM pairs p UNION SELECT p.neighbour_id FROM pairs p)),
  scored AS (
    SELECT p.listing_id, p.neighbour_id, p.together::real AS together,
           (p.together / sqrt(greatest(ci.n, p.together) * greatest(cj.n, p.together)))::real AS score
    FROM pairs p JOIN counted ci ON ci.id = p.listing_id JOIN counted cj ON cj.id = p.neighbour_id),
  fresh AS (
    SELECT r.listing_id, r.neighbour_id, r.together, r.score
    FROM (SELECT s.*, row_number() OVER (PARTITION BY s.listing_id ORDER BY s.score DESC, s.neighbour_id) AS rank
          FROM scored s) r
    WHERE r.rank <= p_top_k),
  dropped AS (
    DELETE FROM listing_coengagement c
    WHERE c.listing_id = ANY (v_ids)
      AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.listing_id = c.listing_id AND f.neighbour_id = c.neighbour_id)
    RETURNING 1),
  written AS (
    INSERT INTO listing_coengagement AS c (listing_id, neighbour_id, together, score)
    SELECT f.listing_id, f.neighbour_id, f.together, f.score FROM fresh f ORDER BY f.listing_id, f.neighbour_id
    ON CONFLICT (listing_id, neighbour_id) DO UPDATE
      SET together = EXCLUDED.together, score = EXCLUDED.score, updated_at = now()
      WHERE c.together <> EXCLUDED.together OR c.score <> EXCLUDED.score
    RETURNING 1)
  SELECT (SELECT count(*) FROM dropped) + (SELECT count(*) FROM written) INTO v_changed;

  RETURN QUERY SELECT v_ids[array_length(v_ids, 1)], array_length(v_ids, 1), v_changed;
END $$;

-- One like (p_sign = 1, after it was inserted) or unlike (p_sign = -1, after it was deleted) of
-- p_listing_id by p_user_id, paired with the user's latest p_user_likes - 1 other likes (with the like
-- itself, the user's window of the rebuild): existing rows of those pairs, both directions, get
-- together ± 1 and a score from the listings' current like_count; a like's pair without a row is
-- inserted with its exact count of co-likers when that reaches p_min_support; an unlike deletes the rows
-- that fall below it. After a like, the touched listings are trimmed back to their top p_top_k.
-- Runs in the caller's transaction (the worker's item), so a retried item has the effect of once.
-- Returns the rows written.
CREATE FUNCTION coengagement_apply_like(p_user_id uuid, p_listing_id integer, p_sign integer,
                                        p_user_likes integer, p_min_support integer, p_top_k integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_others integer[];
  v_n integer;
  v_changed integer := 0;
BEGIN
  PERFORM app_require_maintainer('coengagement_apply_like');
  PERFORM coengagement_check_params(p_user_likes, p_min_support, p_top_k);
  IF p_user_id IS NULL OR p_listing_id IS NULL OR p_sign IS NULL OR p_sign NOT IN (1, -1) THEN
    RAISE EXCEPTION 'coengagement_apply_like needs a user, a listing and p_sign 1 or -1' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(o.listing_id ORDER BY o.listing_id) INTO v_others
  FROM (SELECT k.listing_id FROM likes k WHERE k.user_id = p_user_id AND k.listing_id <> p_listing_id
        ORDER BY k.created_at DESC, k.listing_id DESC LIMIT p_user_likes - 1) o
  -- A listing deleted meanwhile has no rows to keep (the cascade removed them).
  WHERE EXISTS (SELECT 1 FROM marketplace_listings l WHERE l.id = o.listing_id);
  IF v_others IS NULL OR NOT EXISTS (SELECT 1 FROM marketplace_listings l WHERE l.id = p_listing_id) THEN
    RETURN 0;
  END IF;

  -- The existing rows of both directions, locked in key order (concurrent likes of overlapping pairs
  -- wait for each other instead of deadlocking), then moved by one.
  PERFORM 1 FROM listing_coengagement c
  WHERE (c.listing_id = p_listing_id AND c.neighbour_id = ANY (v_others))
     OR (c.neighbour_id = p_listing_id AND c.listing_id = ANY (v_others))
  ORDER BY c.listing_id, c.neighbour_id
  FOR UPDATE;

  IF p_sign < 0 THEN
    DELETE FROM listing_coengagement c
    WHERE ((c.listing_id = p_listing_id AND c.neighbour_id = ANY (v_others))
           OR (c.neighbour_id = p_listing_id AND c.listing_id = ANY (v_others)))
      AND c.together - 1 < p_min_support;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_changed := v_changed + v_n;
  END IF;

  UPDATE listing_coengagement c
  SET together = c.together + p_sign,
      score = ((c.together + p_sign)
               / sqrt(greatest(li.like_count, c.together + p_sign)::float8
                      * greatest(lj.like_count, c.together + p_sign)))::real,
      updated_at = now()
  FROM marketplace_listings li, marketplace_listings lj
  WHERE ((c.listing_id = p_listing_id AND c.neighbour_id = ANY (v_others))
         OR (c.neighbour_id = p_listing_id AND c.listing_id = ANY (v_others)))
    AND li.id = c.listing_id AND lj.id = c.neighbour_id;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_changed := v_changed + v_n;
  IF p_sign < 0 THEN
    RETURN v_changed;
  END IF;

  -- Pairs without a row in either direction: their exact count of co-likers (this like included).
  WITH missing AS (
    SELECT o AS other FROM unnest(v_others) o
    WHERE NOT EXISTS (SELECT 1 FROM listing_coengagement c WHERE c.listing_id = p_listing_id AND c.neighbour_id = o)
       OR NOT EXISTS (SELECT 1 FROM listing_coengagement c WHERE c.listing_id = o AND c.neighbour_id = p_listing_id)),
  exact AS (
    SELECT b.listing_id AS other, count(*) AS together
    FROM likes a JOIN likes b ON b.user_id = a.user_id
    WHERE a.listing_id = p_listing_id AND b.listing_id IN (SELECT m.other FROM missing m)
    GROUP BY 1
    HAVING count(*) >= p_min_support),
  added AS (
    SELECT p_listing_id AS listing_id, e.other AS neighbour_id, e.together FROM exact e
    UNION ALL
    SELECT e.other, p_listing_id, e.together FROM exact e)
  INSERT INTO listing_coengagement (listing_id, neighbour_id, together, score)
  SELECT r.listing_id, r.neighbour_id, r.together,
         (r.together / sqrt(greatest(li.like_count, r.together)::float8 * greatest(lj.like_count, r.together)))::real
  FROM added r JOIN marketplace_listings li ON li.id = r.listing_id JOIN marketplace_listings lj ON lj.id = r.neighbour_id
  ORDER BY r.listing_id, r.neighbour_id
  ON CONFLICT (listing_id, neighbour_id) DO NOTHING;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_changed := v_changed + v_n;

  -- Back to the top p_top_k of every touched listing.
  DELETE FROM listing_coengagement c
  USING (SELECT t.listing_id, t.neighbour_id,
                row_number() OVER (PARTITION BY t.listing_id ORDER BY t.score DESC, t.neighbour_id) AS rank
         FROM listing_coengagement t
         WHERE t.listing_id = p_listing_id OR t.listing_id = ANY (v_others)) r
  WHERE c.listing_id = r.listing_id AND c.neighbour_id = r.neighbour_id AND r.rank > p_top_k;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_changed + v_n;
END $$;

REVOKE EXECUTE ON FUNCTION coengagement_rebuild_batch(integer, integer, integer, integer, integer),
  coengagement_apply_like(uuid, integer, integer, integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coengagement_rebuild_batch(integer, integer, integer, integer, integer),
  coengagement_apply_like(uuid, integer, integer, integer, integer, integer) TO lodestar_worker;
