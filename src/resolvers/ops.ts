import DataLoader from 'dataloader';
import { z } from 'zod';
import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import type { Flag } from '../flags/flags.js';
import {
  changesFlags,
  erasedAccountOf,
  runOpsAction,
  type OpsActionName,
  type OpsActionResult,
  type RolloutSettings,
} from '../ops/actions.js';
import type { Alert } from '../ops/alerts.js';
import type { ReplicaStatus } from '../db/replicas.js';
import * as diagnostics from '../ops/diagnostics.js';
import type {
  AuditEntry,
  DiscoveryError,
  FlagChange,
  GapSeverity,
  KernelSlo,
  QueueHealth,
  StuckLeases,
} from '../ops/diagnostics.js';
import { actorOf } from '../auth/actor.js';
import { backfillProgress, type BackfillProgress } from '../ops/maintenanceActions.js';
import * as history from '../ops/history.js';
import {
  HISTORY_RETENTION_MS,
  MAX_HISTORY_POINTS,
  OPS_METRICS,
  type FlagExposureSeries,
  type HistoryWindow,
  type KernelLatencySeries,
  type OpsMetric,
  type OpsSeries,
} from '../ops/history.js';
import { createOpsRunner, type OpsRunner } from '../ops/opsRunner.js';
import type { TableBloat } from '../ops/tableBloat.js';
import { vectorHealth as readVectorHealth, type VectorHealth } from '../ops/vectorIndexes.js';
import { budgetKeyOf } from '../social/rateLimits.js';
import { pageRequest, toConnection, type Connection, type ConnectionArgs } from './pagination.js';
import { checkPageSize } from '../validation/pageSize.js';
import { isUuid } from '../validation/isUuid.js';

/** The ops runner of an admin's request: the gateway pool, the admin as actor, the 5 s batches. */
export const opsRunnerOf = (ctx: Context): OpsRunner & { rollouts: RolloutSettings } =>
  createOpsRunner(ctx.config, {
    pool: ctx.db.pool,
    actor: actorOf(ctx),
    ownerUrl: ctx.config.database.migrationUrl,
  });

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' &&
  value !== null &&
  [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null);

/**
 * GraphQL passes omitted optional arguments, also inside input objects (saveFlag's thresholds), as
 * undefined or null: drop them so the action's defaults apply and an omitted threshold is kept.
 */
function givenArgs(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(args)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => [k, isPlainObject(v) ? givenArgs(v) : v]),
  );
}

/**
 * Runs an audited ops action for the admin (every generated ops mutation resolves here); the action
 * parses the arguments with its own schema. Flag changes apply to this instance at once.
 */
export async function runAction<N extends OpsActionName>(
  ctx: Context,
  name: N,
  args: Record<string, unknown>,
): Promise<OpsActionResult<N> & { auditId: string; durationMs: number }> {
  // Every ops action is an admin mutation: they share the 'admin' budget (src/social/budgets.ts).
  await ctx.rateLimits.consume('admin', budgetKeyOf(ctx));
  const { result, auditId, durationMs } = await runOpsAction(opsRunnerOf(ctx), name, givenArgs(args));
  if (changesFlags(name)) await ctx.flags.refresh();
  // An erased account's tokens stop here at once (other gateways within AUTH_ROLE_CACHE_MS).
  const erased = erasedAccountOf(name, result);
  if (erased !== null) ctx.roles.forget(erased);
  return { ...result, auditId, durationMs };
}

/** Runbook "Worker Health": the two queue health views. */
export const queueHealth = (ctx: Context, queue: QueueHealth['queue']): Promise<QueueHealth> =>
  diagnostics.queueHealth(opsRunnerOf(ctx), queue);

/** Runbook "Stuck leases". */
export const stuckLeases = (ctx: Context): Promise<StuckLeases> => diagnostics.stuckLeases(opsRunnerOf(ctx));

