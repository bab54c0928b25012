import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  embeddingFor,
  insertCategory,
  insertIntentSignal,
  insertInterest,
  insertLearningEvent,
  insertListing,
  insertProfile,
  insertUserInterest,
  parseVector,
  sqlStateOf,
  withRollback,
} from '../support/fixtures.js';

let db: TestDatabase;
let categoryId = 0;
let alice = '';
let bob = '';
let listing = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  categoryId = await insertCategory(db.pool);
  alice = await insertProfile(db.pool);
  bob = await insertProfile(db.pool);
  listing = await insertListing(db.pool, { categoryId, sellerId: bob });
});

afterAll(async () => {
  await db?.drop();
});

async function scalar<T>(client: pg.ClientBase | pg.Pool, text: string, values: unknown[] = []): Promise<T> {
  const { rows } = await client.query<{ v: T }>(text, values);
  return rows[0]!.v;
}

describe('recompute_profile_embedding', () => {
  it('sets the unit-length affinity-weighted mean of the interest embeddings and returns true', async () => {
    await withRollback(db, async (client) => {
      const picks = [
        { seed: 11, affinity: 0.8 },
        { seed: 12, affinity: 0.3 },
        { seed: 13, affinity: 0.55 },
      ];
      const expected = new Array<number>(384).fill(0);
      for (const p of picks) {
        const e = embeddingFor(p.seed);
        const interestId = await insertInterest(client, { categoryId, embedding: e });
        await insertUserInterest(client, { userId: alice, interestId, affinity: p.affinity });
        e.forEach((v, i) => (expected[i]! += Math.fround(p.affinity) * v));
      }
      // Neither a zero-affinity interest nor one without an embedding may move the result.
      const zero = await insertInterest(client, { categoryId, embedding: embeddingFor(14) });
      await insertUserInterest(client, { userId: alice, interestId: zero, affinity: 0 });
      const noVec = await insertInterest(client, { categoryId, embedding: null });
      await insertUserInterest(client, { userId: alice, interestId: noVec, affinity: 0.9 });
      const norm = Math.hypot(...expected);

      expect(await scalar<boolean>(client, 'SELECT recompute_profile_embedding($1) AS v', [alice])).toBe(
        true,
      );
      const { rows } = await client.query<{ embedding: string; updated: boolean; norm: number }>(
        `SELECT embedding::text, embedding_updated_at = now() AS updated, vector_norm(embedding) AS norm
         FROM profiles WHERE user_id = $1`,
        [alice],
      );
      const actual = parseVector(rows[0]!.embedding);
      expect(actual).toHaveLength(384);
      actual.forEach((v, i) =>
        expect(Math.abs(v - expected[i]! / norm), `component ${i}`).toBeLessThan(1e-5),
      );
      expect(rows[0]!.norm).toBeCloseTo(1, 5);
      expect(rows[0]!.updated).toBe(true);
    });
  });

  it('clears the embedding and returns false for a user with no interests', async () => {
    await withRollback(db, async (client) => {
      await client.query(
        `UPDATE profiles SET embedding = $2::vector, embedding_updated_at = NULL WHERE user_id = $1`,
        [bob, `[${embeddingFor(5).join(',')}]`],
      );
      expect(await scalar<boolean>(client, 'SELECT recompute_profile_embedding($1) AS v', [bob])).toBe(false);
      const { rows } = await client.query<{ embedding: string | null; embedding_updated_at: Date | null }>(
        'SELECT embedding::text, embedding_updated_at FROM profiles WHERE user_id = $1',
        [bob],
      );
      expect(rows[0]).toEqual({ embedding: null, embedding_updated_at: expect.any(Date) as Date });
    });
  });
});

