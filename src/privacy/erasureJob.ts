import type pg from 'pg';
import { withClient, withTransaction } from '../db/checkout.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { inSpan } from '../platform/tracing.js';
import { deleteMany, scanKeys, type RedisClient } from '../platform/redis.js';

/**
 * The worker's side of an erasure (issue #19, docs/privacy.md#erasure): it claims an open request under
 * a lease and runs its steps in bounded batches (`eraseNext`), each committed with the request's progress
 * by erasure_step (migration 20261210010000_user_erasure), so a worker killed mid-way leaves the next one
 * exactly where it stopped; then the person's Redis keys, then done.
 */

export interface ErasureOptions {
  /** Rows per batch (one transaction each). @default 500 */
  batch?: number;
  /** Lease on a request; every batch extends it. @default 30000 */
  leaseMs?: number;
  /** Wait before a failed request is tried again. @default 5000 */
  retryMs?: number;
  /** Pause between checks while the request settles or the person's queued events drain. @default 500 */
  drainPollMs?: number;
  /**
   * How long after the request the erasure starts: requests of the person that passed the role check on
   * another gateway just before (AUTH_ROLE_CACHE_MS + STATEMENT_TIMEOUT_MS) finish first. @default 0
   */
  settleMs?: number;
  /**
   * The co-engagement rules the likes' reversal follows: the worker's (COENGAGEMENT_PARAMS of
   * src/feed/coengagement.ts, passed in so privacy/ stays below feed/).
   */
  coengagement: { userLikes: number; minSupport: number; topK: number };
  /** Prefix of every Redis key (REDIS_KEY_PREFIX). */
  redisKeyPrefix: string;
  /** Drops the cached features of listings and people a batch changed (the worker's invalidation). */
  invalidate?: (ids: { users?: string[]; listings?: number[] }) => Promise<void>;
  /** Stop after this many batches (tests: a worker "killed" mid-way). */
  maxBatches?: number;
  /** Stops between batches when aborted (the worker shutting down); the lease then runs out. */
  signal?: AbortSignal;
  /** Called after every committed batch. */
  onBatch?: (progress: { requestId: string; step: string; rows: number }) => void;
}

export type ErasureOutcome =
  | { kind: 'idle' }
  | { kind: 'done'; requestId: string; batches: number }
  | { kind: 'stopped'; requestId: string; batches: number; reason: 'max-batches' | 'lost-lease' | 'aborted' }
  | { kind: 'failed'; requestId: string; error: Error };

const claimSql = `SELECT id::text, lease_token::text, user_id::text, step FROM erasure_claim($1)`;
const stepSql = `
SELECT step, rows_changed, status, stale_listings, stale_users::text[] AS stale_users
FROM erasure_step($1, $2, $3, $4, $5, $6, $7, $8)`;
const failSql = `SELECT erasure_fail($1, $2, $3, $4) AS kept`;
const renewSql = `SELECT erasure_renew($1, $2, $3) AS renewed`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const isLostLease = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '55000';

class LostLeaseError extends Error {
  readonly code = '55000';
}

/**
 * Every Redis key that names the person (features, rate-limit counters, read fences, experiment arms:
 * each key has their id in it), on every master of a cluster. `onPage` runs after each SCAN page (the
 * caller renews its lease there). Refuses (throws) when Redis is not connected or a cluster's masters
 * are unknown, so an erasure never counts a sweep it could not do. Returns how many keys were deleted.
 */
export async function deleteUserKeys(
  redis: RedisClient,
  userId: string,
  keyPrefix: string,
  onPage?: () => Promise<void>,
): Promise<number> {
  const keys = await scanKeys(redis, `*${userId}*`, { keyPrefix, onPage });
  await deleteMany(redis, keys);
  return keys.length;
}

/**
 * Claims the oldest open erasure request and works it to the end: batches until it is done, it waits
 * on the person's queued events (polling), the lease is lost, or `maxBatches` ran out. Redis is required
 * for the last step when configured (null: no Redis keys exist to delete); a failure is recorded on the
 * request and retried after `retryMs`, by this worker or another.
 */
