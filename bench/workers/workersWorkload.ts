import type pg from 'pg';
import { createSfc32 } from '../../src/random/createSfc32.js';
import { withClient } from '../shared/database.js';

/**
 * The workers phase's events_queue items: the kinds the gateway's writes enqueue (src/social/*.ts),
 * with their payloads, for real users and listings of the bench database, so the handlers do their
 * real work (popularity, interest drift, profile recompute, feature-cache invalidation).
 */

/** Every item the phase enqueues has an idempotency key under this prefix; the clean-up finds them by it. */
export const WORKERS_KEY_PREFIX = 'bench-workers:';

/** Users the items belong to: enough that 16 items in flight rarely share one (they would queue on its rows). */
const USERS = 2000;
/**
 * Skipped users, by id: the feed and features viewers are the first 300 by id and the likes phase's
 * users the last 54, so the interest drift and profile recomputes here change none of theirs.
 */
const USER_OFFSET = 1000;
/** Listings per category the items pick from (liked, commented on, viewed), a fixed hashed sample. */
const LISTINGS_PER_CATEGORY = 1000;

/**
 * The mix, per 20 items. The handlers' work: like.created bumps popularity (+1) and drifts the liker's
 * interests in the listing's category (which recomputes their profile embedding at once, or enqueues
 * one `profile.recompute` per minute); like.deleted and comment.* move popularity; follow.created and
 * signal.recorded only complete the item. Every kind but those two also drops cached features in Redis.
 */
export const KIND_MIX = [
  ['like.created', 10],
  ['like.deleted', 1],
  ['comment.created', 2],
  ['comment.deleted', 1],
  ['follow.created', 2],
  ['signal.recorded', 4],
] as const;
const SLOTS = KIND_MIX.flatMap(([kind, n]) => Array.from({ length: n }, () => kind));

interface PlanListing {
  id: number;
  sellerId: string;
}

export interface WorkloadPlan {
  users: { userId: string; categories: number[] }[];
  listings: Map<number, PlanListing[]>;
  /** `user:listing` pairs liked in the seed: like events avoid them (see likedKey). */
  liked: Set<string>;
  seed: number;
}

/**
 * A like event never names a pair that is really liked: the likes phase's clean-up deletes the like
 * behind every `like.created` row, so an item left behind by an interrupted run must not point at a
 * seeded like.
 */
const likedKey = (userId: string, listingId: number) => `${userId}:${listingId}`;

export async function planWorkload(url: string, seed: number): Promise<WorkloadPlan> {
  return withClient(url, async (client) => {
    const users = await client.query<{ user_id: string; categories: number[] }>(
      `SELECT p.user_id, array_agg(DISTINCT ic.category_id ORDER BY ic.category_id) AS categories
         FROM profiles p
         JOIN user_interests ui ON ui.user_id = p.user_id
         JOIN interest_catalog ic ON ic.id = ui.interest_id
        WHERE p.role = 'user' AND ic.category_id IS NOT NULL
        GROUP BY p.user_id ORDER BY p.user_id OFFSET $1 LIMIT $2`,
      [USER_OFFSET, USERS],
    );
    if (users.rows.length < USERS) throw new Error(`the workers phase needs ${USER_OFFSET + USERS} users`);
    const listings = await client.query<{ id: number; seller_id: string; category_id: number }>(
      `SELECT id, seller_id, category_id FROM (
         SELECT id, seller_id, category_id,
                row_number() OVER (PARTITION BY category_id ORDER BY hashint4(id # $1), id) AS n
           FROM marketplace_listings WHERE status = 'active' AND seller_id IS NOT NULL) l
        WHERE n <= $2 ORDER BY category_id, id`,
      [seed, LISTINGS_PER_CATEGORY],
    );
    const byCategory = new Map<number, PlanListing[]>();
    for (const r of listings.rows) {
      const list = byCategory.get(r.category_id) ?? [];
      list.push({ id: r.id, sellerId: r.seller_id });
      byCategory.set(r.category_id, list);
    }
    const liked = await client.query<{ user_id: string; listing_id: number }>(
      `SELECT user_id, listing_id FROM likes WHERE user_id = ANY($1::uuid[]) AND listing_id = ANY($2::int[])`,
      [users.rows.map((u) => u.user_id), listings.rows.map((l) => l.id)],
    );
    return {
      users: users.rows
        .map((u) => ({ userId: u.user_id, categories: u.categories.filter((c) => byCategory.has(c)) }))
        .filter((u) => u.categories.length > 0),
      listings: byCategory,
      liked: new Set(liked.rows.map((r) => likedKey(r.user_id, r.listing_id))),
      seed,
    };
  });
}