describe.each([
  { fn: 'gc_intent_signals', table: 'intent_signals', days: 90 },
  { fn: 'gc_learning_events', table: 'learning_events', days: 180 },
])('$fn', ({ fn, table, days }) => {
  const insertAged = async (client: pg.PoolClient, ageDays: number): Promise<void> => {
    const createdAgo = `${ageDays} days`;
    if (table === 'intent_signals')
      await insertIntentSignal(client, { userId: alice, listingId: listing, createdAgo });
    else await insertLearningEvent(client, { userId: alice, listingId: listing, createdAgo });
  };
  const ages = async (client: pg.PoolClient): Promise<number[]> => {
    const { rows } = await client.query<{ d: number }>(
      `SELECT round(extract(epoch FROM now() - created_at) / 86400)::int AS d FROM ${table} ORDER BY 1`,
    );
    return rows.map((r) => r.d);
  };
  const gc = (client: pg.PoolClient, args = ''): Promise<number> =>
    scalar<string>(client, `SELECT ${fn}(${args}) AS v`).then(Number);

  it(`deletes only rows older than ${days} days by default and returns how many`, async () => {
    await withRollback(db, async (client) => {
      await client.query(`DELETE FROM ${table}`);
      for (const age of [0, days - 1, days + 1, days + 30]) await insertAged(client, age);
      expect(await gc(client)).toBe(2);
      expect(await ages(client)).toEqual([0, days - 1]);
      expect(await gc(client)).toBe(0);
    });
  });

  it('honours a custom retention', async () => {
    await withRollback(db, async (client) => {
      await client.query(`DELETE FROM ${table}`);
      for (const age of [29, 31, 60]) await insertAged(client, age);
      expect(await gc(client, `interval '30 days'`)).toBe(2);
      expect(await ages(client)).toEqual([29]);
    });
  });

  it('stops at p_max_rows in one call', async () => {
    await withRollback(db, async (client) => {
      await client.query(`DELETE FROM ${table}`);
      for (let i = 0; i < 5; i += 1) await insertAged(client, days + 10 + i);
      expect(await gc(client, 'p_batch => 2, p_max_rows => 3')).toBe(3);
      expect(await ages(client)).toHaveLength(2);
    });
  });

  it('deletes every expired row even when p_batch is smaller than their number', async () => {
    await withRollback(db, async (client) => {
      await client.query(`DELETE FROM ${table}`);
      for (let i = 0; i < 7; i += 1) await insertAged(client, days + 10 + i);
      await insertAged(client, 1);
      expect(await gc(client, 'p_batch => 2')).toBe(7);
      expect(await ages(client)).toEqual([1]);
    });
  });
});

describe('decay_interest_affinity', () => {
  const t0 = '2030-01-07T09:30:00Z';
  const at = (days: number): string => new Date(Date.parse(t0) + days * 86_400_000).toISOString();

  /** Alice holds one interest reinforced at t0 with affinity 0.5; returns a reader of its affinity. */
  const setup = async (client: pg.PoolClient, reinforcedAt = t0): Promise<() => Promise<number>> => {
    await client.query('DELETE FROM user_interests');
    const interestId = await insertInterest(client, { categoryId });
    await insertUserInterest(client, { userId: alice, interestId, affinity: 0.5, reinforcedAt });
    return () =>
      scalar<number>(
        client,
        'SELECT affinity AS v FROM user_interests WHERE user_id = $1 AND interest_id = $2',
        [alice, interestId],
      );
  };
  const decay = (client: pg.PoolClient, now: string): Promise<number> =>
    scalar<string>(client, 'SELECT decay_interest_affinity($1) AS v', [now]).then(Number);

  it('multiplies by 0.98 per whole week since reinforced_at (3 weeks → ×0.98³)', async () => {
    await withRollback(db, async (client) => {
      const affinity = await setup(client);
      expect(await decay(client, at(21))).toBe(1);
      expect(await affinity()).toBeCloseTo(0.5 * 0.98 ** 3, 6);
    });
  });

  it('leaves an interest reinforced 6 days ago unchanged', async () => {
    await withRollback(db, async (client) => {
      const affinity = await setup(client);
      expect(await decay(client, at(6.99))).toBe(0);
      expect(await affinity()).toBe(0.5);
    });
  });

  it('does not decay twice when run twice at the same p_now', async () => {
    await withRollback(db, async (client) => {
      const affinity = await setup(client);
      await decay(client, at(15));
      expect(await decay(client, at(15))).toBe(0);
      expect(await affinity()).toBeCloseTo(0.5 * 0.98 ** 2, 6);
    });
  });

  it('gives the same affinity run daily for 21 days as run once at day 21', async () => {
    const daily = await withRollback(db, async (client) => {
      const affinity = await setup(client);
      for (let day = 1; day <= 21; day += 1) await decay(client, at(day));
      return affinity();
    });
    const once = await withRollback(db, async (client) => {
      const affinity = await setup(client);
      await decay(client, at(21));
      return affinity();
    });
    expect(daily).toBeCloseTo(0.5 * 0.98 ** 3, 6);
    expect(daily).toBeCloseTo(once, 6);
  });

  it('does not decay an interest reinforced recently even if it was created long ago', async () => {
    await withRollback(db, async (client) => {
      const affinity = await setup(client, at(-60));
      await decay(client, at(-10));
      const before = await affinity();
      await client.query(`UPDATE user_interests SET reinforced_at = $1`, [at(-2)]);
      expect(await decay(client, at(0))).toBe(0);
      expect(await affinity()).toBe(before);
    });
  });
});

