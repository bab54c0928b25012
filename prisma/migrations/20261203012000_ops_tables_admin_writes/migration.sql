-- The same rule as for flags and experiments (20261203011000_database_enforced_admin), for the other
-- tables only ops actions change on the gateway role: backfill progress and the queues' requeue and
-- enqueue actions run under an admin identity (inAdminTx), so a gateway session without one cannot
-- rewrite them. The outbox still enqueues events in every user's write transaction; the worker keeps
-- exactly its column grants (leases, completion, retries, discovery) and is not narrowed by rows.
ALTER TABLE ops_backfills ENABLE ROW LEVEL SECURITY;
CREATE POLICY ops_backfills_admin ON ops_backfills TO lodestar_app
  USING (app_current_role() = 'admin') WITH CHECK (app_current_role() = 'admin');

ALTER TABLE events_queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_queue_read ON events_queue FOR SELECT USING (true);
CREATE POLICY events_queue_outbox_insert ON events_queue FOR INSERT TO lodestar_app WITH CHECK (true);
CREATE POLICY events_queue_admin_update ON events_queue FOR UPDATE TO lodestar_app
  USING (app_current_role() = 'admin') WITH CHECK (app_current_role() = 'admin');
CREATE POLICY events_queue_worker_update ON events_queue FOR UPDATE TO lodestar_worker
  USING (true) WITH CHECK (true);

ALTER TABLE marketplace_discovery_queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY discovery_queue_read ON marketplace_discovery_queue FOR SELECT USING (true);
CREATE POLICY discovery_queue_admin_insert ON marketplace_discovery_queue FOR INSERT TO lodestar_app
  WITH CHECK (app_current_role() = 'admin');
CREATE POLICY discovery_queue_admin_update ON marketplace_discovery_queue FOR UPDATE TO lodestar_app
  USING (app_current_role() = 'admin') WITH CHECK (app_current_role() = 'admin');
CREATE POLICY discovery_queue_worker_insert ON marketplace_discovery_queue FOR INSERT TO lodestar_worker
  WITH CHECK (true);
CREATE POLICY discovery_queue_worker_update ON marketplace_discovery_queue FOR UPDATE TO lodestar_worker
  USING (true) WITH CHECK (true);
