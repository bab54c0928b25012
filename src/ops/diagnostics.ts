import type { AlertThresholds, BloatThresholds } from '../config/alertThresholds.js';
import { listFlags, type Flag } from '../flags/flags.js';
import { evaluateAlerts, type Alert } from './alerts.js';
import type { ReplicaStatus } from '../db/replicas.js';
import { inAdminTx, type OpsRunner } from './opsRunner.js';
import { isBloated, readTableBloat, type TableBloat } from './tableBloat.js';
import {
  auditLogBackwardSql,
  auditLogForwardSql,
  discoveryErrorsSql,
  flagHistorySql,
  gapSeveritySql,
  kernelSlosSql,
  queueHealthSql,
  queueHealthViews,
  stuckLeasesSql,
} from './sql.js';

/**
 * The runbook's diagnostics, read in an admin transaction. Each returns camelCase objects, mapped once
 * here from the snake_case rows; the GraphQL types expose them as they are. Arguments are checked by the
 * resolver (src/resolvers/ops.ts).
 */

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
export async function queueHealth(runner: OpsRunner, queue: QueueHealth['queue']): Promise<QueueHealth> {
  const view = queueHealthViews[queue];
  const { rows } = await inAdminTx(runner, (client) => client.query<HealthRow>(queueHealthSql(view)));
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

export interface StuckLeases {
  events: number;
  discovery: number;
}

/** Runbook "Stuck leases": in flight with an expired lease, per queue. */
export async function stuckLeases(runner: OpsRunner): Promise<StuckLeases> {
  const { rows } = await inAdminTx(runner, (client) =>
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
export async function kernelSlos(runner: OpsRunner, windowMinutes: number): Promise<KernelSlo[]> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{
      kernel: string;
      n: string;
      p50_ms: number;
      p95_ms: number;
      p99_ms: number;
      error_rate: number;
    }>(kernelSlosSql, [windowMinutes]),
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

export interface GapSeverity {
  interestId: number;
  interestSlug: string;
  categoryId: number;
  categorySlug: string;
  demandUsers: number;
  demandWeight: number;
  supplyListings: number;
  candidateListings: number;
  severity: number;
}

/** Runbook "Gap severity": the worst gaps first. */
export async function gapSeverity(runner: OpsRunner, limit: number): Promise<GapSeverity[]> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{
      interest_id: number;
      interest_slug: string;
      category_id: number;
      category_slug: string;
      demand_users: string;
      demand_weight: number;
      supply_listings: string;
      candidate_listings: string;
      severity: number;
    }>(gapSeveritySql, [limit]),
  );
  return rows.map((g) => ({
    interestId: g.interest_id,
    interestSlug: g.interest_slug,
    categoryId: g.category_id,
    categorySlug: g.category_slug,
    demandUsers: Number(g.demand_users),
    demandWeight: g.demand_weight,
    supplyListings: Number(g.supply_listings),
    candidateListings: Number(g.candidate_listings),
    severity: g.severity,
  }));
}

export interface DiscoveryError {
  id: string;
  interestId: number;
  categoryId: number;
  reason: string;
  lastError: string | null;
  attempts: number;
  updatedAt: Date;
}

/** Runbook "Discovery Queue Backlog: inspect errors". */
export async function discoveryErrors(runner: OpsRunner, limit: number): Promise<DiscoveryError[]> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{
      id: string;
      interest_id: number;
      category_id: number;
      reason: string;
      last_error: string | null;
      attempts: number;
      updated_at: Date;
    }>(discoveryErrorsSql, [limit]),
  );
  return rows.map((e) => ({
    id: e.id,
    interestId: e.interest_id,
    categoryId: e.category_id,
    reason: e.reason,
    lastError: e.last_error,
    attempts: e.attempts,
    updatedAt: e.updated_at,
  }));
}

export interface AuditEntry {
  id: string;
  actorId: string | null;
  /** The actor's handle now; null for a service caller or an erased account. */
  actorHandle: string | null;
  actorRole: string;
  action: string;
  argsJson: string;
  resultJson: string | null;
  ok: boolean;
  error: string | null;
  durationMs: number;
  requestId: string | null;
  at: Date;
}