/** Items as the three columns the INSERT takes. */
export interface ItemBatch {
  kinds: string[];
  payloads: string[];
  keys: string[];
}

/**
 * The same stream of items for every run (same seed, same order); only the idempotency keys differ,
 * by `tag`. commentId and signalId are not rows: no handler reads them.
 */
export function createItemSource(plan: WorkloadPlan) {
  const next = createSfc32(plan.seed, 0x776f726b, 0x657273, 0);
  const pick = <T>(list: readonly T[]): T => list[next() % list.length] as T;
  let g = 0;
  const one = (batch: ItemBatch, tag: string) => {
    const kind = SLOTS[g % SLOTS.length] ?? 'signal.recorded';
    const user = pick(plan.users);
    let listing = pick(plan.listings.get(pick(user.categories)) ?? []);
    for (let tries = 0; kind.startsWith('like.') && tries < 20; tries += 1) {
      if (!plan.liked.has(likedKey(user.userId, listing.id))) break;
      listing = pick(plan.listings.get(pick(user.categories)) ?? []);
    }
    const [userId, listingId, sellerId, id] = [user.userId, listing.id, listing.sellerId, String(g + 1)];
    const payload =
      kind === 'like.created' || kind === 'like.deleted'
        ? { userId, listingId, sellerId }
        : kind === 'comment.created'
          ? { commentId: id, listingId, userId, sellerId }
          : kind === 'comment.deleted'
            ? { commentId: id, listingId, userId }
            : kind === 'follow.created'
              ? { followerId: userId, followeeId: sellerId }
              : { signalId: id, userId, kind: 'view', listingId };
    batch.kinds.push(kind);
    batch.payloads.push(JSON.stringify(payload));
    batch.keys.push(`${WORKERS_KEY_PREFIX}${tag}:${g}`);
    g += 1;
  };
  return {
    /** The next `count` items, keyed `bench-workers:<tag>:<position in the stream>`. */
    take(count: number, tag: string): ItemBatch {
      const batch: ItemBatch = { kinds: [], payloads: [], keys: [] };
      for (let i = 0; i < count; i += 1) one(batch, tag);
      return batch;
    },
  };
}

/** One INSERT … SELECT for the whole batch; the ids it got (one statement: consecutive). */
export async function enqueueItems(
  client: pg.ClientBase,
  batch: ItemBatch,
): Promise<{ firstId: string; lastId: string; count: number }> {
  const { rows } = await client.query<{ first_id: string; last_id: string; n: number }>(
    `WITH ins AS (
       INSERT INTO events_queue (kind, payload, idempotency_key)
       SELECT kind, payload, key FROM unnest($1::text[], $2::jsonb[], $3::text[]) AS t(kind, payload, key)
       RETURNING id)
     SELECT min(id)::text AS first_id, max(id)::text AS last_id, count(*)::int AS n FROM ins`,
    [batch.kinds, batch.payloads, batch.keys],
  );
  const r = rows[0];
  if (!r || r.n !== batch.kinds.length) throw new Error('events_queue took fewer items than were sent');
  return { firstId: r.first_id, lastId: r.last_id, count: r.n };
}

/** Items per kind in the first `count` of a stream (the same for every run). */
export function kindCounts(count: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let g = 0; g < count; g += 1) {
    const kind = SLOTS[g % SLOTS.length] ?? 'signal.recorded';
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}
