-- Follower counters without deadlocks: two users following each other at the same moment updated the
-- same two profile rows in opposite orders. Both rows are now locked first, in user_id order.
CREATE OR REPLACE FUNCTION trg_follows_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_follower uuid := CASE WHEN TG_OP = 'INSERT' THEN NEW.follower_id ELSE OLD.follower_id END;
  v_followee uuid := CASE WHEN TG_OP = 'INSERT' THEN NEW.followee_id ELSE OLD.followee_id END;
BEGIN
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
