import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { readMigrations } from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertCategory, insertInterest, insertProfile, insertUserInterest } from '../support/fixtures.js';
import { createInProcess, type InProcess } from '../support/gateway.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { graphql } from '../support/graphql.js';

const ME = graphql(`
  {
    me {
      id
      handle
      role
      interests {
        affinity
        interest {
          name
          category {
            name
          }
        }
      }
    }
  }
`);
const PROFILE = graphql(`
  query ($handle: String!) {
    profile(handle: $handle) {
      id
      handle
      displayName
      followerCount
    }
  }
`);
const MIGRATIONS = graphql(`
  {
    schemaMigrations {
      applied
      pending
    }
  }
`);

const anonymous: Viewer = { role: 'anonymous', userId: null };
const service: Viewer = { role: 'service', userId: null, subject: 'worker' };

describe('profile and viewer queries', () => {
  let db: TestDatabase;
  let gw: InProcess;
  let alice: string;
  let bob: string;
  let admin: string;
  const asUser = (userId: string): Viewer => ({ role: 'user', userId });

  beforeAll(async () => {
    db = await createTestDatabase();
    gw = createInProcess(db);
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO categories (slug, name) VALUES ('hobbies', 'Hobbies') RETURNING id`,
    );
    const categoryId = rows[0]!.id;
    const otherCategory = await insertCategory(db.pool);
    const interest = async (name: string, cat = categoryId): Promise<number> => {
      const id = await insertInterest(db.pool, { categoryId: cat });
      await db.pool.query('UPDATE interest_catalog SET name = $1 WHERE id = $2', [name, id]);
      return id;
    };
    const [chess, kites, poetry, origami] = [
      await interest('Chess'),
      await interest('Kites'),
      await interest('Poetry'),
      await interest('Origami', otherCategory),
    ];
    alice = await insertProfile(db.pool, { handle: 'alice', displayName: 'Alice A' });
    bob = await insertProfile(db.pool, { handle: 'bob_b', displayName: 'Bob B' });
    admin = await insertProfile(db.pool, { handle: 'admin_ann', role: 'admin' });
    // alice: Kites 0.9, then a tie at 0.5 (Chess before Poetry by interest id), then Origami 0.2.
    for (const [interestId, affinity] of [
      [origami, 0.2],
      [poetry, 0.5],
      [kites, 0.9],
      [chess, 0.5],
    ] as const) {
      await insertUserInterest(db.pool, { userId: alice, interestId, affinity });
    }
    await insertUserInterest(db.pool, { userId: bob, interestId: origami, affinity: 0.7 });
  });

  afterAll(async () => {
    await gw?.close();
    await db?.drop();
  });

  describe('me', () => {
    it('is null without an error for an anonymous viewer', async () => {
      expect(dataOf(await gw.execute(ME, { viewer: anonymous }))).toEqual({ me: null });
    });

    it('is null without an error for a service caller', async () => {
      expect(dataOf(await gw.execute(ME, { viewer: service }))).toEqual({ me: null });
    });

    it('returns the user’s handle, role USER and interests by affinity descending, ties by interest id', async () => {
      const { me } = dataOf(await gw.execute(ME, { viewer: asUser(alice) }));
      expect(me).toMatchObject({ id: alice, handle: 'alice', role: 'USER' });
      expect(me!.interests.map((i) => i.interest.name)).toEqual(['Kites', 'Chess', 'Poetry', 'Origami']);
      expect(me!.interests[0]!.affinity).toBeCloseTo(0.9, 5);
      expect(me!.interests[0]!.interest.category.name).toBe('Hobbies');
    });

    it('returns role ADMIN for an admin', async () => {
      const { me } = dataOf(await gw.execute(ME, { viewer: { role: 'admin', userId: admin } }));
      expect(me).toMatchObject({ id: admin, handle: 'admin_ann', role: 'ADMIN', interests: [] });
    });

    it('is null without an error for a signed-in user id that has no profile row', async () => {
      expect(dataOf(await gw.execute(ME, { viewer: asUser(randomUUID()) }))).toEqual({ me: null });
    });

    it('shows each user only their own interests (RLS through the gateway)', async () => {
      const [a, b] = await Promise.all([
        gw.execute(ME, { viewer: asUser(alice) }),
        gw.execute(ME, { viewer: asUser(bob) }),
      ]);
      expect(dataOf(a).me!.interests).toHaveLength(4);
      const bobs = dataOf(b).me!.interests;
      expect(bobs.map((i) => i.interest.name)).toEqual(['Origami']);
      expect(bobs[0]!.affinity).toBeCloseTo(0.7, 5);
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM user_interests');
      expect(rows[0]!.n).toBe(5);
    });
  });

  describe('profile(handle)', () => {
    it.each([
      ['anonymous', anonymous],
      ['service', service],
    ] as const)('returns another user’s public fields to an %s viewer', async (_label, viewer) => {
      const { profile } = dataOf(await gw.execute(PROFILE, { viewer, variables: { handle: 'alice' } }));
      expect(profile).toEqual({ id: alice, handle: 'alice', displayName: 'Alice A', followerCount: 0 });
    });

    it('returns another user’s public fields to a signed-in user', async () => {
      const { profile } = dataOf(
        await gw.execute(PROFILE, { viewer: asUser(bob), variables: { handle: 'alice' } }),
      );
      expect(profile).toMatchObject({ id: alice, handle: 'alice' });
    });

    it.each(['Alice', 'ALICE', '  alice '])('looks the handle "%s" up case-insensitively', async (handle) => {
      const { profile } = dataOf(await gw.execute(PROFILE, { variables: { handle } }));
      expect(profile?.id).toBe(alice);
    });

    it.each(['nobody_here', 'ab', 'a!ice', '', 'x'.repeat(31), "alice' OR '1'='1"])(
      'returns null without an error for the unknown or invalid handle "%s"',
      async (handle) => {
        expect(dataOf(await gw.execute(PROFILE, { variables: { handle } }))).toEqual({
          profile: null,
        });
      },
    );
  });

  describe('schemaMigrations', () => {
    it('shows an admin every applied migration and none pending', async () => {
      const result = await gw.execute(MIGRATIONS, { viewer: { role: 'admin', userId: admin } });
      const { schemaMigrations } = dataOf(result);
      const expected = (await readMigrations()).map((m) => m.name);
      expect(expected.length).toBeGreaterThan(0);
      expect(schemaMigrations).toEqual({ applied: expected, pending: [] });
    });

    it.each([
      ['a user', 'FORBIDDEN', { role: 'user', userId: randomUUID() }],
      ['a service', 'FORBIDDEN', service],
      ['an anonymous caller', 'UNAUTHENTICATED', anonymous],
    ] as const)('refuses %s with %s', async (_label, code, viewer) => {
      const result = await gw.execute(MIGRATIONS, { viewer });
      expectErrorCode(result, code);
      expect(result.data ?? null).toBeNull();
    });
  });
});
