-- Done queue items were kept forever: the health views and the worker's metrics scan the whole tables,
-- so they slowed down as the queues aged. Done items older than the retention (default 7 days) are
-- deleted by the worker's daily GC. Idempotency keys of deleted items can be used again, which is safe
-- for every key the code writes: outbox keys are per transaction, gap discovery keys per day.
CREATE INDEX events_queue_done_idx ON events_queue (updated_at) WHERE status = 'done';
CREATE INDEX marketplace_discovery_queue_done_idx ON marketplace_discovery_queue (updated_at) WHERE status = 'done';

CREATE FUNCTION gc_done_queue_items(p_retention interval DEFAULT interval '7 days', p_batch integer DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_total bigint := 0;
  v_n     bigint;
BEGIN
  IF p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'p_batch must be >= 1, got %', p_batch USING ERRCODE = '22023';
  END IF;
  LOOP
    DELETE FROM events_queue WHERE id IN (
      SELECT id FROM events_queue WHERE status = 'done' AND updated_at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  LOOP
    DELETE FROM marketplace_discovery_queue WHERE id IN (
      SELECT id FROM marketplace_discovery_queue WHERE status = 'done' AND updated_at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  RETURN v_total;
END $$;
REVOKE EXECUTE ON FUNCTION gc_done_queue_items(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gc_done_queue_items(interval, integer) TO lodestar_app;
