import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { UserViewer } from '../auth/viewer.js';
import type { Database } from '../db/database.js';
import { withIdentity } from '../db/identity.js';
import type { FeatureStore } from '../features/featureStore.js';
import { hasControlCharacters } from '../validation/hasControlCharacters.js';
import type { EventKind, EventPayloads } from '../queue/events.js';
import type { QueueWakeups } from '../queue/wakeups.js';
import {
  createBadUserInputError,
  createIdempotencyKeyInProgressError,
  createIdempotencyKeyReusedError,
} from '../errors/errors.js';
import { isLockNotAvailable } from '../errors/databaseErrors.js';

/** What a social write uses of the request: the signed-in viewer, the pool, the feature cache to invalidate. */
export interface WriteContext {
  viewer: UserViewer;
  db: Pick<Database, 'pool'>;
  features: Pick<FeatureStore, 'invalidate'>;
  /** Told after a commit that enqueued events, so an in-process worker takes them at once. */
  queueWakeups?: Pick<QueueWakeups, 'enqueued'>;
}

/** A mutation's first result: plain JSON, stored with the key and replayed from it. */
export type StoredResult = object;

export interface WriteRequest {
  /** The mutation's name; part of what a key is bound to. */
  operation: string;
  /** The argument or the Idempotency-Key header; null = no idempotency. */
  idempotencyKey: string | null | undefined;
  /** The normalised input (after validation): a key replays only for the same input. */
  input: Record<string, unknown>;
}

/** Keys are held while a request with the same key runs; longer than this and the second gives up. */
const KEY_WAIT_MS = 3000;

/** idempotency claim: this transaction owns the key unless another request stored it first. */
const claimKeySql = `
INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response) VALUES ($1, $2, $3, $4, 'null')
ON CONFLICT (user_id, key) DO NOTHING RETURNING key`;

/**
 * idempotency lookup: the stored first result; keys older than 24 h no longer count. FOR UPDATE: two
 * requests retaking one expired key take turns, so the second sees the first's fresh result.
 */
const storedKeySql = `
SELECT operation, request_hash, response, created_at > now() - interval '24 hours' AS fresh
FROM idempotency_keys WHERE user_id = $1 AND key = $2 FOR UPDATE`;

const retakeKeySql = `
UPDATE idempotency_keys SET operation = $3, request_hash = $4, response = 'null', created_at = now()
WHERE user_id = $1 AND key = $2`;

const storeResultSql = `UPDATE idempotency_keys SET response = $3 WHERE user_id = $1 AND key = $2`;

/** outbox: one events_queue item in the write's transaction, keyed by kind, user, transaction and sequence. */
const enqueueSql = `
INSERT INTO events_queue (kind, payload, idempotency_key)
VALUES ($1, $2, $1 || ':' || $3 || ':' || txid_current() || ':' || $4)`;

export interface WriteTx {
  client: pg.PoolClient;
  /** Adds a follow-up event to events_queue, committed (or not) with the change itself. */
  enqueue: <K extends EventKind>(kind: K, payload: EventPayloads[K]) => Promise<void>;
}

/** Checks an idempotency key: 1–255 characters, no control characters. */
export function normaliseIdempotencyKey(key: string | null | undefined): string | null {
  if (key == null) return null;
  if (key.length < 1 || key.length > 255 || hasControlCharacters(key, { singleLine: true })) {
    throw createBadUserInputError('idempotencyKey must be 1 to 255 printable characters', 'idempotencyKey');
  }
  return key;
}

/**
 * Runs one mutation in a transaction under the viewer's RLS identity. With an idempotency key: the same
 * key and input within 24 h return the first result with no second effect; a different input is
 * IDEMPOTENCY_KEY_REUSED; a concurrent request with the key waits for the first (up to 3 s) and replays
 * it, or gets IDEMPOTENCY_KEY_IN_PROGRESS. A failed attempt rolls its key back with everything else.
 */
export async function runWrite<R extends StoredResult>(
  ctx: WriteContext,
  request: WriteRequest,
  effect: (tx: WriteTx) => Promise<R>,
): Promise<{ result: R; replayed: boolean }> {
  const key = normaliseIdempotencyKey(request.idempotencyKey);
  const userId = ctx.viewer.userId;
  const hash = createHash('sha256')
    .update(JSON.stringify({ operation: request.operation, input: request.input }))
    .digest('hex');
  // Events enqueued by the attempt that committed (a failed attempt's roll back with it).
  let enqueued = 0;
  try {
    const outcome = await withIdentity(ctx.db.pool, ctx.viewer, async (client) => {
      if (key !== null) {
        await client.query(`SET LOCAL lock_timeout = ${KEY_WAIT_MS}`);
        const claimed = await client.query(claimKeySql, [userId, key, request.operation, hash]);
        if (claimed.rowCount === 0) {
          const { rows } = await client.query<{
            operation: string;
            request_hash: string;
            response: R;
            fresh: boolean;
          }>(storedKeySql, [userId, key]);
          const stored = rows[0];
          if (stored?.fresh) {
            if (stored.operation !== request.operation || stored.request_hash !== hash) {
              throw createIdempotencyKeyReusedError();
            }
            return { result: stored.response, replayed: true };
          }
          await client.query(retakeKeySql, [userId, key, request.operation, hash]);
        }
        // Only the wait for the key is bounded this way; the change itself runs under the statement timeout.
        await client.query('SET LOCAL lock_timeout = 0');
      }
      let sequence = 0;
      const tx: WriteTx = {
        client,
        enqueue: async (kind, payload) => {
          sequence += 1;
          await client.query(enqueueSql, [kind, JSON.stringify(payload), userId, sequence]);
        },
      };
      const result = await effect(tx);
      if (key !== null) await client.query(storeResultSql, [userId, key, JSON.stringify(result)]);
      enqueued = sequence;
      return { result, replayed: false };
    });
    // Committed: only now can a consumer see the items.
    if (enqueued > 0) ctx.queueWakeups?.enqueued('events');
    return outcome;
  } catch (error) {
    if (isLockNotAvailable(error)) throw createIdempotencyKeyInProgressError();
    throw error;
  }
}
