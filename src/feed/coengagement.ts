import type pg from 'pg';
import { withTransaction } from '../db/checkout.js';

/**
 * Co-engagement, "liked together" (issue #16, item 4): for each listing its top neighbours by how many
 * people liked both, in listing_coengagement (migration 20261204020000_coengagement). The feed reads
 * it as a candidate source; the bulk rebuild (the importer's derived step, the worker's daily task) and
 * the worker's like events write it, through the SQL functions coengagement_rebuild_batch and
 * coengagement_apply_like with the parameters below. See docs/recommendations.md#co-engagement.
 */

/** Likes per user that count: each user's latest this many (a heavy user costs at most this² pairs). */
export const COENGAGEMENT_USER_LIKES = 100;
/** Pairs liked together by fewer users are not kept. */
export const COENGAGEMENT_MIN_SUPPORT = 2;
/** Neighbours kept per listing, the best by score. */
export const COENGAGEMENT_TOP_K = 100;
/** Listings per rebuild transaction. */
export const COENGAGEMENT_BATCH = 500;

/** What the SQL functions are given; the constants above unless a test or a caller narrows them. */
export interface CoengagementParams {
  userLikes: number;
  minSupport: number;
  topK: number;
}

export const COENGAGEMENT_PARAMS: CoengagementParams = {
  userLikes: COENGAGEMENT_USER_LIKES,
  minSupport: COENGAGEMENT_MIN_SUPPORT,
  topK: COENGAGEMENT_TOP_K,
};

/** Anything that runs a query: a pool or a checked-out client (a transaction). */
type Queryable = Pick<pg.PoolClient, 'query'>;

/** One rebuild batch's outcome: its last listing id (null: no listings were left), size and rows written. */
export interface CoengagementBatch {
  lastId: number | null;
  listings: number;
  changed: number;
}

/**
 * Rebuilds the rows of the `batch` listings after `after` (null = from the first) in the caller's
 * transaction; only differences are written. The caller must be the owner, an admin or the worker.
 */
export async function rebuildCoengagementBatch(
  db: Queryable,
  after: number | null,
  batch: number = COENGAGEMENT_BATCH,
  params: CoengagementParams = COENGAGEMENT_PARAMS,
): Promise<CoengagementBatch> {
  const { rows } = await db.query<{ last_id: number | null; listings: number; changed: string }>(
    'SELECT last_id, listings, changed FROM coengagement_rebuild_batch($1, $2, $3, $4, $5)',
    [after, batch, params.userLikes, params.minSupport, params.topK],
  );
  const row = rows[0];
  return { lastId: row?.last_id ?? null, listings: row?.listings ?? 0, changed: Number(row?.changed ?? 0) };
}

/**
 * The whole table rebuilt from likes, `batch` listings per transaction (row locks on one batch's rows
 * at a time). Returns the rows written: 0 when it was already up to date.
 */
export async function rebuildCoengagement(
  pool: pg.Pool,
  options: { batch?: number; params?: CoengagementParams } = {},
): Promise<number> {
  let after: number | null = null;
  let changed = 0;
  for (;;) {
    const from: number | null = after;
    const done: CoengagementBatch = await withTransaction(pool, (client) =>
      rebuildCoengagementBatch(client, from, options.batch, options.params),
    );
    changed += done.changed;
    if (done.lastId === null) return changed;
    after = done.lastId;
  }
}

/**
 * A like (`sign` 1, after its row was inserted) or an unlike (-1, after its row was deleted) applied
 * to the pairs it makes with the user's latest other likes, in the caller's transaction. Between
 * rebuilds this is an approximation the daily rebuild corrects (see the docs). Returns rows written.
 */
export async function applyLikeCoengagement(
  tx: Queryable,
  like: { userId: string; listingId: number },
  sign: 1 | -1,
  params: CoengagementParams = COENGAGEMENT_PARAMS,
): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    'SELECT coengagement_apply_like($1, $2, $3, $4, $5, $6) AS n',
    [like.userId, like.listingId, sign, params.userLikes, params.minSupport, params.topK],
  );
  return rows[0]?.n ?? 0;
}
