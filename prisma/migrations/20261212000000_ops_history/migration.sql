-- Ops history (issue #20, item 3): what the queue health views and the alert inputs showed, one row per
-- series and minute, kept 7 days, for the ops console's charts and any admin tool (ops.history). Kernel
-- latency and flag exposure need no snapshot: their samples and aggregates (kernel_latency,
-- flag_exposure_stats) are kept 7 days already and are bucketed when read.

CREATE TABLE ops_history (
  metric   text NOT NULL,
  subject  text NOT NULL DEFAULT '',
  taken_at timestamptz NOT NULL,
  value    double precision,
  PRIMARY KEY (metric, subject, taken_at),
  CONSTRAINT ops_history_metric_format CHECK (metric ~ '^[a-z][a-z0-9_.]{0,63}$')
);
CREATE INDEX ops_history_taken_at_idx ON ops_history (taken_at);
ALTER TABLE ops_history ENABLE ROW LEVEL SECURITY;
-- Admins (and service callers) read it through the gateway; nobody writes it but the snapshot below.
CREATE POLICY ops_history_read ON ops_history FOR SELECT USING (app_is_privileged());
GRANT SELECT ON ops_history TO lodestar_app;

-- One snapshot, stamped with the minute it is taken in: every series at most once per minute, however
-- many workers call it (ON CONFLICT DO NOTHING). Returns the rows written. SECURITY DEFINER: the worker
-- reads the queue views and the alert inputs only through it, and writes nothing else.
CREATE FUNCTION ops_snapshot_history() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_at timestamptz := date_trunc('minute', now());
  v_n  integer;
BEGIN
  PERFORM app_require_maintainer('ops_snapshot_history');
  INSERT INTO ops_history (metric, subject, taken_at, value)
  SELECT s.metric, s.subject, v_at, s.value
  FROM (
    SELECT q.queue AS subject, m.metric, m.value
    FROM (
      SELECT 'events' AS queue, queued_ct, leased_ct AS in_flight_ct, error_ct, oldest_age_sec, p95_age_sec,
             high_retry_ct, stuck_lease_ct
      FROM vw_events_queue_health
      UNION ALL
      SELECT 'discovery', queued_ct, processing_ct, error_ct, oldest_age_sec, p95_age_sec, high_retry_ct,
             stuck_lease_ct
      FROM vw_discovery_queue_health
    ) q
    CROSS JOIN LATERAL (VALUES
      ('queue.queued', q.queued_ct::double precision),
      ('queue.in_flight', q.in_flight_ct::double precision),
      ('queue.error', q.error_ct::double precision),
      ('queue.oldest_age_sec', q.oldest_age_sec),
      ('queue.p95_age_sec', q.p95_age_sec),
      ('queue.high_retry', q.high_retry_ct::double precision),
      ('queue.stuck_leases', q.stuck_lease_ct::double precision)
    ) AS m (metric, value)
    UNION ALL
    SELECT '' AS subject, m.metric, m.value
    FROM ops_alert_values() a
    CROSS JOIN LATERAL (VALUES
      ('alert.discovery_p95_age_sec', a.discovery_p95_age_sec),
      ('alert.discovery_high_retry', a.discovery_high_retry_ct::double precision),
      ('alert.kernel_worst_p95_ms', a.kernel_worst_p95_ms),
      ('alert.profile_pct_has_vec', a.profile_pct_has_vec),
      ('alert.learning_age_sec', extract(epoch FROM now() - a.learning_last_at)::double precision)
    ) AS m (metric, value)
  ) s
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN v_n;
END $$;
REVOKE EXECUTE ON FUNCTION ops_snapshot_history() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops_snapshot_history() TO lodestar_app, lodestar_worker;

-- Retention: the history goes with the rest of the sampled telemetry (7 days by default).
CREATE OR REPLACE FUNCTION gc_ops_telemetry(p_retention interval DEFAULT interval '7 days',
                                            p_batch integer DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_total bigint := 0;
  v_n     bigint;
BEGIN
  PERFORM app_require_maintainer('gc_ops_telemetry');
  IF p_batch IS NULL OR p_batch < 1 THEN
    RAISE EXCEPTION 'p_batch must be >= 1, got %', p_batch USING ERRCODE = '22023';
  END IF;
  LOOP
    DELETE FROM kernel_latency WHERE id IN (
      SELECT id FROM kernel_latency WHERE at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  LOOP
    DELETE FROM flag_exposure_stats WHERE id IN (
      SELECT id FROM flag_exposure_stats WHERE at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  LOOP
    DELETE FROM ops_history WHERE (metric, subject, taken_at) IN (
      SELECT metric, subject, taken_at FROM ops_history WHERE taken_at < now() - p_retention LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  RETURN v_total;
END $$;
