/**
 * Statements of the ops diagnostics (src/ops/diagnostics.ts): the runbook's read-only queries, run in an
 * admin transaction. Rows come back snake_case; diagnostics.ts maps them once to camelCase.
 */

/** Runbook "Worker Health": the health view of each queue (one row each). */
export const queueHealthViews = {
  events: 'vw_events_queue_health',
  discovery: 'vw_discovery_queue_health',
} as const;

/** Runbook "Worker Health": the one row of a queue's health view. */
export const queueHealthSql = (view: (typeof queueHealthViews)[keyof typeof queueHealthViews]) =>
  `SELECT * FROM ${view}`;

/** Runbook "Stuck leases": its two count queries, verbatim in meaning. */
export const stuckLeasesSql = `
SELECT (SELECT count(*) FROM marketplace_discovery_queue WHERE status = 'processing' AND lease_expires_at < now()) AS discovery,
       (SELECT count(*) FROM events_queue WHERE status = 'leased' AND lease_expires_at < now()) AS events`;

/** Runbook "Performance SLOs": $1 window in minutes (vw_kernel_slos is the 60-minute case). */
export const kernelSlosSql = 'SELECT * FROM kernel_slos(make_interval(mins => $1))';

/** Runbook "Gap severity": the worst $1 gaps. */
export const gapSeveritySql = 'SELECT * FROM vw_gap_severity LIMIT $1';

/** Runbook "Discovery Queue Backlog: inspect errors": the $1 most recent failed items. */
export const discoveryErrorsSql = `
SELECT id::text, interest_id, category_id, reason, last_error, attempts, updated_at
FROM marketplace_discovery_queue WHERE status = 'error'
ORDER BY updated_at DESC, marketplace_discovery_queue.id DESC LIMIT $1`;

const auditColumns = `ops_audit.id::text, actor_id, actor_role, action, args, result, ok, error, duration_ms,
  request_id, at, (SELECT handle FROM profiles WHERE profiles.user_id = ops_audit.actor_id) AS actor_handle`;

/**
 * The filters both directions share, each NULL for any: $2 action, $4 actor id, $7 actor handle (looked
 * up once; an erased actor's rows stay findable by id), $5 since (inclusive), $6 until (exclusive).
 */
const auditFilters = `($2::text IS NULL OR action = $2)
  AND ($4::uuid IS NULL OR actor_id = $4)
  AND ($7::text IS NULL OR actor_id = (SELECT user_id FROM profiles WHERE handle = $7))
  AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)`;

/**
 * The audit log, keyset-paged on the table's bigint id (ids grow with time), newest first going forward:
 * $1 cursor id or NULL, $3 limit, and the filters above.
 */
export const auditLogForwardSql = `
SELECT ${auditColumns}
FROM ops_audit
WHERE ($1::bigint IS NULL OR id < $1) AND ${auditFilters}
ORDER BY ops_audit.id DESC LIMIT $3`;

/** The audit log going backward (oldest first from the cursor): $1 cursor id or NULL, $3 limit, filters. */
export const auditLogBackwardSql = `
SELECT ${auditColumns}
FROM ops_audit
WHERE ($1::bigint IS NULL OR id > $1) AND ${auditFilters}
ORDER BY ops_audit.id ASC LIMIT $3`;

/** Several flags' histories, each newest first and at most $2 rows: $1 flag keys, $2 limit. */
export const flagHistorySql = `
SELECT flag_key, from_pct, to_pct, from_state, to_state, actor, reason, at
FROM unnest($1::text[]) AS k(key)
CROSS JOIN LATERAL (
  SELECT * FROM feature_flag_history h WHERE h.flag_key = k.key ORDER BY at DESC, id DESC LIMIT $2
) h
ORDER BY flag_key, at DESC, id DESC`;
