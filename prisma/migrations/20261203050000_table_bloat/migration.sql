-- Runbook "Autovacuum (already set to 2%)": "Monitor bloat with pg_stat_user_tables". One row per hot
-- table (the tables analyze_changed_hot_tables watches: the two queues the runbook names, and the
-- tables the feed, the learning loop and the maintenance jobs update or delete in bulk): live and dead
-- tuples, the dead-tuple share n_dead_tup / (n_live_tup + n_dead_tup) (0 for an empty table), when a
-- VACUUM (by hand) and autovacuum last ran and how often, and whether autovacuum is on for the table.
-- The counters come from the statistics system: approximate, and reset with the statistics.
-- ops.tableBloat, the table_bloat alert and the lodestar_table_* gauges of /metrics read this view.
CREATE VIEW vw_table_bloat AS
SELECT s.relname::text AS table_name,
       s.n_live_tup AS live_tuples,
       s.n_dead_tup AS dead_tuples,
       CASE WHEN s.n_live_tup + s.n_dead_tup > 0
            THEN s.n_dead_tup::double precision / (s.n_live_tup + s.n_dead_tup)
            ELSE 0 END AS dead_share,
       s.last_vacuum,
       s.last_autovacuum,
       s.vacuum_count,
       s.autovacuum_count,
       coalesce((SELECT o.option_value::boolean FROM pg_options_to_table(c.reloptions) o
                 WHERE o.option_name = 'autovacuum_enabled'), true) AS autovacuum_enabled
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = 'public'
  AND s.relname IN ('interest_catalog', 'profiles', 'marketplace_listings', 'user_interests',
                    'interest_listing_candidates', 'intent_signals', 'learning_events',
                    'events_queue', 'marketplace_discovery_queue');

-- Read by the gateway (admins' ops.tableBloat, alerts, /metrics); statistics only, no row data.
GRANT SELECT ON vw_table_bloat TO lodestar_app;
