-- The feed's learning loop: idempotent feedback, likes rewarding the impression they came from,
-- interest drift from feed interactions with a coalesced profile-embedding recompute, and the
-- aggregates behind the off-policy report.

-- A tunable interval from the session (the gateway sets lodestar.* per connection), else the default.
CREATE FUNCTION app_setting_interval(p_name text, p_default interval) RETURNS interval
LANGUAGE sql STABLE SET search_path = public AS $$
  SELECT coalesce(nullif(current_setting(p_name, true), '')::interval, p_default)
$$;

-- Coalesced recompute of a user's profile embedding: at once when the last recompute is older than
-- lodestar.profile_recompute_interval (default 1 minute); otherwise one trailing 'profile.recompute'
-- item per user and interval on events_queue (the idempotency key names the recompute it follows, so
-- a burst of interactions enqueues it once). Returns whether it recomputed now.
CREATE FUNCTION request_profile_recompute(p_user_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_every interval := app_setting_interval('lodestar.profile_recompute_interval', interval '1 minute');
  v_last timestamptz;
BEGIN
  -- The row lock orders concurrent interactions of one user: one recomputes, the others enqueue.
  SELECT embedding_updated_at INTO v_last FROM profiles WHERE user_id = p_user_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF v_last IS NULL OR v_last <= now() - v_every THEN
    PERFORM recompute_profile_embedding(p_user_id);
    RETURN true;
  END IF;
  INSERT INTO events_queue (kind, payload, idempotency_key, run_after)
  VALUES ('profile.recompute', jsonb_build_object('userId', p_user_id),
          'profile.recompute:' || p_user_id || ':' || to_char(v_last AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
          v_last + v_every)
  ON CONFLICT (idempotency_key) DO NOTHING;
  RETURN false;
END $$;

-- Interest drift: an interaction with a listing moves the affinity of the user's interests in that
-- listing's category by p_delta (clamped to 0..1); a positive one also marks them reinforced, which
-- holds off the weekly decay. Returns the number of interests changed.
CREATE FUNCTION reinforce_listing_interests(p_user_id uuid, p_listing_id integer, p_delta real)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
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
  IF v_n > 0 THEN
    PERFORM request_profile_recompute(p_user_id);
  END IF;
  RETURN v_n;
END $$;

-- recordFeedback: sets the reward once. The same reward again is a success (a retried request); a
-- different one is refused. A positive reward reinforces the viewer's interests (+0.05 × reward).
CREATE OR REPLACE FUNCTION record_learning_reward(p_event_id uuid, p_reward double precision)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_user uuid := app_current_user_id();
  v_service boolean := app_current_role() = 'service';
  v_owner uuid;
  v_listing integer;
BEGIN
  IF p_reward IS NULL OR p_reward < 0 OR p_reward > 1 THEN
    RAISE EXCEPTION 'reward must be between 0 and 1, got %', p_reward USING ERRCODE = '22023';
  END IF;
  IF v_user IS NULL AND NOT v_service THEN
    RETURN false;
  END IF;
  UPDATE learning_events
     SET reward = p_reward, rewarded_at = now()
   WHERE id = p_event_id AND reward IS NULL AND (v_service OR user_id = v_user)
  RETURNING user_id, listing_id INTO v_owner, v_listing;
  IF FOUND THEN
    IF p_reward > 0 AND v_owner IS NOT NULL THEN
      PERFORM reinforce_listing_interests(v_owner, v_listing, (0.05 * p_reward)::real);
    END IF;
    RETURN true;
  END IF;
  RETURN EXISTS (SELECT 1 FROM learning_events
                  WHERE id = p_event_id AND (v_service OR user_id = v_user) AND reward = p_reward);
END $$;

-- "Not interested" is also a negative signal for the listing's category: −0.1 affinity.
CREATE OR REPLACE FUNCTION hide_listing(p_listing_id integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_user uuid := app_current_user_id();
  v_n integer;
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'hide_listing needs a signed-in caller' USING ERRCODE = '42501';
  END IF;
  INSERT INTO hidden_listings (user_id, listing_id) VALUES (v_user, p_listing_id) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN false; -- already hidden: nothing more to learn
  END IF;
  UPDATE learning_events SET reward = 0, rewarded_at = now()
   WHERE id = (SELECT id FROM learning_events
                WHERE user_id = v_user AND listing_id = p_listing_id AND reward IS NULL
                ORDER BY created_at DESC LIMIT 1);
  GET DIAGNOSTICS v_n = ROW_COUNT;
  PERFORM reinforce_listing_interests(v_user, p_listing_id, -0.1);
  RETURN v_n = 1;
END $$;

-- A like of a listing the feed served the user within lodestar.like_attribution_window (default
-- 30 minutes) rewards the latest impression of it in that window (reward 1) and reinforces the user's
-- interests in its category (+0.1) -- unless that impression already has a reward (explicit feedback,
-- or an earlier like: unlike + like again counts once). In the like's own transaction, whatever path
-- wrote it, so the reward is neither lost nor counted twice. The window ends now(), not at the row's
-- created_at, so a backdated like cannot reach older impressions.
CREATE FUNCTION trg_likes_reward() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_window interval := app_setting_interval('lodestar.like_attribution_window', interval '30 minutes');
BEGIN
  UPDATE learning_events SET reward = 1, rewarded_at = now()
   WHERE reward IS NULL
     AND id = (SELECT id FROM learning_events
                WHERE user_id = NEW.user_id AND listing_id = NEW.listing_id
                  AND created_at >= now() - v_window
                ORDER BY created_at DESC LIMIT 1);
  IF FOUND THEN
    PERFORM reinforce_listing_interests(NEW.user_id, NEW.listing_id, 0.1);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER likes_reward AFTER INSERT ON likes
  FOR EACH ROW EXECUTE FUNCTION trg_likes_reward();

-- Off-policy report: per logging policy, experiment arm and action arm (what the policy's propensity
-- is about: the source for ε-greedy, source:category for Thompson's exploration arms), the sums that
-- IPS and self-normalised IPS need, with w = 1/propensity and unrewarded impressions counted as 0.
CREATE FUNCTION learning_policy_report(p_since timestamptz)
RETURNS TABLE (policy text, experiment text, arm text, action text, impressions bigint, rewarded bigint,
               reward_sum double precision, w_sum double precision, wr_sum double precision,
               w2_sum double precision, w2r_sum double precision, w2r2_sum double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT e.policy,
         coalesce(e.context ->> 'experiment', ''),
         coalesce(e.context ->> 'arm', ''),
         CASE WHEN e.policy = 'thompson' AND e.source <> 'SIMILAR' THEN e.source || ':' || l.category_id
              ELSE e.source END,
         count(*),
         count(*) FILTER (WHERE e.reward > 0),
         sum(coalesce(e.reward, 0)),
         sum(1 / e.propensity),
         sum(coalesce(e.reward, 0) / e.propensity),
         sum(1 / e.propensity ^ 2),
         sum(coalesce(e.reward, 0) / e.propensity ^ 2),
         sum(coalesce(e.reward, 0) ^ 2 / e.propensity ^ 2)
  FROM learning_events e
  JOIN marketplace_listings l ON l.id = e.listing_id
  WHERE e.created_at >= p_since AND app_is_privileged()
  GROUP BY 1, 2, 3, 4
$$;

REVOKE EXECUTE ON FUNCTION request_profile_recompute(uuid), reinforce_listing_interests(uuid, integer, real),
  trg_likes_reward(), learning_policy_report(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION learning_policy_report(timestamptz) TO lodestar_service;
