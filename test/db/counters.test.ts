import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertCategory, insertListing, insertProfile, type Queryable } from '../support/fixtures.js';

// Counter triggers (trg_likes_count, trg_comments_count, trg_follows_count), exercised the way the
// gateway writes: as lodestar_app with a user identity, so SECURITY DEFINER must carry the update
// to the listing / other profile past RLS.

let db: TestDatabase;
let categoryId = 0;
let alice = '';
let bob = '';
let carol = '';

beforeAll(async () => {
  db = await createTestDatabase();
  categoryId = await insertCategory(db.pool);
  alice = await insertProfile(db.pool);
  bob = await insertProfile(db.pool);
  carol = await insertProfile(db.pool);
});

afterAll(async () => {
  await db?.drop();
});

const asUser = (userId: string) => ({ userId, role: 'user' }) as const;

async function listingCounts(
  q: Queryable,
  id: number,
): Promise<{ like_count: number; comment_count: number }> {
  const { rows } = await q.query<{ like_count: number; comment_count: number }>(
    'SELECT like_count, comment_count FROM marketplace_listings WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

/** [follower_count, following_count], read as the owner (a user cannot see other profiles). */
async function followCounts(userId: string): Promise<[number, number]> {
  const { rows } = await db.pool.query<{ follower_count: number; following_count: number }>(
    'SELECT follower_count, following_count FROM profiles WHERE user_id = $1',
    [userId],
  );
  return [rows[0]!.follower_count, rows[0]!.following_count];
}

describe('likes keep marketplace_listings.like_count exact', () => {
  it('like adds one and unlike removes one', async () => {
    const listing = await insertListing(db.pool, { categoryId, sellerId: bob });
    await asIdentity(db, asUser(alice), async (c) => {
      await c.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [alice, listing]);
      expect((await listingCounts(c, listing)).like_count).toBe(1);
      await c.query('DELETE FROM likes WHERE user_id = $1 AND listing_id = $2', [alice, listing]);
      expect((await listingCounts(c, listing)).like_count).toBe(0);
    });
  });

  it('50 concurrent likes by distinct users on separate connections add exactly 50', async () => {
    const listing = await insertListing(db.pool, { categoryId, sellerId: bob });
    const { rows } = await db.pool.query<{ user_id: string }>(
      `INSERT INTO profiles (handle, display_name)
       SELECT 'fan_' || g || '_' || $1::int, 'Fan ' || g FROM generate_series(1, 50) g RETURNING user_id`,
      [listing],
    );
    const clients = rows.map(() => new pg.Client({ connectionString: db.url }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      await Promise.all(
        clients.map(async (c, i) => {
          await c.query('BEGIN');
          await c.query('SET LOCAL ROLE lodestar_app');
          await c.query(
            `SELECT set_config('lodestar.user_id', $1, true), set_config('lodestar.role', 'user', true)`,
            [rows[i]!.user_id],
          );
          await c.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [
            rows[i]!.user_id,
            listing,
          ]);
          await c.query('COMMIT');
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    expect((await listingCounts(db.pool, listing)).like_count).toBe(50);
  });
});

describe('comments keep marketplace_listings.comment_count exact', () => {
  it('counts insert, soft delete, restore and hard delete exactly', async () => {
    const listing = await insertListing(db.pool, { categoryId, sellerId: bob });
    await asIdentity(db, asUser(alice), async (c) => {
      const count = async (): Promise<number> => (await listingCounts(c, listing)).comment_count;
      const add = async (body: string): Promise<string> => {
        const { rows } = await c.query<{ id: string }>(
          'INSERT INTO comments (listing_id, user_id, body) VALUES ($1, $2, $3) RETURNING id',
          [listing, alice, body],
        );
        return rows[0]!.id;
      };
      const first = await add('first');
      const second = await add('second');
      expect(await count()).toBe(2);
      await c.query('UPDATE comments SET deleted_at = now() WHERE id = $1', [first]);
      expect(await count()).toBe(1);
      await c.query('UPDATE comments SET deleted_at = now() WHERE id = $1', [first]); // already deleted
      expect(await count()).toBe(1);
      await c.query(`UPDATE comments SET body = 'edited' WHERE id = $1`, [second]);
      expect(await count()).toBe(1);
      await c.query('UPDATE comments SET deleted_at = NULL WHERE id = $1', [first]);
      expect(await count()).toBe(2);
      await c.query('DELETE FROM comments WHERE id = $1', [second]);
      expect(await count()).toBe(1);
      await c.query('UPDATE comments SET deleted_at = now() WHERE id = $1', [first]);
      await c.query('DELETE FROM comments WHERE id = $1', [first]); // hard delete of a soft-deleted comment
      expect(await count()).toBe(0);
      await add('third');
      expect(await count()).toBe(1);
    });
  });

  it('does not count a comment inserted already deleted', async () => {
    const listing = await insertListing(db.pool, { categoryId, sellerId: bob });
    await db.pool.query(
      `INSERT INTO comments (listing_id, user_id, body, deleted_at) VALUES ($1, $2, 'x', now())`,
      [listing, alice],
    );
    expect((await listingCounts(db.pool, listing)).comment_count).toBe(0);
  });
});

describe('follows keep follower_count / following_count exact', () => {
  it('follow and unfollow move both profiles’ counters by one', async () => {
    await asIdentity(
      db,
      asUser(alice),
      (c) => c.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [alice, bob]),
      { commit: true },
    );
    await asIdentity(
      db,
      asUser(carol),
      (c) => c.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [carol, bob]),
      { commit: true },
    );
    expect(await followCounts(bob)).toEqual([2, 0]);
    expect(await followCounts(alice)).toEqual([0, 1]);
    expect(await followCounts(carol)).toEqual([0, 1]);

    await asIdentity(
      db,
      asUser(alice),
      (c) => c.query('DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2', [alice, bob]),
      { commit: true },
    );
    expect(await followCounts(bob)).toEqual([1, 0]);
    expect(await followCounts(alice)).toEqual([0, 0]);
    expect(await followCounts(carol)).toEqual([0, 1]);
  });
});

// lodestar.defer_counters (migration 20261203090000_defer_counters): the importer, on the owner's own
// session, skips the per-row counter updates and recounts afterwards. Any role may set a custom GUC, so
// the triggers honour it only for the owner's session: a person's session must still count.
describe('lodestar.defer_counters', () => {
  const defer = `SELECT set_config('lodestar.defer_counters', 'on', true)`;

  it('is ignored for lodestar_app: likes and follows still count', async () => {
    const listing = await insertListing(db.pool, { categoryId, sellerId: bob });
    const [dave, erin] = [await insertProfile(db.pool), await insertProfile(db.pool)];
    await asIdentity(
      db,
      asUser(dave),
      async (c) => {
        await c.query(defer);
        // Also as a session-wide setting: neither form lets a person skip counting.
        await c.query(`SET lodestar.defer_counters = 'on'`);
        await c.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [dave, listing]);
        await c.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [dave, erin]);
        await c.query('RESET lodestar.defer_counters');
      },
      { commit: true },
    );
    expect((await listingCounts(db.pool, listing)).like_count).toBe(1);
    expect(await followCounts(erin)).toEqual([1, 0]);
    expect(await followCounts(dave)).toEqual([0, 1]);
  });

  it('lets the owner’s session skip them, for its transaction only', async () => {
    const listing = await insertListing(db.pool, { categoryId, sellerId: bob });
    const [frank, gina] = [await insertProfile(db.pool), await insertProfile(db.pool)];
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(defer);
      await client.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [frank, listing]);
      await client.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [frank, gina]);
      await client.query('COMMIT');
      // The next transaction counts again.
      await client.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [gina, listing]);
    } finally {
      client.release();
    }
    expect((await listingCounts(db.pool, listing)).like_count).toBe(1);
    expect(await followCounts(gina)).toEqual([0, 0]);
  });
});
