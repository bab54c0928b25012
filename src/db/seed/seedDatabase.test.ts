import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEEDED_TABLES } from './prepareDatabase.js';
import type { SeededTable } from './prepareDatabase.js';
import { seedDatabase } from './seedDatabase.js';
import type { SeedProgress } from './seedDatabase.js';
import { SeedError } from './SeedError.js';
import type { SeedOptions } from './seedOptions.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/db.js';

const SMALL: SeedOptions = { users: 50, listings: 300, interests: 40, categories: 12, seed: 7 };

// The order that makes each table's rows comparable between two seeds.
const ROW_ORDER: Record<SeededTable, string> = {
  categories: 'id',
  interest_catalog: 'id',
  profiles: 'user_id',
  user_interests: 'user_id, interest_id',
  marketplace_listings: 'id',
  likes: 'user_id, listing_id',
  comments: 'id',
  follows: 'follower_id, followee_id',
  intent_signals: 'id',
};

const databases: TestDatabase[] = [];
const clients: pg.Client[] = [];

/** A migrated clone of the run's template, or an empty database. */
async function createDatabase(migrated: boolean): Promise<pg.Client> {
  const database = await createTestDatabase(migrated ? {} : { template: null });
  databases.push(database);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  clients.push(client);
  return client;
}

/** md5 of every seeded table's rows in key order: equal fingerprints mean byte-identical data. */
async function fingerprint(client: pg.Client): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const table of SEEDED_TABLES) {
    const { rows } = await client.query<{ md5: string }>(
      `SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY ${ROW_ORDER[table]}), '')) AS md5 FROM ${table} t`,
    );
    result[table] = rows[0]?.md5 ?? '';
  }
  return result;
}

async function one<T>(client: pg.Client, sql: string, values: unknown[] = []): Promise<T> {
  const { rows } = await client.query(sql, values);
  return rows[0] as T;
}