describe('record_learning_reward', () => {
  type Identity = Parameters<typeof asIdentity>[1];
  /** A function: `alice` is only known once beforeAll has run. */
  const asAlice = (): Identity => ({ userId: alice, role: 'user' });
  const reward = (client: pg.PoolClient, id: string, value: number | null): Promise<boolean> =>
    scalar<boolean>(client, 'SELECT record_learning_reward($1, $2) AS v', [id, value]);
  /** Calls it in its own committed transaction, so a wrongly written reward would persist. */
  const rewardAs = (who: Identity, id: string, value: number): Promise<boolean> =>
    asIdentity(db, who, (c) => reward(c, id, value), { commit: true });
  const stored = async (id: string): Promise<{ reward: number | null; rewarded: boolean }> => {
    const { rows } = await db.pool.query<{ reward: number | null; rewarded: boolean }>(
      'SELECT reward, rewarded_at IS NOT NULL AS rewarded FROM learning_events WHERE id = $1',
      [id],
    );
    return rows[0]!;
  };
  const impressionOf = (userId: string | null): Promise<string> =>
    insertLearningEvent(db.pool, { userId, listingId: listing });

  it('lets a user reward their own impression once; a second call returns false and keeps the first', async () => {
    const id = await impressionOf(alice);
    expect(await rewardAs(asAlice(), id, 0.75)).toBe(true);
    expect(await rewardAs(asAlice(), id, 0.25)).toBe(false);
    expect(await stored(id)).toEqual({ reward: 0.75, rewarded: true });
  });

  it("refuses to reward another user's impression", async () => {
    const id = await impressionOf(alice);
    expect(await rewardAs({ userId: bob, role: 'user' }, id, 0.5)).toBe(false);
    expect(await stored(id)).toEqual({ reward: null, rewarded: false });
  });

  it('lets the service identity reward any impression, including one without a user', async () => {
    const service: Identity = { userId: null, role: 'service' };
    const ofAlice = await impressionOf(alice);
    const anonymous = await impressionOf(null);
    expect(await rewardAs(service, ofAlice, 0.4)).toBe(true);
    expect(await rewardAs(service, anonymous, 1)).toBe(true);
    expect(await stored(ofAlice)).toEqual({ reward: 0.4, rewarded: true });
    expect(await stored(anonymous)).toEqual({ reward: 1, rewarded: true });
  });

  it.each([
    ['an anonymous caller', { userId: null, role: 'anonymous' }],
    ['a user role without a user id', { userId: null, role: 'user' }],
  ] as const)('returns false for %s and leaves the impression unrewarded', async (_name, who) => {
    const ofAlice = await impressionOf(alice);
    const anonymous = await impressionOf(null);
    expect(await rewardAs(who, ofAlice, 0.5)).toBe(false);
    expect(await rewardAs(who, anonymous, 0.5)).toBe(false);
    expect(await stored(ofAlice)).toEqual({ reward: null, rewarded: false });
    expect(await stored(anonymous)).toEqual({ reward: null, rewarded: false });
  });

  it('rejects a reward outside 0..1 with invalid_parameter_value (22023) and still accepts 0 after', async () => {
    const id = await impressionOf(alice);
    await asIdentity(db, asAlice(), async (client) => {
      for (const bad of [-0.01, 1.01, Number.NaN, null]) {
        expect(await sqlStateOf(client, 'SELECT record_learning_reward($1, $2)', [id, bad]), `${bad}`).toBe(
          '22023',
        );
      }
      expect(await reward(client, id, 0)).toBe(true);
    });
  });
});
