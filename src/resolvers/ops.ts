import { z } from 'zod';
import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import { listFlags, type Flag } from '../flags/flags.js';
import {
  changesFlags,
  runOpsAction,
  type OpsActionName,
  type OpsActionResult,
  type RolloutSettings,
} from '../ops/actions.js';
import { evaluateAlerts, type Alert } from '../ops/alerts.js';
import { actorOf } from '../auth/actor.js';
import { backfillProgress, type BackfillProgress } from '../ops/maintenanceActions.js';
import { createOpsRunner, inAdminTx, type OpsRunner } from '../ops/opsRunner.js';
import { vectorHealth as readVectorHealth, type VectorHealth } from '../ops/vectorIndexes.js';
import { budgetKeyOf } from '../social/rateLimits.js';
import { pageRequest, toConnection, type Connection, type ConnectionArgs } from './pagination.js';
import { checkPageSize } from '../validation/pageSize.js';

/** The ops runner of an admin's request: the gateway pool, the admin as actor, the 5 s batches. */
export const opsRunnerOf = (ctx: Context): OpsRunner & { rollouts: RolloutSettings } =>
  createOpsRunner(ctx.config, {
    pool: ctx.db.pool,
    actor: actorOf(ctx),
    ownerUrl: ctx.config.database.migrationUrl,
  });

/** Runs an audited ops action for the admin; flag changes apply to this instance at once. */
export async function runAction<N extends OpsActionName>(
  ctx: Context,
  name: N,
  args: Record<string, unknown>,
): Promise<OpsActionResult<N> & { auditId: string; durationMs: number }> {
  // GraphQL passes omitted optional arguments as undefined or null; the action's defaults apply.
  const given = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined && v !== null));
  // Every ops action is an admin mutation: they share the 'admin' budget (src/social/budgets.ts).
  await ctx.rateLimits.consume('admin', budgetKeyOf(ctx));
  const { result, auditId, durationMs } = await runOpsAction(opsRunnerOf(ctx), name, given);
  if (changesFlags(name)) await ctx.flags.refresh();
  return { ...result, auditId, durationMs };
}

export interface QueueHealth {
  queue: 'events' | 'discovery';
  queued: number;
  inFlight: number;
  done: number;
  error: number;
  total: number;
  oldestWaitingAt: Date | null;
  oldestAgeSec: number;
  p95AgeSec: number;
  highRetryCount: number;
  stuckLeases: number;
}

interface HealthRow {
  queued_ct: string;
  leased_ct?: string;
  processing_ct?: string;
  done_ct: string;
  error_ct: string;
  total_ct: string;
  oldest_waiting_at: Date | null;
  oldest_age_sec: number;
  p95_age_sec: number;
  high_retry_ct: string;
  stuck_lease_ct: string;
}

/** Runbook "Worker Health": the two queue health views. */
export async function queueHealth(ctx: Context, queue: QueueHealth['queue']): Promise<QueueHealth> {
  const view = queue === 'events' ? 'vw_events_queue_health' : 'vw_discovery_queue_health';
  const { rows } = await inAdminTx(opsRunnerOf(ctx), (client) =>
    client.query<HealthRow>(`SELECT * FROM ${view}`),
  );
  const r = rows[0];
  if (!r) throw new Error(`${view} returned no row`);
  return {
    queue,
    queued: Number(r.queued_ct),
    inFlight: Number(r.leased_ct ?? r.processing_ct ?? 0),
    done: Number(r.done_ct),
    error: Number(r.error_ct),
    total: Number(r.total_ct),
    oldestWaitingAt: r.oldest_waiting_at,
    oldestAgeSec: r.oldest_age_sec,
    p95AgeSec: r.p95_age_sec,
    highRetryCount: Number(r.high_retry_ct),
    stuckLeases: Number(r.stuck_lease_ct),
  };
}

/** Runbook "Stuck leases": its two count queries, verbatim in meaning. */
const stuckLeasesSql = `
SELECT (SELECT count(*) FROM marketplace_discovery_queue WHERE status = 'processing' AND lease_expires_at < now()) AS discovery,
       (SELECT count(*) FROM events_queue WHERE status = 'leased' AND lease_expires_at < now()) AS events`;

export async function stuckLeases(ctx: Context): Promise<{ events: number; discovery: number }> {
  const { rows } = await inAdminTx(opsRunnerOf(ctx), (client) =>
    client.query<{ events: string; discovery: string }>(stuckLeasesSql),
  );
  return { events: Number(rows[0]?.events ?? 0), discovery: Number(rows[0]?.discovery ?? 0) };
}

export interface KernelSlo {
  kernel: string;
  n: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
}

