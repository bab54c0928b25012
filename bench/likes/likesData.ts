import { createSfc32 } from '../../src/random/createSfc32.js';
import { withClient } from '../shared/database.js';

/**
 * The likes phase's data: the users who like (none of them a feed viewer), the active listings they
 * like, and the clean-up that takes every like the phase made back out with its outbox row and
 * idempotency key, so the dataset's counts are what they were and repeated runs compare.
 */

/** Every idempotency key the phase sends starts with this, so the clean-up finds them all. */
export const BENCH_KEY_PREFIX = 'bench-likes:';

export interface LikerUser {
  userId: string;
  /** Listings this user already likes (seeded): a bench like must skip them to be a real insert. */
  liked: ReadonlySet<number>;
}

/**
 * `count` users, the last by id with role `user`. The feed and features phases take the first 300 by
 * id, so these likes never change a feed viewer's features, and no like finds an impression of the
 * listing to reward (the likes_reward trigger would then also reinforce interests and recompute the
 * profile embedding, a different and much heavier write).
 */
export async function pickLikers(url: string, count: number): Promise<LikerUser[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ user_id: string; liked: number[] | null }>(
      `SELECT p.user_id, (SELECT array_agg(k.listing_id) FROM likes k WHERE k.user_id = p.user_id) AS liked
         FROM profiles p WHERE p.role = 'user' ORDER BY p.user_id DESC LIMIT $1`,
      [count],
    );
    if (rows.length < count) {
      throw new Error(`the likes phase needs ${count} users; the bench database has ${rows.length}`);
    }
    return rows.map((r) => ({ userId: r.user_id, liked: new Set(r.liked ?? []) }));
  });
}

/**
 * The active listings' ids in a fixed, seeded shuffle: a worker's likes spread over the whole table,
 * as real likes do, instead of walking neighbouring rows (and pages) in id order.
 */
export async function activeListings(url: string, seed: number): Promise<number[]> {
  const ids = await withClient(url, async (client) => {
    const { rows } = await client.query<{ id: number }>(
      `SELECT id FROM marketplace_listings WHERE status = 'active' ORDER BY id`,
    );
    return rows.map((r) => r.id);
  });
  const next = createSfc32(seed, 0x6c696b65, 0x73, 0);
  for (let i = ids.length - 1; i > 0; i -= 1) {
    const j = next() % (i + 1);
    const swap = ids[i] as number;
    ids[i] = ids[j] as number;
    ids[j] = swap;
  }
  return ids;
}

/** Dataset totals the phase must leave as it found them. */
export interface LikeTotals {
  likes: number;
  /** Sum of marketplace_listings.like_count: the trigger-maintained counters. */
  likeCountSum: number;
  outboxRows: number;
  idempotencyKeys: number;
}

export async function likeTotals(url: string): Promise<LikeTotals> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<Record<'likes' | 'sum' | 'outbox' | 'keys', string>>(
      `SELECT (SELECT count(*) FROM likes) AS likes,
              (SELECT coalesce(sum(like_count), 0) FROM marketplace_listings) AS sum,
              (SELECT count(*) FROM events_queue) AS outbox,
              (SELECT count(*) FROM idempotency_keys) AS keys`,
    );
    const r = rows[0];
    return {
      likes: Number(r?.likes ?? 0),
      likeCountSum: Number(r?.sum ?? 0),
      outboxRows: Number(r?.outbox ?? 0),
      idempotencyKeys: Number(r?.keys ?? 0),
    };
  });
}

export interface LikesCleanup {
  likes: number;
  outboxRows: number;
  idempotencyKeys: number;
  vacuumSec: number;
}

/**
 * Deletes what likeListing wrote: every like that has a `like.created` outbox row (each real like
 * enqueues exactly one in its own transaction, and in the bench database nothing else writes likes
 * or consumes events_queue, so these are the bench's likes, an interrupted earlier run's included),
 * those rows, and the idempotency keys under BENCH_KEY_PREFIX. The likes_count trigger takes each
 * deleted like off its listing's like_count. Then VACUUM, because autovacuum is off on this server
 * and every like and its deletion leave a dead version of a 1.6 KB listing row behind (plain VACUUM:
 * ANALYZE would re-sample the listings' statistics and could change the feed's plans).
 */
export async function cleanUpLikes(url: string): Promise<LikesCleanup> {
  return withClient(url, async (client) => {
    await client.query('BEGIN');
    const likes = await client.query(
      `DELETE FROM likes k USING events_queue e
        WHERE e.kind = 'like.created'
          AND k.user_id = (e.payload ->> 'userId')::uuid AND k.listing_id = (e.payload ->> 'listingId')::integer`,
    );
    const outbox = await client.query(`DELETE FROM events_queue WHERE kind = 'like.created'`);
    const keys = await client.query(`DELETE FROM idempotency_keys WHERE key LIKE $1`, [
      `${BENCH_KEY_PREFIX}%`,
    ]);
    await client.query('COMMIT');
    const started = performance.now();
    await client.query('VACUUM likes, marketplace_listings, events_queue, idempotency_keys');
    return {
      likes: likes.rowCount ?? 0,
      outboxRows: outbox.rowCount ?? 0,
      idempotencyKeys: keys.rowCount ?? 0,
      vacuumSec: Math.round((performance.now() - started) / 100) / 10,
    };
  });
}
