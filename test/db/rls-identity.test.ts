import pg from 'pg';
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

async function counts(q: pg.ClientBase | pg.Pool): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { table } of userTables) {
    const { rows } = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    out[table] = rows[0]!.n;
  }
  return out;
}

const insertLearningEvent = `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position)
  VALUES ($1, $2, 'epsilon_greedy', 'EXPLORE', 0.2, 1)`;

describe('learning_events', () => {
  it.each(['user', 'admin', 'service'] as const)(
    'cannot be read by lodestar_app with role %s (42501)',
    async (role) => {
      await asIdentity(db, { userId: role === 'service' ? null : d.alice, role }, async (client) => {
        expect(await sqlStateOf(client, 'SELECT * FROM learning_events')).toBe('42501');
        expect(await sqlStateOf(client, 'SELECT count(*) FROM learning_events')).toBe('42501');
      });
    },
  );

  it('cannot be written by lodestar_app without switching to lodestar_service (42501)', async () => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      expect(await sqlStateOf(client, insertLearningEvent, [d.alice, d.bobListing])).toBe('42501');
    });
  });

  it('lodestar_app may switch to lodestar_service but does not inherit its privileges', async () => {
    const { rows } = await db.pool.query<{ member: boolean; usage: boolean; insert: boolean }>(
      `SELECT pg_has_role('lodestar_app', 'lodestar_service', 'MEMBER') AS member,
              pg_has_role('lodestar_app', 'lodestar_service', 'USAGE') AS usage,
              has_table_privilege('lodestar_app', 'public.learning_events', 'INSERT') AS insert`,
    );
    expect(rows[0]).toEqual({ member: true, usage: false, insert: false });
  });

  it('accepts an INSERT after SET LOCAL ROLE lodestar_service, which still cannot read or change them', async () => {
    // The insert is bound to the identity it runs for (test/db/privileges.test.ts): Alice's row.
    await asIdentity(db, { userId: d.alice, role: 'service' }, async (client) => {
      await client.query('SET LOCAL ROLE lodestar_service');
      expect((await client.query(insertLearningEvent, [d.alice, d.bobListing])).rowCount).toBe(1);
      expect(await sqlStateOf(client, 'SELECT id FROM learning_events')).toBe('42501');
      expect(await sqlStateOf(client, 'UPDATE learning_events SET reward = 1')).toBe('42501');
      expect(await sqlStateOf(client, 'DELETE FROM learning_events')).toBe('42501');
    });
  });
});

describe('identities', () => {
  it("an admin identity sees every user's rows", async () => {
    const all = await counts(db.pool);
    expect(Object.values(all).every((n) => n >= 2)).toBe(true);
    expect(await asIdentity(db, { userId: d.alice, role: 'admin' }, (client) => counts(client))).toEqual(all);
  });

  it('an anonymous identity sees no user-data rows', async () => {
    const none = Object.fromEntries(userTables.map(({ table }) => [table, 0]));
    expect(await asIdentity(db, { userId: null, role: 'anonymous' }, (client) => counts(client))).toEqual(
      none,
    );
  });

  it('a transaction-local identity does not outlive its transaction on a pooled lodestar_app connection', async () => {
    const app = new pg.Pool({ connectionString: db.appUrl, max: 1 });
    try {
      const client = await app.connect();
      let pid: number;
      try {
        pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await client.query('BEGIN');
        await client.query(
          `SELECT set_config('lodestar.user_id', $1, true), set_config('lodestar.role', 'user', true)`,
          [d.alice],
        );
        const inside = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM profiles');
        expect(inside.rows[0]!.n).toBe(1);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const { rows } = await app.query<{
        pid: number;
        who: string;
        uid: string | null;
        raw: string;
        n: number;
      }>(
        `SELECT pg_backend_pid() AS pid, current_user AS who, app_current_user_id()::text AS uid,
                current_setting('lodestar.user_id', true) AS raw, (SELECT count(*)::int FROM profiles) AS n`,
      );
      expect(rows[0]).toEqual({ pid, who: 'lodestar_app', uid: null, raw: '', n: 0 });
    } finally {
      await app.end();
    }
  });
});

describe('profiles', () => {
  it('a user cannot change their own role (42501)', async () => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      expect(
        await sqlStateOf(client, `UPDATE profiles SET role = 'admin' WHERE user_id = $1`, [d.alice]),
      ).toBe('42501');
    });
    const { rows } = await db.pool.query<{ role: string }>('SELECT role FROM profiles WHERE user_id = $1', [
      d.alice,
    ]);
    expect(rows[0]!.role).toBe('user');
  });

  it('a user can change their own display_name', async () => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      const res = await client.query<{ display_name: string }>(
        `UPDATE profiles SET display_name = 'Alice Z' WHERE user_id = $1 RETURNING display_name`,
        [d.alice],
      );
      expect(res.rows).toEqual([{ display_name: 'Alice Z' }]);
    });
  });

  it("public_profiles shows B's handle and display_name to A", async () => {
    const { rows } = await asIdentity(db, asUser(d.alice), (client) =>
      client.query<{ handle: string; display_name: string }>(
        'SELECT handle, display_name FROM public_profiles WHERE user_id = $1',
        [d.bob],
      ),
    );
    expect(rows).toEqual([{ handle: 'bob_b', display_name: 'Bob' }]);
  });

  it('public_profiles exposes neither role nor embedding', async () => {
    const { rows } = await db.pool.query<{ attname: string }>(
      `SELECT attname FROM pg_attribute WHERE attrelid = 'public.public_profiles'::regclass AND attnum > 0`,
    );
    const columns = rows.map((r) => r.attname);
    expect(columns).toContain('handle');
    expect(columns).not.toContain('role');
    expect(columns).not.toContain('embedding');
    expect(columns).not.toContain('embedding_updated_at');
  });
});

describe('marketplace_listings', () => {
  it.each([
    ['a user', 'user'],
    ['an anonymous visitor', 'anonymous'],
  ] as const)('%s can read every listing', async (_name, role) => {
    const { rows } = await asIdentity(db, { userId: role === 'user' ? d.alice : null, role }, (client) =>
      client.query<{ id: number }>('SELECT id FROM marketplace_listings ORDER BY id'),
    );
    expect(rows.map((r) => r.id)).toEqual([d.aliceListing, d.bobListing, d.spareListing]);
  });

  it("A cannot update B's listing but can update their own", async () => {
    await asIdentity(db, asUser(d.alice), async (client) => {
      const update = `UPDATE marketplace_listings SET title = 'Mine now' WHERE id = $1`;
      expect((await client.query(update, [d.bobListing])).rowCount).toBe(0);
      expect((await client.query(update, [d.aliceListing])).rowCount).toBe(1);
    });
    const { rows } = await db.pool.query<{ title: string }>(
      'SELECT title FROM marketplace_listings WHERE id = $1',
      [d.bobListing],
    );
    expect(rows[0]!.title).toBe('Bob sells');
  });
});
