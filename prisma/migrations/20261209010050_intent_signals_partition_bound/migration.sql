-- Partitioned event logs, step 2 of 7: intent_signals' bound, as step 1's for learning_events.
SET LOCAL TimeZone = 'UTC';
SET LOCAL DateStyle = 'ISO, YMD';

DO $$
DECLARE
  v_newest timestamptz := (SELECT max(created_at) FROM intent_signals);
BEGIN
  EXECUTE format('ALTER TABLE intent_signals ADD CONSTRAINT intent_signals_before_partitions '
                 'CHECK (created_at < %L) NOT VALID',
                 event_log_week(greatest(now(), coalesce(v_newest, now())) + interval '35 days'));
END $$;
