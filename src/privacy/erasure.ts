import type pg from 'pg';

/**
 * Erasure requests (issue #19, docs/privacy.md#erasure): opening one (`requestErasure`, from
 * deleteMyAccount or the admin's eraseUser), which stops the account's tokens at once, and listing them
 * for admins. The worker carries them out (src/privacy/erasureJob.ts). The SQL is in migration
 * 20261210010000_user_erasure.
 */

export type ErasureStatus = 'queued' | 'running' | 'done';

/** The steps of an erasure, in the order erasure_step takes them (docs/privacy.md#erasure). */
export const ERASURE_STEPS = [
  'drain',
  'learning_events',
  'intent_signals',
  'likes',
  'comments',
  'follows',
  'hidden_listings',
  'user_interests',
  'idempotency_keys',
  'feed_viewer_candidates',
  'flag_problem_reports',
  'listings',
  'profile',
  'references',
  'redis',
  'done',
] as const;

const stepRank = (step: string): number => {
  const rank = (ERASURE_STEPS as readonly string[]).indexOf(step);
  return rank < 0 ? ERASURE_STEPS.length : rank;
};

export interface ErasureRequest {
  id: string;
  status: ErasureStatus;
  step: string;
  requestedBy: 'self' | 'admin';
  requestedAt: Date;
  /** False when the person already had an open request (this is that one). */
  created: boolean;
}

const requestErasureSql = `
SELECT id::text, status, step, requested_by, requested_at, created FROM request_user_erasure($1::uuid)`;

/**
 * Opens the erasure of `userId` (or returns the open one) in the caller's transaction, which must carry
 * the caller's identity: the person themself or an admin (the function refuses anyone else). Null when
 * no profile has that id.
 */
export async function requestErasure(
  client: Pick<pg.PoolClient, 'query'>,
  userId: string,
): Promise<ErasureRequest | null> {
  const { rows } = await client.query<{
    id: string;
    status: ErasureStatus;
    step: string;
    requested_by: 'self' | 'admin';
    requested_at: Date;
    created: boolean;
  }>(requestErasureSql, [userId]);
  const row = rows[0];
  if (!row) return null;
  return {
    id: row.id,
    status: row.status,
    step: row.step,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at,
    created: row.created,
  };
}

/** An erasure request as admins see it (ops.erasureRequests). */
export interface ErasureRequestView {
  id: string;
  /** The person, while the request is open; null once done (the request forgot them). */
  userId: string | null;
  status: ErasureStatus;
  step: string;
  requestedBy: 'self' | 'admin';
  /** Rows each step changed so far, in step order. */
  rowsDone: { step: string; rows: number }[];
  batches: number;
  attempts: number;
  lastError: string | null;
  requestedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/** Open requests first (oldest first), then the latest finished ones. Admins only (RLS). */
const listErasureRequestsSql = `
SELECT id::text, user_id::text, status, step, requested_by, rows_done, batches, attempts, last_error,
       requested_at, updated_at, finished_at
FROM erasure_requests
ORDER BY status = 'done', CASE WHEN status = 'done' THEN -id ELSE id END
LIMIT $1`;

export async function listErasureRequests(
  client: Pick<pg.PoolClient, 'query'>,
  limit: number,
): Promise<ErasureRequestView[]> {
  const { rows } = await client.query<{
    id: string;
    user_id: string | null;
    status: ErasureStatus;
    step: string;
    requested_by: 'self' | 'admin';
    rows_done: Record<string, number>;
    batches: number;
    attempts: number;
    last_error: string | null;
    requested_at: Date;
    updated_at: Date;
    finished_at: Date | null;
  }>(listErasureRequestsSql, [limit]);
  return rows.map((row) => ({
    id: row.id,
    userId: row.user_id,
    status: row.status,
    step: row.step,
    requestedBy: row.requested_by,
    rowsDone: Object.entries(row.rows_done)
      .map(([step, rows]) => ({ step, rows: Number(rows) }))
      .sort((a, b) => stepRank(a.step) - stepRank(b.step)),
    batches: row.batches,
    attempts: row.attempts,
    lastError: row.last_error,
    requestedAt: row.requested_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  }));
}