/** Runbook "Performance SLOs" over the last `windowMinutes` (1 minute to 7 days). */
export async function kernelSlos(ctx: Context, windowMinutes: number): Promise<KernelSlo[]> {
  if (!Number.isInteger(windowMinutes) || windowMinutes < 1 || windowMinutes > 7 * 24 * 60) {
    throw createBadUserInputError('windowMinutes must be a whole number from 1 to 10080', 'windowMinutes');
  }
  return diagnostics.kernelSlos(opsRunnerOf(ctx), windowMinutes);
}

/** Runbook "Gap severity": the worst gaps first. */
export async function gapSeverity(ctx: Context, limit: number): Promise<GapSeverity[]> {
  checkPageSize('limit', limit);
  return diagnostics.gapSeverity(opsRunnerOf(ctx), limit);
}

/** Runbook "Discovery Queue Backlog: inspect errors". */
export async function discoveryErrors(ctx: Context, limit: number): Promise<DiscoveryError[]> {
  checkPageSize('limit', limit);
  return diagnostics.discoveryErrors(opsRunnerOf(ctx), limit);
}

export const vectorHealth = (ctx: Context): Promise<VectorHealth> => readVectorHealth(opsRunnerOf(ctx));

export const alerts = (ctx: Context): Promise<Alert[]> =>
  diagnostics.alerts(opsRunnerOf(ctx), ctx.config.ops.alerts, ctx.replicas.status());

/** This gateway's read replicas (DATABASE_READ_URLS), as its monitor last saw them. */
export const replicas = (ctx: Context): ReplicaStatus[] => ctx.replicas.status();

export const tableBloat = (ctx: Context): Promise<(TableBloat & { bloated: boolean })[]> =>
  diagnostics.tableBloat(opsRunnerOf(ctx), ctx.config.ops.alerts);

export const backfill = (ctx: Context): Promise<BackfillProgress | null> =>
  backfillProgress(opsRunnerOf(ctx));

const auditKey = z.tuple([z.string().regex(/^\d{1,19}$/)]);

/** The audit log, newest first, keyset-paged on id (ids grow with time). */
export async function auditLog(
  ctx: Context,
  args: ConnectionArgs & {
    action?: string | null;
    actor?: string | null;
    since?: Date | null;
    until?: Date | null;
  },
): Promise<Connection<AuditEntry>> {
  const request = pageRequest(args, auditKey);
  // A user id, or a handle as the console shows it (@alice) or not (Alice). Left out: every actor; given
  // but blank ("", "@", spaces) is a mistake, not "every actor".
  const actor = args.actor == null ? null : args.actor.trim().replace(/^@/, '').toLowerCase();
  if (actor !== null && (actor.length === 0 || actor.length > 64)) {
    throw createBadUserInputError(
      'actor must be a user id or a handle (leave it out for every actor)',
      'actor',
    );
  }
  const actorIsId = actor !== null && isUuid(actor);
  if (args.since && args.until && args.since.getTime() >= args.until.getTime()) {
    throw createBadUserInputError('since must be before until', 'since');
  }
  const rows = await diagnostics.auditLog(opsRunnerOf(ctx), {
    forward: request.direction === 'forward',
    cursor: request.cursor?.[0] ?? null,
    action: args.action ?? null,
    actorId: actorIsId ? actor : null,
    actorHandle: actorIsId ? null : actor,
    since: args.since ?? null,
    until: args.until ?? null,
    limit: request.size + 1,
  });
  return toConnection(request, rows, (row) => [row.id] as const);
}

export const flags = (ctx: Context): Promise<Flag[]> => diagnostics.flags(opsRunnerOf(ctx));

/** Complaint counts of every flag, read once per request however many flags ask. */
const complaintsOfRequest = new WeakMap<Context, Promise<Map<string, number>>>();

export async function flagComplaints(ctx: Context, key: string): Promise<number> {
  let all = complaintsOfRequest.get(ctx);
  if (!all) {
    const runner = opsRunnerOf(ctx);
    all = diagnostics.flagComplaints(runner, runner.rollouts.windowSec);
    complaintsOfRequest.set(ctx, all);
  }
  return (await all).get(key) ?? 0;
}

/**
 * A request's flag histories, batched: every flag of a level (ops.flags) in one statement per `limit`
 * asked for, not one transaction per flag.
 */
