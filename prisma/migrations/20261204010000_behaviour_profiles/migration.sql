-- Profiles from behaviour (issue #16): a profile embedding blends the user's declared interests with
-- the listings they engaged with, so profiles differ as much as tastes do instead of all looking alike.

-- The weight of one engagement kind, the one place these numbers live: the profile embedding below and
-- the importer's derived item embeddings (src/import/embedFromInteractions.ts) both read it. A like is
-- the explicit positive. A save or share is deliberate but private: half. A view, click or dwell only
-- says the listing was looked at (most views are not liked): a fifth, so about five views count as much
-- as a like and a single view cannot outweigh one. Any other kind (a search) weighs nothing.
CREATE FUNCTION engagement_weight(p_kind text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE p_kind
           WHEN 'like' THEN 1.0
           WHEN 'save' THEN 0.5 WHEN 'share' THEN 0.5
           WHEN 'click' THEN 0.2 WHEN 'dwell' THEN 0.2 WHEN 'view' THEN 0.2
           ELSE 0.0
         END::double precision
$$;

-- Bounded reads of a user's latest likes (the profile reads at most 200) use likes_user_recent_idx
-- (user_id, created_at DESC, listing_id DESC), made with listing_coengagement (20261204020000).

-- A user's profile embedding, computed (not written): recompute_profile_embedding, the seed and the
-- refresh after an import all take it from here.
--   I = the unit affinity-weighted mean of the user's interest embeddings (the cold start).
--   B = the unit weighted sum of the unit embeddings of the listings the user engaged with. Each listing
--       counts once, at its strongest signal: a like (1), positive feedback (its reward), an intent
--       signal (engagement_weight: save/share 0.5, view/click/dwell 0.2); a hidden listing pushes away
--       (-1, and hiding overrides any positive signal for that listing). Each signal decays with a
--       half-life of 30 days, measured back from the user's own latest engagement (so an imported
--       history a year old counts as much as a fresh one). Reads the latest 200 of each source, so a
--       heavy user costs a bounded statement (ties in time broken by id). No positive weight → no B.
--       Sums run in id order, so the same rows give the same bits.
--   profile = unit((1 - α)·I + α·B), α = n / (n + 5), n = the listings liked or rewarded: five likes
--       make half the profile behaviour. No interests → B alone; neither → NULL.
-- With the session setting lodestar.profile_behaviour = 'off' it is I alone (the interests-only
-- profile); unset or 'on' is the blend (the worker's sessions do not set it).
CREATE FUNCTION profile_embedding_of(p_user_id uuid) RETURNS vector
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
  c_half_life constant double precision := 30 * 86400; -- seconds
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

-- Same name, signature and result as before (whether an embedding is set now); the value is
-- profile_embedding_of's.
CREATE OR REPLACE FUNCTION recompute_profile_embedding(p_user_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_embedding vector := profile_embedding_of(p_user_id);
BEGIN
  UPDATE profiles
     SET embedding = v_embedding,
         embedding_updated_at = now()
   WHERE user_id = p_user_id;
  RETURN v_embedding IS NOT NULL;
END $$;

-- Interest drift as before, but every interaction it is called for (a like, positive feedback, a
-- hide) now requests a coalesced profile recompute, also when no interest of the user matches the
-- listing's category: the listing itself moves the profile.
CREATE OR REPLACE FUNCTION reinforce_listing_interests(p_user_id uuid, p_listing_id integer, p_delta real)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_n integer;
BEGIN
  UPDATE user_interests ui
     SET affinity = least(1, greatest(0, ui.affinity + p_delta)),
         reinforced_at = CASE WHEN p_delta > 0 THEN now() ELSE ui.reinforced_at END
    FROM interest_catalog ic, marketplace_listings l
   WHERE ui.user_id = p_user_id AND ic.id = ui.interest_id
     AND l.id = p_listing_id AND ic.category_id = l.category_id;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  PERFORM request_profile_recompute(p_user_id);
  RETURN v_n;
END $$;

REVOKE EXECUTE ON FUNCTION profile_embedding_of(uuid), engagement_weight(text) FROM PUBLIC;
-- An unlike only changes the profile: the worker requests the recompute itself.
GRANT EXECUTE ON FUNCTION request_profile_recompute(uuid) TO lodestar_worker;