/** Which audit rows to list: each null for any. */
export interface AuditFilter {
  action: string | null;
  actorId: string | null;
  /** Lower case, without @. */
  actorHandle: string | null;
  since: Date | null;
  until: Date | null;
}

/**
 * One page of the audit log plus one row (to tell whether there is a next page): newest first going
 * forward, from after the cursor id (a decimal string), filtered (AuditFilter).
 */
export async function auditLog(
  runner: OpsRunner,
  page: { forward: boolean; cursor: string | null; limit: number } & AuditFilter,
): Promise<AuditEntry[]> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{
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
      actor_handle: string | null;
    }>(page.forward ? auditLogForwardSql : auditLogBackwardSql, [
      page.cursor,
      page.action,
      page.limit,
      page.actorId,
      page.since,
      page.until,
      page.actorHandle,
    ]),
  );
  return rows.map((a) => ({
    id: a.id,
    actorId: a.actor_id,
    actorHandle: a.actor_handle,
    actorRole: a.actor_role,
    action: a.action,
    argsJson: JSON.stringify(a.args),
    resultJson: a.result == null ? null : JSON.stringify(a.result),
    ok: a.ok,
    error: a.error,
    durationMs: a.duration_ms,
    requestId: a.request_id,
    at: a.at,
  }));
}

export interface FlagChange {
  fromPct: number | null;
  toPct: number;
  fromState: string | null;
  toState: string;
  actor: string;
  reason: string | null;
  at: Date;
}

/** Flags' rollout histories, newest first, at most `limit` each: one statement for all of them. */
export async function flagHistories(
  runner: OpsRunner,
  keys: readonly string[],
  limit: number,
): Promise<Map<string, FlagChange[]>> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{
      flag_key: string;
      from_pct: number | null;
      to_pct: number;
      from_state: string | null;
      to_state: string;
      actor: string;
      reason: string | null;
      at: Date;
    }>(flagHistorySql, [keys, limit]),
  );
  const byKey = new Map<string, FlagChange[]>(keys.map((key) => [key, []]));
  for (const c of rows) {
    byKey.get(c.flag_key)?.push({
      fromPct: c.from_pct,
      toPct: c.to_pct,
      fromState: c.from_state,
      toState: c.to_state,
      actor: c.actor,
      reason: c.reason,
      at: c.at,
    });
  }
  return byKey;
}

/** Runbook "Monitoring Alerts": every rule, evaluated now. */
export const alerts = (
  runner: OpsRunner,
  thresholds: AlertThresholds,
  replicas: readonly ReplicaStatus[] = [],
): Promise<Alert[]> => inAdminTx(runner, (client) => evaluateAlerts(client, thresholds, replicas));

/** Every feature flag, by key. */
export const flags = (runner: OpsRunner): Promise<Flag[]> => inAdminTx(runner, listFlags);

/**
 * Per flag: the distinct users who reported a problem in the window auto-rollback judges (since the
 * flag's last rollout change, at most windowSec back). One statement for every flag.
 */
const flagComplaintsSql = `
SELECT f.key, (
  SELECT count(DISTINCT r.user_id)::int FROM flag_problem_reports r
  WHERE r.flag_key = f.key AND r.at >= greatest(now() - make_interval(secs => $1),
    coalesce((SELECT max(h.at) FROM feature_flag_history h WHERE h.flag_key = f.key), '-infinity'))
) AS n
FROM feature_flags f`;

export async function flagComplaints(runner: OpsRunner, windowSec: number): Promise<Map<string, number>> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{ key: string; n: number }>(flagComplaintsSql, [windowSec]),
  );
  return new Map(rows.map((row) => [row.key, row.n]));
}

/** Runbook "Monitor bloat with pg_stat_user_tables": every hot table, flagged when over the thresholds. */
export async function tableBloat(
  runner: OpsRunner,
  thresholds: BloatThresholds,
): Promise<(TableBloat & { bloated: boolean })[]> {
  const tables = await inAdminTx(runner, readTableBloat);
  return tables.map((table) => ({ ...table, bloated: isBloated(table, thresholds) }));
}