describe('seedDatabase', () => {
  let db: pg.Client;
  let unmigrated: pg.Client;
  let first: Record<string, string>;
  let otherSeed: Record<string, string>;
  let again: Record<string, string>;
  const progress: SeedProgress[] = [];

  beforeAll(async () => {
    db = await createDatabase(true);
    unmigrated = await createDatabase(false);
    await seedDatabase(db, SMALL, (p) => progress.push(p));
    first = await fingerprint(db);
    await seedDatabase(db, { ...SMALL, seed: 8, reset: true });
    otherSeed = await fingerprint(db);
    await seedDatabase(db, { ...SMALL, reset: true });
    again = await fingerprint(db);
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) await client.end();
    for (const database of databases) await database.drop();
  });

  it('reproduces byte-identical rows from the same seed and sizes', () => {
    expect(first.marketplace_listings).not.toBe(otherSeed.marketplace_listings);
    expect(again).toEqual(first);
  });

  it('produces different data from a different seed', () => {
    for (const table of ['profiles', 'user_interests', 'marketplace_listings', 'likes', 'follows']) {
      expect(otherSeed[table], table).not.toBe(first[table]);
    }
  });

  it('reports each phase with its row count', () => {
    const listings = progress.find((p) => p.phase === 'marketplace_listings');
    expect(listings?.rows).toBe(300);
    expect(progress.map((p) => p.phase)).toEqual(
      expect.arrayContaining(['plan', 'reindex', 'analyze', 'commit', 'vacuum']),
    );
  });

  it('leaves the seeded tables vacuumed (the profiles rewritten for their embeddings included)', async () => {
    const { rows } = await db.query<{ relname: string; vacuumed: boolean }>(
      // A partitioned table (the event logs) is its partitions: each of them vacuumed.
      `SELECT t.name AS relname, bool_and(s.last_vacuum IS NOT NULL) AS vacuumed
         FROM unnest($1::text[]) AS t(name)
         JOIN pg_stat_user_tables s
           ON s.relid = t.name::regclass OR s.relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = t.name::regclass)
         JOIN pg_class c ON c.oid = s.relid AND c.relkind = 'r'
        GROUP BY t.name ORDER BY 1`,
      [[...SEEDED_TABLES]],
    );
    expect(rows.map((r) => r.relname)).toEqual([...SEEDED_TABLES].sort());
    expect(rows.filter((r) => !r.vacuumed)).toEqual([]);
  });

  it('gives every user between 3 and 12 interests', async () => {
    const r = await one<{ min: number; max: number; users: number }>(
      db,
      `SELECT min(n)::int AS min, max(n)::int AS max, count(*)::int AS users
         FROM (SELECT p.user_id, count(ui.interest_id) AS n
                 FROM profiles p LEFT JOIN user_interests ui USING (user_id) GROUP BY p.user_id) s`,
    );
    expect(r).toMatchObject({ users: 50 });
    expect(r.min).toBeGreaterThanOrEqual(3);
    expect(r.max).toBeLessThanOrEqual(12);
  });

  it('stores unit-length embeddings for interests, listings and profiles', async () => {
    // vector_norm: pgvector 0.8 only defines l2_norm for halfvec/sparsevec.
    for (const table of ['interest_catalog', 'marketplace_listings', 'profiles']) {
      const r = await one<{ worst: number; missing: string }>(
        db,
        `SELECT max(abs(vector_norm(embedding) - 1)) AS worst, count(*) FILTER (WHERE embedding IS NULL) AS missing
           FROM ${table}`,
      );
      expect(r.worst, table).toBeLessThan(1e-4);
      expect(r.missing, table).toBe('0');
    }
  });

  it("embeds listings closer to their own category's interests than to other categories'", async () => {
    const r = await one<{ own: number; other: number; share: number }>(
      db,
      `WITH per_listing AS (
         SELECT l.id,
                avg(1 - (l.embedding <=> i.embedding)) FILTER (WHERE i.category_id = l.category_id) AS own,
                avg(1 - (l.embedding <=> i.embedding)) FILTER (WHERE i.category_id <> l.category_id) AS other
           FROM marketplace_listings l CROSS JOIN interest_catalog i GROUP BY l.id)
       SELECT avg(own) AS own, avg(other) AS other, avg((own > other)::int)::float8 AS share FROM per_listing`,
    );
    expect(r.own).toBeGreaterThan(r.other + 0.3);
    expect(r.share).toBe(1);
  });

  it('leaves like_count and comment_count equal to the likes and visible comments', async () => {
    const r = await one<{ wrong: string; likes: string }>(
      db,
      `SELECT count(*) FILTER (WHERE l.like_count <> coalesce(k.n, 0) OR l.comment_count <> coalesce(c.n, 0)) AS wrong,
              sum(k.n) AS likes
         FROM marketplace_listings l
         LEFT JOIN (SELECT listing_id, count(*) AS n FROM likes GROUP BY 1) k ON k.listing_id = l.id
         LEFT JOIN (SELECT listing_id, count(*) AS n FROM comments WHERE deleted_at IS NULL GROUP BY 1) c
           ON c.listing_id = l.id`,
    );
    expect(r.wrong).toBe('0');
    expect(Number(r.likes)).toBeGreaterThan(300);
  });

  it('leaves follower and following counts exact, with no self-follows', async () => {
    const r = await one<{ wrong: string; self: string; follows: string }>(
      db,
      `SELECT count(*) FILTER (WHERE p.follower_count <> (SELECT count(*) FROM follows f WHERE f.followee_id = p.user_id)
                                OR p.following_count <> (SELECT count(*) FROM follows f WHERE f.follower_id = p.user_id))
                AS wrong,
              (SELECT count(*) FROM follows WHERE follower_id = followee_id) AS self,
              (SELECT count(*) FROM follows) AS follows
         FROM profiles p`,
    );
    expect(r).toMatchObject({ wrong: '0', self: '0' });
    expect(Number(r.follows)).toBeGreaterThan(50);
  });

  it('concentrates likes on a few popular listings (power law)', async () => {
    const r = await one<{ top_share: number }>(
      db,
      `WITH ranked AS (SELECT like_count, row_number() OVER (ORDER BY like_count DESC, id) AS rn,
                              count(*) OVER () AS n FROM marketplace_listings)
       SELECT (sum(like_count) FILTER (WHERE rn <= n / 10))::float8 / sum(like_count) AS top_share FROM ranked`,
    );
    expect(r.top_share).toBeGreaterThan(0.25);
  });

  it('dates every like after its user and listing were created, and gives demo a history', async () => {
    const r = await one<{ early: string; demo: string }>(
      db,
      `SELECT count(*) FILTER (WHERE k.created_at < l.created_at OR k.created_at < p.created_at) AS early,
              count(*) FILTER (WHERE p.handle = 'demo') AS demo
         FROM likes k JOIN marketplace_listings l ON l.id = k.listing_id JOIN profiles p ON p.user_id = k.user_id`,
    );
    expect(r.early).toBe('0');
    expect(Number(r.demo)).toBeGreaterThanOrEqual(20);
  });

  it('sets each profile embedding to what recompute_profile_embedding computes', async () => {
    const { rows } = await db.query<{ user_id: string }>(
      'SELECT user_id FROM profiles ORDER BY handle LIMIT 3',
    );
    await db.query('BEGIN');
    try {
      for (const { user_id } of rows) {
        const before = await one<{ e: string }>(
          db,
          'SELECT embedding::text AS e FROM profiles WHERE user_id = $1',
          [user_id],
        );
        await db.query('SELECT recompute_profile_embedding($1)', [user_id]);
        const r = await one<{ distance: number }>(
          db,
          'SELECT embedding <=> $2::vector AS distance FROM profiles WHERE user_id = $1',
          [user_id, before.e],
        );
        expect(r.distance).toBeLessThan(1e-5);
      }
    } finally {
      await db.query('ROLLBACK');
    }
  });

  it('creates the demo accounts admin (role admin) and demo (role user)', async () => {
    const { rows } = await db.query(
      `SELECT handle, role FROM profiles WHERE handle IN ('admin', 'demo') ORDER BY 1`,
    );
    expect(rows).toEqual([
      { handle: 'admin', role: 'admin' },
      { handle: 'demo', role: 'user' },
    ]);
  });

  it('mostly lists active items, with some sold or inactive', async () => {
    const r = await one<{ active: number; sold: string }>(
      db,
      `SELECT avg((status = 'active')::int)::float8 AS active, count(*) FILTER (WHERE status = 'sold') AS sold
         FROM marketplace_listings`,
    );
    expect(r.active).toBeGreaterThan(0.7);
    expect(Number(r.sold)).toBeGreaterThan(0);
  });

  it('leaves the database ready for the app: counter triggers on, identities past the seeded ids', async () => {
    await db.query('BEGIN');
    try {
      const user = await one<{ user_id: string }>(db, `SELECT user_id FROM profiles WHERE handle = 'admin'`);
      const listing = await one<{ id: number; like_count: number }>(
        db,
        `INSERT INTO marketplace_listings (category_id, seller_id, title, price) VALUES (1, $1, 'New listing', 5)
         RETURNING id, like_count`,
        [user.user_id],
      );
      expect(listing.id).toBe(301);
      await db.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [user.user_id, listing.id]);
      const after = await one<{ like_count: number }>(
        db,
        'SELECT like_count FROM marketplace_listings WHERE id = $1',
        [listing.id],
      );
      expect(after.like_count).toBe(1);
    } finally {
      await db.query('ROLLBACK');
    }
  });

  it('refuses to seed over existing data unless reset is asked for', async () => {
    await expect(seedDatabase(db, SMALL)).rejects.toThrow(/already has data in categories.*--reset/);
    expect(await fingerprint(db)).toEqual(again);
  });

  it('tells the user to migrate when the schema is missing', async () => {
    await expect(seedDatabase(unmigrated, SMALL)).rejects.toThrow(
      new SeedError('database is not migrated: run npm run db:migrate first'),
    );
  });

  it('rejects invalid sizes before touching the database', async () => {
    await expect(seedDatabase(db, { ...SMALL, users: 0 })).rejects.toThrow(/users must be a whole number/);
    await expect(seedDatabase(db, { ...SMALL, interests: 5 })).rejects.toThrow(/at least categories/);
  });
});
