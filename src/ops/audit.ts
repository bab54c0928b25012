import type pg from 'pg';
import type { OpsActor } from '../auth/actor.js';
import { coerceError } from '../errors/errors.js';

export interface AuditEntry {
  action: string;
  args: Record<string, unknown>;
  result: unknown;
  ok: boolean;
  error?: string;
  durationMs: number;
}

/** ops audit: who ran which admin action with what, and how it ended (one row per action). */
const insertAuditSql = `
INSERT INTO ops_audit (actor_id, actor_role, action, args, result, ok, error, duration_ms, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

const auditValues = (actor: OpsActor, entry: AuditEntry): unknown[] => [
  actor.id,
  actor.role,
  entry.action,
  JSON.stringify(entry.args),
  entry.result === undefined ? null : JSON.stringify(entry.result),
  entry.ok,
  entry.error ?? null,
  entry.durationMs,
  actor.requestId,
];

/**
 * Records an admin action in ops_audit and returns the row's id; pass the action's own client to
 * commit both together. RETURNING needs SELECT on ops_audit: only for roles that may read the audit
 * (the gateway's); a role that may only append to it (the worker) uses appendAudit.
 */
export async function recordAudit(
  client: Pick<pg.PoolClient, 'query'>,
  actor: OpsActor,
  entry: AuditEntry,
): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `${insertAuditSql} RETURNING id::text`,
    auditValues(actor, entry),
  );
  return rows[0]?.id ?? '';
}

/**
 * Appends an audit row without reading anything back: INSERT alone needs only INSERT on ops_audit,
 * which is all the worker role (lodestar_worker) has — it must not read other actors' audit rows.
 */
export async function appendAudit(
  client: Pick<pg.PoolClient, 'query'>,
  actor: OpsActor,
  entry: AuditEntry,
): Promise<void> {
  await client.query(insertAuditSql, auditValues(actor, entry));
}

/**
 * Runs an action and records it, success or failure, with its duration. Long actions commit in
 * batches, so the audit row is its own statement after them; a failure is recorded, then rethrown.
 */
export async function withAudit<T>(
  pool: Pick<pg.Pool, 'query'>,
  actor: OpsActor,
  action: string,
  args: Record<string, unknown>,
  run: () => Promise<T>,
): Promise<{ result: T; auditId: string; durationMs: number }> {
  const started = performance.now();
  try {
    const result = await run();
    const durationMs = performance.now() - started;
    const auditId = await recordAudit(pool, actor, { action, args, result, ok: true, durationMs });
    return { result, auditId, durationMs };
  } catch (error) {
    const failure = coerceError(error);
    await recordAudit(pool, actor, {
      action,
      args,
      result: undefined,
      ok: false,
      error: failure.message,
      durationMs: performance.now() - started,
    }).catch(() => undefined);
    throw failure;
  }
}
