-- A profile's behaviour half-life goes from 30 to 180 days (issue #16, measured with `npm run eval`; see
-- docs/recommendations.md, "Profiles from behaviour"). With 30 days the profile followed the user's
-- latest run of likes; when likes come in runs (one thing leading to a similar one) the latest run says
-- less about what comes next than the whole history, and the feed fell below the nearest-item reference.
--
-- The half-life now lives in one place, profile_half_life_seconds(), read by profile_embedding_of below
-- and by the set-based profile computation of the seed and the import refresh
-- (src/db/seed/finalizeDatabase.ts), which had its own copy of the 30 days.

CREATE FUNCTION profile_half_life_seconds() RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 180 * 86400.0::double precision
$$;
REVOKE EXECUTE ON FUNCTION profile_half_life_seconds() FROM PUBLIC;

-- profile_embedding_of as 20261204010000_behaviour_profiles made it, but for the half-life:
--   I = the unit affinity-weighted mean of the user's interest embeddings (the cold start);
--   B = the weighted sum of the unit embeddings of the listings the user engaged with (like 1, positive
--       feedback its reward, save/share 0.5, view/click/dwell 0.2, hidden -1), each decayed with a
--       half-life of profile_half_life_seconds() counted back from the user's own latest engagement, the
--       latest 200 of each source;
--   profile = unit((1 - α)·I + α·B), α = n / (n + 5), n = the listings liked or rewarded.
-- Stored profiles keep their vectors until their next recompute (a like, hide or positive feedback; an
-- import's refresh recomputes every profile).
CREATE OR REPLACE FUNCTION profile_embedding_of(p_user_id uuid) RETURNS vector
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
  c_half_life constant double precision := profile_half_life_seconds();
  c_k constant double precision := 5;
  c_reads constant integer := 200;
  v_interests vector;
  v_behaviour vector;
  v_n integer;
  v_positive boolean;
  v_alpha double precision;
  v_dims integer;
BEGIN
  SELECT sum(ic.embedding * array_fill(ui.affinity::real, ARRAY[vector_dims(ic.embedding)])::vector
             ORDER BY ui.interest_id)
    INTO v_interests
  FROM user_interests ui
  JOIN interest_catalog ic ON ic.id = ui.interest_id
  WHERE ui.user_id = p_user_id AND ic.embedding IS NOT NULL AND ui.affinity > 0;
  IF v_interests IS NOT NULL AND vector_norm(v_interests) = 0 THEN
    v_interests := NULL;
  END IF;

  IF coalesce(current_setting('lodestar.profile_behaviour', true), '') = 'off' THEN
    RETURN CASE WHEN v_interests IS NULL THEN NULL ELSE l2_normalize(v_interests) END;
  END IF;

  WITH events AS (
    (SELECT k.listing_id, k.created_at AS at, engagement_weight('like') AS w, true AS counted
       FROM likes k WHERE k.user_id = p_user_id ORDER BY k.created_at DESC, k.listing_id LIMIT c_reads)
    UNION ALL
    (SELECT e.listing_id, coalesce(e.rewarded_at, e.created_at), e.reward, true
       FROM learning_events e WHERE e.user_id = p_user_id AND e.reward > 0
      ORDER BY e.created_at DESC, e.id LIMIT c_reads)
    UNION ALL
    (SELECT s.listing_id, s.created_at, engagement_weight(s.kind), false
       FROM intent_signals s
      WHERE s.user_id = p_user_id AND s.listing_id IS NOT NULL AND engagement_weight(s.kind) > 0
      ORDER BY s.created_at DESC, s.id LIMIT c_reads)
    UNION ALL
    (SELECT h.listing_id, h.created_at, -1.0::double precision, false
       FROM hidden_listings h WHERE h.user_id = p_user_id ORDER BY h.created_at DESC, h.listing_id LIMIT c_reads)
  ),
  decayed AS (
    SELECT e.listing_id, e.counted,
           e.w * exp(-ln(2) * extract(epoch FROM max(e.at) OVER () - e.at)::double precision / c_half_life) AS w
      FROM events e
  ),
  per_listing AS (
    SELECT d.listing_id,
           CASE WHEN bool_or(d.w < 0) THEN min(d.w) ELSE max(d.w) END AS w,
           bool_or(d.counted) AND NOT bool_or(d.w < 0) AS counted
      FROM decayed d GROUP BY d.listing_id
  )
  SELECT sum(l2_normalize(l.embedding) * array_fill(p.w::real, ARRAY[vector_dims(l.embedding)])::vector
             ORDER BY p.listing_id),
         count(*) FILTER (WHERE p.counted),
         bool_or(p.w > 0)
    INTO v_behaviour, v_n, v_positive
    FROM per_listing p
    JOIN marketplace_listings l ON l.id = p.listing_id
   WHERE l.embedding IS NOT NULL AND vector_norm(l.embedding) > 0 AND p.w <> 0;
  IF v_behaviour IS NOT NULL AND (v_positive IS NOT TRUE OR vector_norm(v_behaviour) = 0) THEN
    v_behaviour := NULL;
  END IF;

  IF v_behaviour IS NULL THEN
    RETURN CASE WHEN v_interests IS NULL THEN NULL ELSE l2_normalize(v_interests) END;
  END IF;
  IF v_interests IS NULL THEN
    RETURN l2_normalize(v_behaviour);
  END IF;
  IF v_n = 0 THEN
    RETURN l2_normalize(v_interests);
  END IF;
  v_alpha := v_n / (v_n + c_k);
  v_dims := vector_dims(v_interests);
  v_interests := l2_normalize(v_interests) * array_fill((1 - v_alpha)::real, ARRAY[v_dims])::vector
               + l2_normalize(v_behaviour) * array_fill(v_alpha::real, ARRAY[v_dims])::vector;
  RETURN CASE WHEN vector_norm(v_interests) = 0 THEN NULL ELSE l2_normalize(v_interests) END;
END $$;
