import { Redis } from 'ioredis';
import type { UserViewer } from '../../src/auth/viewer.js';
import type { WriteContext } from '../../src/social/runWrite.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import type { InProcess } from './gateway.js';
import { graphql } from './graphql.js';
import { insertCategory, insertListing, insertProfile, unique, type Queryable } from './fixtures.js';

/**
 * Support for the social-write tests: a small catalog to like, users in bulk, the mutations as the
 * client sends them, and readers for what a write leaves behind (likes, counts, outbox items, keys),
 * read as the owner past RLS.
 */

export const LIKE = graphql(`
  mutation Like($listingId: ID!, $key: String) {
    likeListing(listingId: $listingId, idempotencyKey: $key) {
      listing {
        id
        likeCount
      }
      liked
      changed
      likeCount
    }
  }
`);

export const UNLIKE = graphql(`
  mutation Unlike($listingId: ID!, $key: String) {
    unlikeListing(listingId: $listingId, idempotencyKey: $key) {
      listing {
        id
        likeCount
      }
      liked
      changed
      likeCount
    }
  }
`);

export const RATE_LIMITS = graphql(`
  query RateLimits {
    me {
      rateLimits {
        action
        limit
        remaining
        resetAt
      }
    }
  }
`);

export interface SocialWorld {
  categoryId: number;
  sellerId: string;
  /** Active listings, free to like. */
  listingIds: number[];
  /** A sold listing: liking it is refused. */
  soldListingId: number;
}

/**
 * A test database whose owner pool tolerates losing idle connections: pg-pool's end() resolves before
 * its clients' backends have exited, so DROP DATABASE ... WITH (FORCE) may terminate one (57P01), and a
 * pool without an 'error' listener turns that into an uncaught exception that fails the run.
 */
export async function createSocialDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  db.pool.on('error', () => undefined);
  return db;
}

/** One category with `listings` active listings and one sold one, all from one seller. */
export async function seedSocialWorld(q: Queryable, listings = 4): Promise<SocialWorld> {
  const categoryId = await insertCategory(q, unique('social-'));
  const sellerId = await insertProfile(q);
  const listingIds: number[] = [];
  for (let i = 0; i < listings; i += 1) listingIds.push(await insertListing(q, { categoryId, sellerId }));
  const soldListingId = await insertListing(q, { categoryId, sellerId, status: 'sold' });
  return { categoryId, sellerId, listingIds, soldListingId };
}

/** `n` new profiles in one statement, as signed-in viewers. */
export async function insertUsers(q: Queryable, n: number): Promise<UserViewer[]> {
  const handle = unique('s_');
  const { rows } = await q.query<{ user_id: string }>(
    `INSERT INTO profiles (handle, display_name)
     SELECT $1 || '_' || i, $1 || '_' || i FROM generate_series(1, $2::int) AS i RETURNING user_id`,
    [handle, n],
  );
  return rows.map((r) => ({ role: 'user', userId: r.user_id }));
}

export const userViewer = (userId: string): UserViewer => ({ role: 'user', userId });

/** The listing's denormalised like_count and the number of like rows it counts. */
export async function likeState(
  q: Queryable,
  listingId: number,
): Promise<{ likeCount: number; rows: number }> {
  const { rows } = await q.query<{ like_count: number; rows: number }>(
    `SELECT like_count, (SELECT count(*)::int FROM likes WHERE listing_id = $1) AS rows
       FROM marketplace_listings WHERE id = $1`,
    [listingId],
  );
  const row = rows[0];
  if (!row) throw new Error(`no listing ${listingId}`);
  return { likeCount: row.like_count, rows: row.rows };
}

export async function hasLike(q: Queryable, userId: string, listingId: number): Promise<boolean> {
  const { rows } = await q.query('SELECT 1 FROM likes WHERE user_id = $1 AND listing_id = $2', [
    userId,
    listingId,
  ]);
  return rows.length === 1;
}

export interface OutboxItem {
  kind: string;
  payload: { userId: string; listingId: number; sellerId: string | null };
  idempotency_key: string;
}

/** The outbox items about one listing, oldest first. */
export async function outboxFor(q: Queryable, listingId: number): Promise<OutboxItem[]> {
  const { rows } = await q.query<OutboxItem>(
    `SELECT kind, payload, idempotency_key FROM events_queue
      WHERE kind LIKE 'like.%' AND (payload->>'listingId')::int = $1 ORDER BY id`,
    [listingId],
  );
  return rows;
}

/** The stored idempotency keys of one user. */
export async function storedKeys(
  q: Queryable,
  userId: string,
): Promise<{ key: string; operation: string; response: unknown }[]> {
  const { rows } = await q.query<{ key: string; operation: string; response: unknown }>(
    'SELECT key, operation, response FROM idempotency_keys WHERE user_id = $1 ORDER BY key',
    [userId],
  );
  return rows;
}

/**
 * A write context for calling the service layer directly. runWrite reads only `db` and `viewer`;
 * likeListing also invalidates features after commit. The rest of the context is never touched there.
 */
export function serviceContext(harness: Pick<InProcess, 'database' | 'features'>, viewer: UserViewer) {
  const parts: Pick<WriteContext, 'db' | 'viewer' | 'features'> = {
    db: harness.database,
    viewer,
    features: harness.features,
  };
  return parts as WriteContext;
}

/** A Redis client under a prefix of its own; `flush` deletes every key under it. */
export async function createPrefixedRedis(url: string, prefix: string) {
  const redis = new Redis(url, { keyPrefix: prefix, lazyConnect: true });
  await redis.connect();
  return {
    redis,
    prefix,
    flush: async () => {
      const keys = await redis.keys(`${prefix}*`);
      // KEYS returns full names; the client would prefix them again.
      if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)));
    },
    close: () => redis.disconnect(),
  };
}

/** Connections of the test database left inside a transaction: a write that never committed or rolled back. */
export async function openTransactions(q: Queryable, database: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = $1 AND state IN ('idle in transaction', 'idle in transaction (aborted)')`,
    [database],
  );
  return rows[0]?.n ?? 0;
}
