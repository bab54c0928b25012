-- lodestar:no-transaction
-- ops.auditLog(action:): that action's rows newest first, as the previous migration does for actor.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ops_audit_action_id_idx ON ops_audit (action, id DESC);
