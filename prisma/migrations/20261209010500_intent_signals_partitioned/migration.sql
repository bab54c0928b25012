-- Partitioned event logs, step 7 of 7 (issue #18 item 3): intent_signals becomes partitioned by week, as
-- learning_events in step 6 (event_log_convert, which this step drops), and gc_intent_signals collects it
-- by partitions (event_log_gc).
-- lodestar:contract event_log_convert
SET LOCAL TimeZone = 'UTC';
SET LOCAL DateStyle = 'ISO, YMD';

SELECT event_log_convert('intent_signals', interval '28 days');
DROP FUNCTION event_log_convert(text, interval);

-- The runbook's GC, same name, arguments and result: see event_log_gc.
CREATE OR REPLACE FUNCTION gc_intent_signals(p_retention interval DEFAULT interval '90 days',
                                             p_batch integer DEFAULT 10000, p_max_rows bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
  PERFORM app_require_maintainer('gc_intent_signals');
  RETURN event_log_gc('public.intent_signals', now() - p_retention, p_batch, p_max_rows);
END $$;
