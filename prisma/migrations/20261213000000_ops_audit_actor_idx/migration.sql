-- lodestar:no-transaction
-- ops.auditLog(actor:) (the console's Audit page): a keyset page newest first reads that actor's rows, not
-- every newer row of the log. Built concurrently: every admin action and the worker's rollbacks write
-- ops_audit. The next migration does the same for action.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ops_audit_actor_id_idx ON ops_audit (actor_id, id DESC);
