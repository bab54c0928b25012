import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import { embeddingFor, sqlStateOf, toVectorLiteral, unique, type Queryable } from '../support/fixtures.js';
import { seedRlsData, type RlsData } from '../support/rlsData.js';

// Column-level grants and the profile role guard: what lodestar_app may write even on its own rows.
// Counters, popularity and profile embeddings are written only by triggers and SECURITY DEFINER
// functions; roles only by an admin (or the service identity).

let db: TestDatabase;
let d: RlsData;

beforeAll(async () => {
  db = await createTestDatabase();
  d = await seedRlsData(db.pool);
});

afterAll(async () => {
  await db?.drop();
});

const asUser = (userId: string) => ({ userId, role: 'user' }) as const;
const vector = toVectorLiteral(embeddingFor(7));

/** One column of one row as text, read on the given connection. */
async function columnText(
  q: Queryable,
  table: string,
  column: string,
  where: string,
  key: unknown,
): Promise<string | null> {
  const { rows } = await q.query<{ v: string | null }>(
    `SELECT ${column}::text AS v FROM ${table} WHERE ${where} = $1`,
    [key],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.v;
}

describe('tables without any UPDATE grant', () => {
  it.each(['likes', 'follows', 'intent_signals'])(
    'lodestar_app may insert into %s but update none of its columns',
    async (table) => {
      const { rows } = await db.pool.query<{ ins: boolean; upd: boolean }>(
        `SELECT has_any_column_privilege('lodestar_app', $1, 'INSERT') AS ins,
                has_any_column_privilege('lodestar_app', $1, 'UPDATE') AS upd`,
        [`public.${table}`],
      );
      expect(rows[0]).toEqual({ ins: true, upd: false });
    },
  );

  it('follows has policies for SELECT, INSERT and DELETE only', async () => {
    const { rows } = await db.pool.query<{ cmd: string }>(
      `SELECT cmd FROM pg_policies WHERE schemaname = 'public' AND tablename = 'follows' ORDER BY cmd`,
    );
    expect(rows.map((r) => r.cmd)).toEqual(['DELETE', 'INSERT', 'SELECT']);
  });
});

describe('profiles: counters and embedding', () => {
  it.each([
    { column: 'follower_count', value: 1000, cast: '' },
    { column: 'following_count', value: 1000, cast: '' },
    { column: 'embedding', value: vector, cast: '::vector' },
    { column: 'embedding_updated_at', value: '2030-01-01T00:00:00Z', cast: '::timestamptz' },
  ])('a user cannot UPDATE their own $column (42501)', async ({ column, value, cast }) => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      const before = await columnText(client, 'profiles', column, 'user_id', d.alice);
      const update = `UPDATE profiles SET ${column} = $2${cast} WHERE user_id = $1`;
      expect(await sqlStateOf(client, update, [d.alice, value])).toBe('42501');
      expect(await columnText(client, 'profiles', column, 'user_id', d.alice)).toBe(before);
    });
  });

  it.each([
    { column: 'follower_count', value: 1000, cast: '' },
    { column: 'embedding', value: vector, cast: '::vector' },
  ])('a user cannot INSERT their own profile with $column set (42501)', async ({ column, value, cast }) => {
    const me = randomUUID();
    await asIdentity(db, asUser(me), async (client) => {
      const insert = `INSERT INTO profiles (user_id, handle, display_name, ${column}) VALUES ($1, $2, 'Me', $3${cast})`;
      expect(await sqlStateOf(client, insert, [me, unique('p_'), value])).toBe('42501');
    });
  });
});

describe('marketplace_listings: counters and popularity', () => {
  it.each([
    { column: 'like_count', value: 1000 },
    { column: 'comment_count', value: 1000 },
    { column: 'popularity', value: 99.5 },
    { column: 'seller_id', value: null },
  ])('the seller cannot UPDATE $column of their own listing (42501)', async ({ column, value }) => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      const before = await columnText(client, 'marketplace_listings', column, 'id', d.aliceListing);
      const update = `UPDATE marketplace_listings SET ${column} = $2 WHERE id = $1`;
      expect(await sqlStateOf(client, update, [d.aliceListing, value])).toBe('42501');
      expect(await columnText(client, 'marketplace_listings', column, 'id', d.aliceListing)).toBe(before);
    });
  });

  it('the seller can update the title and other content columns of their own listing', async () => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      const { rows } = await client.query<{
        title: string;
        price: string;
        status: string;
        like_count: number;
      }>(
        `UPDATE marketplace_listings
            SET title = 'Renamed', description = 'Better', price = 12.5, status = 'sold', embedding = $2::vector
          WHERE id = $1
          RETURNING title, price::text AS price, status, like_count`,
        [d.aliceListing, vector],
      );
      expect(rows).toEqual([{ title: 'Renamed', price: '12.50', status: 'sold', like_count: 1 }]);
    });
  });

  it.each([
    { column: 'like_count', value: 1000 },
    { column: 'popularity', value: 99.5 },
  ])('a seller cannot INSERT a listing with $column preset (42501)', async ({ column, value }) => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      const { rows } = await client.query<{ category_id: number }>(
        'SELECT category_id FROM marketplace_listings WHERE id = $1',
        [d.aliceListing],
      );
      const insert = `INSERT INTO marketplace_listings (category_id, seller_id, title, price, ${column})
                      VALUES ($1, $2, 'New', 1, $3)`;
      expect(await sqlStateOf(client, insert, [rows[0]!.category_id, d.alice, value])).toBe('42501');
      const plain = await client.query<{ like_count: number; popularity: number }>(
        `INSERT INTO marketplace_listings (category_id, seller_id, title, price)
         VALUES ($1, $2, 'New', 1) RETURNING like_count, popularity`,
        [rows[0]!.category_id, d.alice],
      );
      expect(plain.rows).toEqual([{ like_count: 0, popularity: 0 }]);
    });
  });
});

describe('profiles: role on INSERT', () => {
  const insertProfile = `INSERT INTO profiles (user_id, handle, display_name, role)
                         VALUES ($1, $2, 'New', $3) RETURNING role`;

  it.each(['admin', 'service'])(
    'a user cannot INSERT their own profile with role %s (42501)',
    async (role) => {
      const me = randomUUID();
      await asIdentity(db, asUser(me), async (client) => {
        expect(await sqlStateOf(client, insertProfile, [me, unique('r_'), role])).toBe('42501');
      });
      const { rows } = await db.pool.query('SELECT 1 FROM profiles WHERE user_id = $1', [me]);
      expect(rows).toEqual([]);
    },
  );

  it.each([
    ['explicitly', 'user'],
    ['by default', null],
  ] as const)("a user can INSERT their own profile with role 'user' (%s)", async (_how, role) => {
    const me = randomUUID();
    await asIdentity(db, asUser(me), async (client) => {
      const { rows } =
        role === null
          ? await client.query<{ role: string }>(
              `INSERT INTO profiles (user_id, handle, display_name) VALUES ($1, $2, 'New') RETURNING role`,
              [me, unique('r_')],
            )
          : await client.query<{ role: string }>(insertProfile, [me, unique('r_'), role]);
      expect(rows).toEqual([{ role: 'user' }]);
    });
  });

  it("an admin identity can INSERT a profile with role 'admin'", async () => {
    const newcomer = randomUUID();
    await asIdentity(db, { userId: d.carol, role: 'admin' }, async (client) => {
      const { rows } = await client.query<{ role: string }>(insertProfile, [newcomer, unique('r_'), 'admin']);
      expect(rows).toEqual([{ role: 'admin' }]);
    });
  });
});
