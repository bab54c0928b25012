-- Partitioned event logs, step 1 of 7 (issue #18 item 3): learning_events and intent_signals become
-- range-partitioned by week on created_at, and the tables as they are become their first partition, with
-- no lock that lasts as long as the table is big. Attaching a table as a partition scans it for rows
-- outside the partition's range unless a validated CHECK already proves there are none; this step adds
-- that CHECK NOT VALID (a catalog change; this step for learning_events, step 2 for intent_signals, so
-- neither table waits locked for the other), step 5 validates it (a scan that blocks no writer), steps 6
-- and 7 switch. Its bound is the first Monday (00:00 UTC) at least four weeks after the newest row and
-- now: rows the gateway writes until the switch (created_at = now()) must pass it, so the switch has four
-- weeks to be applied (docs/operations.md, "Event logs: weekly partitions"); weekly partitions start there.

CREATE FUNCTION event_log_week(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = public, pg_temp
RETURN date_trunc('week', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';

COMMENT ON FUNCTION event_log_week(timestamptz) IS
  'The Monday 00:00 UTC that starts the event-log partition week holding p_at.';

SET LOCAL TimeZone = 'UTC';
SET LOCAL DateStyle = 'ISO, YMD';

DO $$
DECLARE
  v_newest timestamptz := (SELECT max(created_at) FROM learning_events);
BEGIN
  -- max(created_at) is an index probe (learning_events_created_at_idx).
  EXECUTE format('ALTER TABLE learning_events ADD CONSTRAINT learning_events_before_partitions '
                 'CHECK (created_at < %L) NOT VALID',
                 event_log_week(greatest(now(), coalesce(v_newest, now())) + interval '35 days'));
END $$;