/** Runbook "Performance SLOs": vw_kernel_slos is the last hour; other windows use kernel_slos(). */
export async function kernelSlos(ctx: Context, windowMinutes: number): Promise<KernelSlo[]> {
  if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 7 * 24 * 60) {
    throw createBadUserInputError('windowMinutes must be a whole number from 1 to 10080', 'windowMinutes');
  }
  const { rows } = await inAdminTx(opsRunnerOf(ctx), (client) =>
    client.query<{
      kernel: string;
      n: string;
      p50_ms: number;
      p95_ms: number;
      p99_ms: number;
      error_rate: number;
    }>('SELECT * FROM kernel_slos(make_interval(mins => $1))', [windowMinutes]),
  );
  return rows.map((r) => ({
    kernel: r.kernel,
    n: Number(r.n),
    p50Ms: r.p50_ms,
    p95Ms: r.p95_ms,
    p99Ms: r.p99_ms,
    errorRate: r.error_rate,
  }));
}

export interface GapRow {
  interest_id: number;
  interest_slug: string;
  category_id: number;
  category_slug: string;
  demand_users: string;
  demand_weight: number;
  supply_listings: string;
  candidate_listings: string;
  severity: number;
}

/** Runbook "Gap severity": the worst gaps first. */
export async function gapSeverity(ctx: Context, limit: number): Promise<GapRow[]> {
  checkPageSize('limit', limit);
  const { rows } = await inAdminTx(opsRunnerOf(ctx), (client) =>
    client.query<GapRow>('SELECT * FROM vw_gap_severity LIMIT $1', [limit]),
  );
  return rows;
}

export interface DiscoveryErrorRow {
  id: string;
  interest_id: number;
  category_id: number;
  reason: string;
  last_error: string | null;
  attempts: number;
  updated_at: Date;
}

/** Runbook "Discovery Queue Backlog: inspect errors". */
export async function discoveryErrors(ctx: Context, limit: number): Promise<DiscoveryErrorRow[]> {
  checkPageSize('limit', limit);
  const { rows } = await inAdminTx(opsRunnerOf(ctx), (client) =>
    client.query<DiscoveryErrorRow>(
      `SELECT id::text, interest_id, category_id, reason, last_error, attempts, updated_at
       FROM marketplace_discovery_queue WHERE status = 'error'
       ORDER BY updated_at DESC, marketplace_discovery_queue.id DESC LIMIT $1`,
      [limit],
    ),
  );
  return rows;
}

export const vectorHealth = (ctx: Context): Promise<VectorHealth> => readVectorHealth(opsRunnerOf(ctx));

export const alerts = (ctx: Context): Promise<Alert[]> =>
  inAdminTx(opsRunnerOf(ctx), (client) => evaluateAlerts(client, ctx.config.ops.alerts));

export const backfill = (ctx: Context): Promise<BackfillProgress | null> =>
  backfillProgress(opsRunnerOf(ctx));

export interface AuditRow {
  id: string;
  actor_id: string | null;
  actor_role: string;
  action: string;
  args: unknown;
  result: unknown;
  ok: boolean;
  error: string | null;
  duration_ms: number;
  request_id: string | null;
  at: Date;
}

const auditKey = z.tuple([z.string().regex(/^\d{1,19}$/)]);

/**
 * The audit log, newest first, keyset-paged on id (ids grow with time). Ordered by the table's bigint
 * id, not the text id of the output.
 */
export async function auditLog(
  ctx: Context,
  args: ConnectionArgs & { action?: string | null },
): Promise<Connection<AuditRow>> {
  const request = pageRequest(args, auditKey);
  const forward = request.direction === 'forward';
  const { rows } = await inAdminTx(opsRunnerOf(ctx), (client) =>
    client.query<AuditRow>(
      `SELECT id::text, actor_id, actor_role, action, args, result, ok, error, duration_ms, request_id, at
       FROM ops_audit
       WHERE ($1::bigint IS NULL OR ${forward ? 'id < $1' : 'id > $1'}) AND ($2::text IS NULL OR action = $2)
       ORDER BY ops_audit.id ${forward ? 'DESC' : 'ASC'} LIMIT $3`,
      [request.cursor?.[0] ?? null, args.action ?? null, request.size + 1],
    ),
  );
  return toConnection(request, rows, (row) => [row.id] as const);
}

export const flags = (ctx: Context): Promise<Flag[]> => inAdminTx(opsRunnerOf(ctx), listFlags);

export interface FlagChange {
  fromPct: number | null;
  toPct: number;
  fromState: string | null;
  toState: string;
  actor: string;
  reason: string | null;
  at: Date;
}

export async function flagHistory(ctx: Context, key: string, limit: number): Promise<FlagChange[]> {
  checkPageSize('limit', limit);
  const { rows } = await inAdminTx(opsRunnerOf(ctx), (client) =>
    client.query<FlagChange>(
      `SELECT from_pct AS "fromPct", to_pct AS "toPct", from_state AS "fromState", to_state AS "toState",
              actor, reason, at
       FROM feature_flag_history WHERE flag_key = $1 ORDER BY at DESC, id DESC LIMIT $2`,
      [key, limit],
    ),
  );
  return rows;
}
