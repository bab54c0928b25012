-- recently_served_listings, same signature, rights and result (issue #17). The old body ORed "in the
-- window" and "in this session" under one user_id condition, so the index handed it every impression the
-- viewer ever had and a filter threw away all but the window's: a feed page's cost grew with the viewer's
-- whole history (learning_events keeps 180 days), not with the window. Now each way of having been served
-- is its own index range: (user_id, created_at) for the window, (user_id, session) for the session. And
-- plpgsql keeps its plans for the session, where the SQL function's body was planned on every feed page.
CREATE OR REPLACE FUNCTION recently_served_listings(p_user_id uuid, p_since interval, p_session text)
RETURNS SETOF integer
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp ROWS 10 AS $$
BEGIN
  -- Only the caller's own id, or the service: nobody learns what others were shown.
  IF NOT (coalesce(p_user_id = app_current_user_id(), false) OR app_is_privileged()) THEN
    RETURN;
  END IF;
  IF p_user_id IS NOT NULL THEN
    RETURN QUERY
      SELECT e.listing_id FROM learning_events e
      WHERE e.user_id = p_user_id AND e.created_at >= now() - p_since
      UNION
      SELECT e.listing_id FROM learning_events e
      WHERE e.user_id = p_user_id AND e.context ? 'session' AND e.context ->> 'session' = p_session;
  ELSIF p_session IS NOT NULL THEN
    -- Anonymous feeds: what their own session served.
    RETURN QUERY
      SELECT DISTINCT e.listing_id FROM learning_events e
      WHERE e.user_id IS NULL AND e.context ? 'session' AND e.context ->> 'session' = p_session;
  END IF;
END
$$;