export async function eraseNext(
  pool: pg.Pool,
  redis: RedisClient | null,
  options: ErasureOptions,
): Promise<ErasureOutcome> {
  const batch = options.batch ?? 500;
  const leaseMs = options.leaseMs ?? 30_000;
  const retryMs = options.retryMs ?? 5000;
  const drainPollMs = options.drainPollMs ?? 500;
  const settleMs = options.settleMs ?? 0;
  const params = options.coengagement;
  const claimed = await withClient(pool, (client) =>
    client.query<{ id: string; lease_token: string; user_id: string; step: string }>(claimSql, [leaseMs]),
  );
  const request = claimed.rows[0];
  if (!request) return { kind: 'idle' };
  const { id: requestId, lease_token: lease, user_id: userId } = request;
  let batches = 0;
  // A long sweep renews the lease every third of it; losing it stops the sweep.
  let renewedAt = performance.now();
  const renew = async () => {
    if (performance.now() - renewedAt < leaseMs / 3) return;
    const { rows } = await withClient(pool, (client) =>
      client.query<{ renewed: boolean }>(renewSql, [requestId, lease, leaseMs]),
    );
    if (rows[0]?.renewed !== true) throw new LostLeaseError(`lost the lease of erasure ${requestId}`);
    renewedAt = performance.now();
  };
  const sweepRedis = async () => {
    if (redis) await deleteUserKeys(redis, userId, options.redisKeyPrefix, renew);
  };
  try {
    // A worker stopped between the database's last step and Redis: the keys go before it is marked done.
    if (request.step === 'redis') await sweepRedis();
    for (;;) {
      if (options.maxBatches !== undefined && batches >= options.maxBatches) {
        return { kind: 'stopped', requestId, batches, reason: 'max-batches' };
      }
      if (options.signal?.aborted) return { kind: 'stopped', requestId, batches, reason: 'aborted' };
      // Each batch is a trace of its own (`erasure step`), its statement under it.
      const { rows } = await inSpan(
        'erasure step',
        { 'lodestar.erasure': requestId },
        () =>
          withTransaction(pool, (client) =>
            client.query<{
              step: string;
              rows_changed: number;
              status: string;
              stale_listings: number[];
              stale_users: string[];
            }>(stepSql, [
              requestId,
              lease,
              leaseMs,
              batch,
              settleMs,
              params.userLikes,
              params.minSupport,
              params.topK,
            ]),
          ),
        { root: true },
      );
      batches += 1;
      renewedAt = performance.now();
      const row = rows[0];
      if (!row) throw new Error(`erasure_step returned nothing for request ${requestId}`);
      options.onBatch?.({ requestId, step: row.step, rows: row.rows_changed });
      if (options.invalidate && (row.stale_listings.length > 0 || row.stale_users.length > 0)) {
        // After the commit, as every write of the worker does; a failure only leaves features to expire.
        await options
          .invalidate({ listings: row.stale_listings, users: row.stale_users })
          .catch(() => undefined);
      }
      if (row.status === 'done') return { kind: 'done', requestId, batches };
      if (row.status === 'waiting') await sleep(drainPollMs);
      if (row.status === 'redis') await sweepRedis();
    }
  } catch (error) {
    if (isLostLease(error)) return { kind: 'stopped', requestId, batches, reason: 'lost-lease' };
    const failure = coerceError(error);
    await withClient(pool, (client) =>
      client.query(failSql, [requestId, lease, failure.message, retryMs]),
    ).catch(() => undefined);
    return { kind: 'failed', requestId, error: failure };
  }
}

/** The worker's erasure loop: works open requests one after another, polling when there are none. */
export function startErasureLoop(
  pool: pg.Pool,
  redis: RedisClient | null,
  options: ErasureOptions & { pollMs: number; logger: Logger },
): { stop: () => Promise<void> } {
  const { logger, pollMs } = options;
  const abort = new AbortController();
  let wake: (() => void) | null = null;
  const loop = (async () => {
    while (!abort.signal.aborted) {
      let outcome: ErasureOutcome;
      try {
        outcome = await eraseNext(pool, redis, { ...options, signal: abort.signal });
      } catch (error) {
        logger.warn({ err: coerceError(error) }, 'erasure: could not claim a request');
        outcome = { kind: 'idle' };
      }
      if (outcome.kind === 'done') logger.info({ erasure: outcome.requestId }, 'erasure finished');
      if (outcome.kind === 'failed') {
        logger.warn(
          { err: outcome.error, erasure: outcome.requestId },
          'erasure batch failed; retrying later',
        );
      }
      if (outcome.kind === 'stopped' && outcome.reason === 'lost-lease') {
        logger.warn({ erasure: outcome.requestId }, 'erasure: lost the lease; another worker may go on');
      }
      if (outcome.kind !== 'done') {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, pollMs).unref();
        });
        wake = null;
      }
    }
  })();
  return {
    stop: async () => {
      abort.abort();
      wake?.();
      await loop;
    },
  };
}
