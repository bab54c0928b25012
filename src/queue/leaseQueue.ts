import type pg from 'pg';

/** A pool or a client (a transaction's client when the call must commit with the handler's work). */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** The two queues and how each spells "being worked on". */
export const QUEUES = {
  // events_queue keeps a per-item limit (default 5); discovery items all use MAX_ATTEMPTS.
  events: { table: 'events_queue', leased: 'leased', maxAttempts: 'max_attempts' },
  discovery: { table: 'marketplace_discovery_queue', leased: 'processing', maxAttempts: '5' },
} as const;

export type QueueName = keyof typeof QUEUES;

/** Failures before an item stays in `error` until requeued (the runbook's threshold). */
export const MAX_ATTEMPTS = 5;

export interface LeasedItem {
  id: string;
  leaseToken: string;
  /** Failed attempts before this one. */
  attempts: number;
  row: Record<string, unknown>;
}

/** A handler error that retrying cannot fix: the item goes to `error` at once. */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/**
 * Backoff before retry n (1-based): 2^n seconds × uniform(0.5, 1.5), so items that failed together do
 * not retry together; at most 5 minutes.
 */
export function backoffSeconds(failedAttempts: number, random: () => number = Math.random): number {
  return Math.min(300, Math.min(300, 2 ** failedAttempts) * (0.5 + random()));
}

export interface LeaseQueue {
  readonly name: QueueName;
  /** Claims up to `limit` runnable items (queued and due), each with a fresh lease. */
  claim(client: Queryable, limit: number, leaseMs: number): Promise<LeasedItem[]>;
  /** Extends a lease; false when it was lost (expired and taken, or requeued). */
  heartbeat(client: Queryable, item: LeasedItem, leaseMs: number): Promise<boolean>;
  /** Marks done; only with the current lease token. Run it in the handler's transaction. */
  complete(client: Queryable, item: LeasedItem): Promise<boolean>;
  /** Records a failure: retry later with backoff, or `error` after MAX_ATTEMPTS or a permanent error. */
  fail(client: Queryable, item: LeasedItem, error: Error): Promise<boolean>;
  /** Gives a lease back unfinished (shutdown): queued again at once, no attempt counted. */
  release(client: Queryable, item: LeasedItem): Promise<boolean>;
  /**
   * Expired leases back to queued (at most `limit`): the runbook's requeue statement, run by every
   * worker and by the ops requeue actions.
   */
  reclaimExpired(client: Queryable, limit?: number): Promise<number>;
}

export function createLeaseQueue(name: QueueName): LeaseQueue {
  const { table, leased, maxAttempts } = QUEUES[name];
  // Table and status names come from the constant above, never from input.
  const claimSql = `
WITH next AS (
  SELECT id FROM ${table} WHERE status = 'queued' AND run_after <= now()
  ORDER BY run_after, id LIMIT $1 FOR UPDATE SKIP LOCKED
)
UPDATE ${table} q
   SET status = '${leased}', lease_token = gen_random_uuid(),
       lease_expires_at = now() + make_interval(secs => $2)
  FROM next WHERE q.id = next.id
RETURNING q.*`;
  const ownedBy = `id = $1 AND lease_token = $2 AND status = '${leased}'`;
  const heartbeatSql = `UPDATE ${table} SET lease_expires_at = now() + make_interval(secs => $3) WHERE ${ownedBy}`;
  const completeSql = `UPDATE ${table} SET status = 'done', lease_token = NULL, lease_expires_at = NULL WHERE ${ownedBy}`;
  const failSql = `
UPDATE ${table}
   SET attempts = attempts + 1, last_error = left($3, 2000),
       status = CASE WHEN $4 OR attempts + 1 >= ${maxAttempts} THEN 'error' ELSE 'queued' END,
       run_after = CASE WHEN $4 OR attempts + 1 >= ${maxAttempts} THEN now()
                        ELSE now() + make_interval(secs => $5) END,
       lease_token = NULL, lease_expires_at = NULL
 WHERE ${ownedBy}`;
  const releaseSql = `UPDATE ${table} SET status = 'queued', lease_token = NULL, lease_expires_at = NULL WHERE ${ownedBy}`;
  // LIMIT NULL is no limit: the worker takes every expired lease, the ops action a bounded batch.
  const reclaimSql = `
UPDATE ${table} SET status = 'queued', lease_token = NULL, lease_expires_at = NULL
 WHERE id IN (SELECT id FROM ${table} WHERE status = '${leased}' AND lease_expires_at < now() LIMIT $1)
   AND status = '${leased}' AND lease_expires_at < now()`;

  return {
    name,
    async claim(client, limit, leaseMs) {
      const { rows } = await client.query<
        Record<string, unknown> & { id: string; lease_token: string; attempts: number }
      >(claimSql, [limit, leaseMs / 1000]);
      return rows.map((row) => ({
        id: String(row.id),
        leaseToken: row.lease_token,
        attempts: row.attempts,
        row,
      }));
    },
    async heartbeat(client, item, leaseMs) {
      return (await client.query(heartbeatSql, [item.id, item.leaseToken, leaseMs / 1000])).rowCount === 1;
    },
    async complete(client, item) {
      return (await client.query(completeSql, [item.id, item.leaseToken])).rowCount === 1;
    },
    async fail(client, item, error) {
      const permanent = error instanceof PermanentJobError;
      const result = await client.query(failSql, [
        item.id,
        item.leaseToken,
        error.message,
        permanent,
        backoffSeconds(item.attempts + 1),
      ]);
      return result.rowCount === 1;
    },
    async release(client, item) {
      return (await client.query(releaseSql, [item.id, item.leaseToken])).rowCount === 1;
    },
    async reclaimExpired(client, limit) {
      return (await client.query(reclaimSql, [limit ?? null])).rowCount ?? 0;
    },
  };
}
