import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profileEmbeddingsSql } from '../../src/db/seed/finalizeDatabase.js';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import { clusterCentre, clusterVector } from '../support/feedWorld.js';
import {
  insertCategory,
  insertIntentSignal,
  insertInterest,
  insertLearningEvent,
  insertListing,
  insertProfile,
  insertUserInterest,
  parseVector,
  type Queryable,
  toVectorLiteral,
  withRollback,
} from '../support/fixtures.js';

/**
 * Profiles from behaviour (issue #16): recompute_profile_embedding blends the interest embedding with
 * the embeddings of the listings the user engaged with (prisma/migrations/20261204010000_behaviour_profiles).
 * Category A's listings and interest sit around cluster 0, category B's around cluster 1 (orthogonal).
 */

let db: TestDatabase;
let categoryA = 0;
let categoryB = 0;
let interestA = 0;
const listingsA: { id: number; embedding: number[] }[] = [];
const listingsB: { id: number; embedding: number[] }[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  categoryA = await insertCategory(db.pool);
  categoryB = await insertCategory(db.pool);
  interestA = await insertInterest(db.pool, { categoryId: categoryA, embedding: clusterCentre(0) });
  for (let i = 0; i < 8; i += 1) {
    const a = clusterVector(0, 100 + i);
    const b = clusterVector(1, 200 + i);
    listingsA.push({
      id: await insertListing(db.pool, { categoryId: categoryA, embedding: a }),
      embedding: a,
    });
    listingsB.push({
      id: await insertListing(db.pool, { categoryId: categoryB, embedding: b }),
      embedding: b,
    });
  }
});

afterAll(async () => {
  await db?.drop();
});

const unit = (v: readonly number[]): number[] => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, x, i) => s + x * b[i]!, 0);
const cosine = (a: readonly number[], b: readonly number[]): number => dot(unit(a), unit(b));

/** A user with interest A (affinity 0.8) and an old embedding_updated_at, so a request recomputes now. */
async function userWithInterestA(client: pg.ClientBase): Promise<string> {
  const user = await insertProfile(client);
  await insertUserInterest(client, { userId: user, interestId: interestA, affinity: 0.8 });
  await client.query(
    `UPDATE profiles SET embedding_updated_at = now() - interval '1 day' WHERE user_id = $1`,
    [user],
  );
  return user;
}

async function like(client: pg.ClientBase, user: string, listing: number, ago = '0 seconds'): Promise<void> {
  await client.query(
    `INSERT INTO likes (user_id, listing_id, created_at) VALUES ($1, $2, now() - $3::interval)`,
    [user, listing, ago],
  );
}

async function recompute(client: pg.ClientBase, user: string): Promise<number[] | null> {
  await client.query('SELECT recompute_profile_embedding($1)', [user]);
  return storedProfile(client, user);
}

async function storedProfile(client: Queryable, user: string): Promise<number[] | null> {
  const { rows } = await client.query<{ e: string | null }>(
    'SELECT embedding::text AS e FROM profiles WHERE user_id = $1',
    [user],
  );
  return rows[0]!.e === null ? null : parseVector(rows[0]!.e);
}

async function setBehaviour(client: pg.ClientBase, value: 'on' | 'off' | ''): Promise<void> {
  await client.query(`SELECT set_config('lodestar.profile_behaviour', $1, true)`, [value]);
}

