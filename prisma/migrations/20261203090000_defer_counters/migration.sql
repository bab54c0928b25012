-- Counters deferred during a bulk import (issue 15, item 3). Each like's counter update rewrote its
-- listing's row (1.6 KB with the embedding; full pages, so not HOT: a new entry in every index, ivfflat
-- included), which made likes 15× slower to import than without the counter trigger. The importer now
-- sets the transaction-local `lodestar.defer_counters` to 'on' in its history batches and recounts the
-- listings and profiles it touched afterwards (src/import/refreshDerived.ts, the counter steps).
--
-- Only the owner's own session may skip counting (app_is_owner_session(): no SET ROLE, and the login is
-- a member of the tables' owner). The gateway and the worker always SET ROLE, so a person's session that
-- sets the GUC (any role may set a custom one) still counts. No ALTER TABLE ... DISABLE TRIGGER: that
-- takes a lock on a live table and needs the owner for the whole run. Everything else is unchanged from
-- 20261128000100_views_functions (likes) and 20261128040100_follow_counts_lock_order (follows), with the
-- search_path 20261203010000_definer_search_path pinned.
CREATE OR REPLACE FUNCTION trg_likes_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  -- The cheap test first: app_is_owner_session() reads the catalog.
  IF current_setting('lodestar.defer_counters', true) = 'on' AND app_is_owner_session() THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    UPDATE marketplace_listings SET like_count = like_count + 1 WHERE id = NEW.listing_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE marketplace_listings SET like_count = greatest(like_count - 1, 0) WHERE id = OLD.listing_id;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION trg_follows_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_follower uuid := CASE WHEN TG_OP = 'INSERT' THEN NEW.follower_id ELSE OLD.follower_id END;
  v_followee uuid := CASE WHEN TG_OP = 'INSERT' THEN NEW.followee_id ELSE OLD.followee_id END;
BEGIN
  IF current_setting('lodestar.defer_counters', true) = 'on' AND app_is_owner_session() THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM profiles WHERE user_id IN (v_follower, v_followee) ORDER BY user_id FOR NO KEY UPDATE;
  IF TG_OP = 'INSERT' THEN
    UPDATE profiles SET follower_count = follower_count + 1 WHERE user_id = v_followee;
    UPDATE profiles SET following_count = following_count + 1 WHERE user_id = v_follower;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE profiles SET follower_count = greatest(follower_count - 1, 0) WHERE user_id = v_followee;
    UPDATE profiles SET following_count = greatest(following_count - 1, 0) WHERE user_id = v_follower;
  END IF;
  RETURN NULL;
END $$;
