import type pg from 'pg';
import type { Context } from '../context.js';

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

/** Records an admin action in ops_audit; pass the action's own client to commit both together. */
export async function recordAudit(
  client: Pick<pg.PoolClient, 'query'>,
  ctx: Pick<Context, 'viewer' | 'requestId'>,
  entry: AuditEntry,
): Promise<void> {
  await client.query(insertAuditSql, [
    ctx.viewer.userId,
    ctx.viewer.role,
    entry.action,
    JSON.stringify(entry.args),
    entry.result === undefined ? null : JSON.stringify(entry.result),
    entry.ok,
    entry.error ?? null,
    entry.durationMs,
    ctx.requestId,
  ]);
}