describe('recompute_profile_embedding from behaviour', () => {
  it('with interests in A and six likes in B: unit((1 − α)·I + α·B), α = 6/11, nearer B than A', async () => {
    await withRollback(db, async (client) => {
      const user = await userWithInterestA(client);
      const liked = listingsB.slice(0, 6);
      for (const l of liked) await like(client, user, l.id);
      const profile = (await recompute(client, user))!;

      const alpha = 6 / 11;
      const b = unit(
        liked.reduce((s, l) => s.map((x, i) => x + unit(l.embedding)[i]!), new Array<number>(384).fill(0)),
      );
      const expected = unit(clusterCentre(0).map((x, i) => (1 - alpha) * x + alpha * b[i]!));
      profile.forEach((v, i) => expect(Math.abs(v - expected[i]!), `component ${i}`).toBeLessThan(1e-5));
      expect(cosine(profile, clusterCentre(1))).toBeGreaterThan(cosine(profile, clusterCentre(0)));
      // An unliked listing of B is nearer than every listing of A.
      const nearestA = Math.max(...listingsA.map((l) => cosine(profile, l.embedding)));
      expect(cosine(profile, listingsB[7]!.embedding)).toBeGreaterThan(nearestA);
    });
  });

  it('without any history is exactly the interest vector (the cold start), whether on or off', async () => {
    await withRollback(db, async (client) => {
      const user = await userWithInterestA(client);
      await setBehaviour(client, 'on');
      expect(await recompute(client, user)).toEqual(clusterCentre(0));
      await setBehaviour(client, 'off');
      expect(await recompute(client, user)).toEqual(clusterCentre(0));
    });
  });

  it("'off' gives the interest-only profile although the user liked listings; unset means on", async () => {
    await withRollback(db, async (client) => {
      const user = await userWithInterestA(client);
      for (const l of listingsB.slice(0, 3)) await like(client, user, l.id);
      await setBehaviour(client, 'off');
      expect(await recompute(client, user)).toEqual(clusterCentre(0));
      await setBehaviour(client, '');
      const unset = (await recompute(client, user))!;
      await setBehaviour(client, 'on');
      expect(await recompute(client, user)).toEqual(unset);
      expect(cosine(unset, clusterCentre(1))).toBeGreaterThan(0.2);
    });
  });

  it('a hidden listing lowers the cosine to it (hide_listing recomputes at once)', async () => {
    await withRollback(db, async (client) => {
      const user = await userWithInterestA(client);
      for (const l of listingsB.slice(0, 3)) await like(client, user, l.id);
      const target = listingsA[3]!; // in the interest's category: the interests alone would keep it close
      const before = (await recompute(client, user))!;
      await client.query(
        `UPDATE profiles SET embedding_updated_at = now() - interval '1 day' WHERE user_id = $1`,
        [user],
      );
      await client.query('SET LOCAL ROLE lodestar_app');
      await client.query(
        `SELECT set_config('lodestar.user_id', $1, true), set_config('lodestar.role', 'user', true)`,
        [user],
      );
      await client.query('SELECT hide_listing($1)', [target.id]);
      await client.query('RESET ROLE');
      const after = (await storedProfile(client, user))!;
      expect(cosine(after, target.embedding)).toBeLessThan(cosine(before, target.embedding) - 0.05);
    });
  });

  it('decays with a 180-day half-life counted back from the user’s latest interaction, so a year-old history counts', async () => {
    await withRollback(db, async (client) => {
      const fresh = await insertProfile(client);
      const old = await insertProfile(client);
      const [l1, l2] = [listingsB[0]!, listingsA[0]!];
      await like(client, fresh, l1.id);
      await like(client, fresh, l2.id, '180 days');
      await like(client, old, l1.id, '365 days');
      await like(client, old, l2.id, '545 days');
      const freshProfile = (await recompute(client, fresh))!;
      const oldProfile = (await recompute(client, old))!;
      // No interests: B alone, the newer like at weight 1 and the 180-days-older one at 1/2.
      const expected = unit(unit(l1.embedding).map((x, i) => x + 0.5 * unit(l2.embedding)[i]!));
      freshProfile.forEach((v, i) => expect(Math.abs(v - expected[i]!), `component ${i}`).toBeLessThan(1e-5));
      oldProfile.forEach((v, i) =>
        expect(Math.abs(v - freshProfile[i]!), `component ${i}`).toBeLessThan(1e-6),
      );
    });
  });

  it('weighs positive feedback by its reward and intent signals by engagement_weight', async () => {
    await withRollback(db, async (client) => {
      const user = await insertProfile(client);
      const [rewarded, saved, viewed] = [listingsB[0]!, listingsA[1]!, listingsA[2]!];
      const event = await insertLearningEvent(client, { userId: user, listingId: rewarded.id });
      await client.query(`UPDATE learning_events SET reward = 0.6, rewarded_at = created_at WHERE id = $1`, [
        event,
      ]);
      await insertIntentSignal(client, { userId: user, listingId: saved.id, kind: 'save' });
      await insertIntentSignal(client, { userId: user, listingId: viewed.id, kind: 'view' });
      await insertIntentSignal(client, { userId: user, listingId: viewed.id, kind: 'view' });
      const profile = (await recompute(client, user))!;
      // Each listing counts once, at its strongest signal: 0.6, 0.5 and 0.2 (two views are one).
      const sum = new Array<number>(384)
        .fill(0)
        .map(
          (_, i) =>
            0.6 * unit(rewarded.embedding)[i]! +
            0.5 * unit(saved.embedding)[i]! +
            0.2 * unit(viewed.embedding)[i]!,
        );
      const expected = unit(sum);
      profile.forEach((v, i) => expect(Math.abs(v - expected[i]!), `component ${i}`).toBeLessThan(1e-5));
    });
  });

  it('is NULL with neither interests nor positive engagement (hides alone do not make a profile)', async () => {
    await withRollback(db, async (client) => {
      const user = await insertProfile(client);
      await client.query('INSERT INTO hidden_listings (user_id, listing_id) VALUES ($1, $2)', [
        user,
        listingsA[0]!.id,
      ]);
      expect(
        (await client.query<{ v: boolean }>('SELECT recompute_profile_embedding($1) AS v', [user])).rows[0]!
          .v,
      ).toBe(false);
      expect(await storedProfile(client, user)).toBeNull();
    });
  });

  it('reads only the latest 200 likes: older ones beyond that do not move the profile', async () => {
    await withRollback(db, async (client) => {
      const user = await insertProfile(client);
      const other = await insertListing(client, { categoryId: categoryA, embedding: clusterVector(2, 999) });
      await client.query(
        `INSERT INTO marketplace_listings (category_id, title, price, status, embedding)
         SELECT $1, 'bulk', 10, 'active', $2::vector FROM generate_series(1, 200)`,
        [categoryB, toVectorLiteral(listingsB[0]!.embedding)],
      );
      await client.query(
        `INSERT INTO likes (user_id, listing_id, created_at)
         SELECT $1, id, now() - interval '1 minute' FROM marketplace_listings WHERE title = 'bulk'`,
        [user],
      );
      const without = (await recompute(client, user))!;
      await like(client, user, other, '1 day');
      expect(await recompute(client, user)).toEqual(without);
    });
  });
});

