import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import { sqlStateOf } from '../support/fixtures.js';
import { seedRlsData, userTables, type RlsData } from '../support/rlsData.js';

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

describe('the gateway role', () => {
  it('lodestar_app is not a superuser and cannot bypass RLS', async () => {
    const { rows } = await db.pool.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'lodestar_app'`,
    );
    expect(rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
  });

  it('lodestar_app and lodestar_service own no relation in public', async () => {
    const { rows } = await db.pool.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) IN ('lodestar_app', 'lodestar_service')`,
    );
    expect(rows).toEqual([]);
  });

  it.each([...userTables.map((t) => t.table), 'learning_events'])(
    '%s has row-level security enabled and at least one policy',
    async (table) => {
      const { rows } = await db.pool.query<{ relrowsecurity: boolean; policies: number }>(
        `SELECT c.relrowsecurity,
                (SELECT count(*)::int FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = c.relname)
                  AS policies
         FROM pg_class c WHERE c.oid = $1::regclass`,
        [`public.${table}`],
      );
      expect(rows[0]?.relrowsecurity).toBe(true);
      expect(rows[0]?.policies).toBeGreaterThanOrEqual(1);
    },
  );
});

interface TableCase {
  table: string;
  owner: string;
  /** A harmless SET clause for UPDATE. */
  set: string;
  /** false: lodestar_app holds no UPDATE privilege on the table at all, so any UPDATE fails (42501). */
  updatable: boolean;
  /** An INSERT of a fresh row owned by userId. */
  insert: (userId: string) => [string, unknown[]];
}

// Static parts are read while tests are collected; `insert` is only called inside tests (after seeding).
const cases: TableCase[] = [
  {
    table: 'profiles',
    owner: 'user_id',
    set: `display_name = 'Changed'`,
    updatable: true,
    insert: (u) => [
      `INSERT INTO profiles (user_id, handle, display_name) VALUES ($1, $2, 'New')`,
      [u, `h_${u.slice(0, 8)}`],
    ],
  },
  {
    table: 'user_interests',
    owner: 'user_id',
    set: 'affinity = 0.9',
    updatable: true,
    insert: (u) => ['INSERT INTO user_interests (user_id, interest_id) VALUES ($1, $2)', [u, d.interests[1]]],
  },
  {
    table: 'likes',
    owner: 'user_id',
    set: 'created_at = now()',
    updatable: false,
    insert: (u) => ['INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [u, d.spareListing]],
  },
  {
    table: 'comments',
    owner: 'user_id',
    set: `body = 'edited'`,
    updatable: true,
    insert: (u) => [
      `INSERT INTO comments (user_id, listing_id, body) VALUES ($1, $2, 'hi')`,
      [u, d.spareListing],
    ],
  },
  {
    table: 'follows',
    owner: 'follower_id',
    set: 'created_at = now()',
    updatable: false,
    insert: (u) => ['INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [u, d.dave]],
  },
  {
    table: 'intent_signals',
    owner: 'user_id',
    set: 'weight = 2',
    updatable: false,
    insert: (u) => [
      `INSERT INTO intent_signals (user_id, kind, listing_id) VALUES ($1, 'click', $2)`,
      [u, d.spareListing],
    ],
  },
];

async function ownerCount(table: string, column: string, userId: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`,
    [userId],
  );
  return rows[0]!.n;
}

describe.each(userTables.map((t) => t.table))('%s as user A', (table) => {
  const c = cases.find((x) => x.table === table)!;
  const { owner, set, insert } = c;

  it("shows A only A's rows", async () => {
    expect(await ownerCount(table, owner, d.bob)).toBeGreaterThan(0);
    const aliceRows = await ownerCount(table, owner, d.alice);
    expect(aliceRows).toBeGreaterThan(0);
    if (table === 'follows') {
      // A sees their own follow and the one where A is followed; bob→carol stays hidden.
      const { rows } = await asIdentity(db, asUser(d.alice), (client) =>
        client.query<{ follower_id: string; followee_id: string }>(
          'SELECT follower_id, followee_id FROM follows ORDER BY follower_id = $1 DESC',
          [d.alice],
        ),
      );
      expect(rows).toEqual([
        { follower_id: d.alice, followee_id: d.carol },
        { follower_id: d.bob, followee_id: d.alice },
      ]);
      return;
    }
    const { rows } = await asIdentity(db, asUser(d.alice), (client) =>
      client.query<{ owner: string }>(`SELECT ${owner} AS owner FROM ${table}`),
    );
    expect(rows.map((r) => r.owner)).toEqual(new Array<string>(aliceRows).fill(d.alice));
  });

  if (c.updatable) {
    it("cannot update B's rows (0 rows affected); an unfiltered UPDATE touches only A's", async () => {
      const aliceRows = await ownerCount(table, owner, d.alice);
      await asIdentity(db, asUser(d.alice), async (client) => {
        const update = `UPDATE ${table} SET ${set}`;
        expect((await client.query(`${update} WHERE ${owner} = $1`, [d.bob])).rowCount).toBe(0);
        expect((await client.query(update)).rowCount).toBe(aliceRows);
      });
    });
  } else {
    it("cannot update any row, B's or A's own (42501: no UPDATE privilege)", async () => {
      expect(await ownerCount(table, owner, d.alice)).toBeGreaterThan(0);
      await asIdentity(db, asUser(d.alice), async (client) => {
        const update = `UPDATE ${table} SET ${set} WHERE ${owner} = $1`;
        expect(await sqlStateOf(client, update, [d.bob])).toBe('42501');
        expect(await sqlStateOf(client, update, [d.alice])).toBe('42501');
      });
    });
  }

  it("cannot delete B's rows (0 rows affected); an unfiltered DELETE removes only A's", async () => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      expect((await client.query(`DELETE FROM ${table} WHERE ${owner} = $1`, [d.bob])).rowCount).toBe(0);
      expect((await client.query(`DELETE FROM ${table}`)).rowCount).toBe(
        await ownerCount(table, owner, d.alice),
      );
    });
    expect(await ownerCount(table, owner, d.bob)).toBeGreaterThan(0);
  });

  it('cannot insert a row owned by B (42501)', async () => {
    const [text, values] = insert(d.bob);
    await asIdentity(db, asUser(d.alice), async (client: pg.PoolClient) => {
      expect(await sqlStateOf(client, text, values)).toBe('42501');
    });
  });

  it(`can insert${c.updatable ? ', update' : ''} and delete their own rows`, async () => {
    // A profile row is created once per user: insert it under a brand-new identity.
    const me = table === 'profiles' ? randomUUID() : d.alice;
    await asIdentity(db, asUser(me), async (client) => {
      const [text, values] = insert(me);
      expect((await client.query(text, values)).rowCount).toBe(1);
      const mine = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table} WHERE ${owner} = $1`,
        [me],
      );
      expect(mine.rows[0]!.n).toBeGreaterThanOrEqual(1);
      if (c.updatable) {
        expect((await client.query(`UPDATE ${table} SET ${set} WHERE ${owner} = $1`, [me])).rowCount).toBe(
          mine.rows[0]!.n,
        );
      }
      expect((await client.query(`DELETE FROM ${table} WHERE ${owner} = $1`, [me])).rowCount).toBe(
        mine.rows[0]!.n,
      );
    });
  });
});