const historyLoaders = new WeakMap<Context, DataLoader<string, FlagChange[]>>();

export async function flagHistory(ctx: Context, key: string, limit: number): Promise<FlagChange[]> {
  checkPageSize('limit', limit);
  let loader = historyLoaders.get(ctx);
  if (!loader) {
    const runner = opsRunnerOf(ctx);
    // Batching only, no cache: a later mutation in the same document must see its own change.
    loader = new DataLoader<string, FlagChange[]>(
      async (requests) => {
        // Keys are `${limit}\n${flag key}`: one statement per distinct limit (normally one).
        const byLimit = new Map<number, string[]>();
        for (const request of requests) {
          const [limitText = '', flagKey = ''] = request.split('\n');
          byLimit.set(Number(limitText), [...(byLimit.get(Number(limitText)) ?? []), flagKey]);
        }
        const results = new Map<string, FlagChange[]>();
        for (const [n, keys] of byLimit) {
          const histories = await diagnostics.flagHistories(runner, keys, n);
          for (const flagKey of keys) results.set(`${n}\n${flagKey}`, histories.get(flagKey) ?? []);
        }
        return requests.map((request) => results.get(request) ?? []);
      },
      { cache: false },
    );
    historyLoaders.set(ctx, loader);
  }
  return loader.load(`${limit}\n${key}`);
}

/**
 * A chart's window: `since` (default an hour ago) to `until` (default now), at most `maxPoints` buckets.
 * A window reaching back past the 7 days kept starts where the history does.
 */
function historyWindow(args: {
  since?: Date | null;
  until?: Date | null;
  maxPoints?: number | null;
}): HistoryWindow {
  const now = Date.now();
  const until = args.until ?? new Date(now);
  const since = args.since ?? new Date(until.getTime() - 3600_000);
  if (since.getTime() >= until.getTime()) {
    throw createBadUserInputError('since must be before until', 'since');
  }
  const maxPoints = args.maxPoints ?? 360;
  if (!Number.isInteger(maxPoints) || maxPoints < 1 || maxPoints > MAX_HISTORY_POINTS) {
    throw createBadUserInputError(
      `maxPoints must be a whole number from 1 to ${MAX_HISTORY_POINTS}`,
      'maxPoints',
    );
  }
  const oldest = new Date(now - HISTORY_RETENTION_MS);
  return { since: since < oldest ? oldest : since, until, maxPoints };
}

/** The console's charts: queue health and alert inputs as the worker snapshots them each minute. */
export async function opsHistory(
  ctx: Context,
  args: { metrics: readonly string[]; since?: Date | null; until?: Date | null; maxPoints?: number | null },
): Promise<OpsSeries[]> {
  const known = new Set<string>(OPS_METRICS);
  const unknown = args.metrics.filter((m) => !known.has(m));
  if (args.metrics.length === 0 || unknown.length > 0) {
    throw createBadUserInputError(
      `${unknown.length > 0 ? `unknown metric ${JSON.stringify(unknown[0])}` : 'no metric asked for'}: metrics are ${OPS_METRICS.join(', ')}`,
      'metrics',
    );
  }
  return history.opsHistory(opsRunnerOf(ctx), [...new Set(args.metrics)] as OpsMetric[], historyWindow(args));
}

/** Per kernel p50/p95/p99 and error rate over time, from the latency samples. */
export const kernelLatencyHistory = (
  ctx: Context,
  args: { kernel?: string | null; since?: Date | null; until?: Date | null; maxPoints?: number | null },
): Promise<KernelLatencySeries[]> =>
  history.kernelLatencyHistory(opsRunnerOf(ctx), args.kernel ?? null, historyWindow(args));

/** Per flag and variant: exposed requests, errors and p95 over time. */
export const flagExposureHistory = (
  ctx: Context,
  args: { key?: string | null; since?: Date | null; until?: Date | null; maxPoints?: number | null },
): Promise<FlagExposureSeries[]> =>
  history.flagExposureHistory(opsRunnerOf(ctx), args.key ?? null, historyWindow(args));