describe('the set-based statement (seed, import refresh)', () => {
  it.each(['on', 'off'] as const)('computes what the function computes, behaviour %s', async (mode) => {
    await withRollback(db, async (client) => {
      await setBehaviour(client, mode);
      const users: string[] = [];
      for (let u = 0; u < 6; u += 1) {
        const user = u % 3 === 2 ? await insertProfile(client) : await userWithInterestA(client);
        users.push(user);
        if (u % 3 === 2) continue; // no interests and no history: NULL
        for (const [k, l] of listingsB.entries()) {
          if ((k + u) % 2 === 0) await like(client, user, l.id, `${30 * k + 365 * u} days`);
        }
        const event = await insertLearningEvent(client, { userId: user, listingId: listingsA[u]!.id });
        await client.query(`UPDATE learning_events SET reward = 0.7, rewarded_at = now() WHERE id = $1`, [
          event,
        ]);
        await insertIntentSignal(client, { userId: user, listingId: listingsA[7 - u]!.id, kind: 'share' });
        await insertIntentSignal(client, { userId: user, listingId: listingsB[u]!.id, kind: 'dwell' });
        await client.query('INSERT INTO hidden_listings (user_id, listing_id) VALUES ($1, $2)', [
          user,
          listingsB[(u + 1) % 8]!.id,
        ]);
      }
      await client.query(profileEmbeddingsSql, [new Date().toISOString(), users]);
      for (const user of users) {
        const bulk = await storedProfile(client, user);
        const online = await recompute(client, user);
        if (bulk === null || online === null) {
          expect(bulk, user).toBe(online);
          continue;
        }
        bulk.forEach((v, i) => expect(Math.abs(v - online[i]!), `component ${i}`).toBeLessThan(1e-6));
      }
      expect(await storedProfile(client, users[2]!)).toBeNull();
    });
  });
});

describe('every interaction requests a coalesced recompute', () => {
  it('a like without a matching interest recomputes the profile (reinforce_listing_interests), a burst once', async () => {
    await withRollback(db, async (client) => {
      const user = await userWithInterestA(client);
      await client.query('SELECT recompute_profile_embedding($1)', [user]);
      await client.query(
        `UPDATE profiles SET embedding_updated_at = now() - interval '1 day' WHERE user_id = $1`,
        [user],
      );
      const before = (await storedProfile(client, user))!;
      await like(client, user, listingsB[0]!.id);
      const changed = await client.query<{ n: number }>(
        'SELECT reinforce_listing_interests($1, $2, 0.05) AS n',
        [user, listingsB[0]!.id],
      );
      expect(changed.rows[0]!.n).toBe(0); // no interest in B's category
      const after = (await storedProfile(client, user))!;
      expect(cosine(after, clusterCentre(1))).toBeGreaterThan(cosine(before, clusterCentre(1)) + 0.1);

      // A second like within the interval is coalesced into one trailing queue item.
      await like(client, user, listingsB[1]!.id);
      await client.query('SELECT reinforce_listing_interests($1, $2, 0.05)', [user, listingsB[1]!.id]);
      await client.query('SELECT reinforce_listing_interests($1, $2, 0.05)', [user, listingsB[2]!.id]);
      expect(await storedProfile(client, user)).toEqual(after);
      const queued = await client.query(
        `SELECT 1 FROM events_queue WHERE kind = 'profile.recompute' AND payload ->> 'userId' = $1`,
        [user],
      );
      expect(queued.rowCount).toBe(1);
    });
  });

  it('positive feedback without a matching interest recomputes the profile', async () => {
    const user = await insertProfile(db.pool);
    try {
      await insertUserInterest(db.pool, { userId: user, interestId: interestA, affinity: 0.8 });
      const event = await insertLearningEvent(db.pool, { userId: user, listingId: listingsB[3]!.id });
      await asIdentity(
        db,
        { userId: user, role: 'user' },
        (client) => client.query('SELECT record_learning_reward($1, 1)', [event]),
        { commit: true },
      );
      const profile = (await storedProfile(db.pool, user))!;
      expect(profile).not.toBeNull();
      expect(cosine(profile, listingsB[3]!.embedding)).toBeGreaterThan(0.15);
    } finally {
      await db.pool.query('DELETE FROM profiles WHERE user_id = $1', [user]);
    }
  });
});
