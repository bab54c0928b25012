import type pg from 'pg';
import { describe, expect } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import {
  applyLikeCoengagement,
  COENGAGEMENT_PARAMS,
  rebuildCoengagement,
  rebuildCoengagementBatch,
  type CoengagementParams,
} from '../../src/feed/coengagement.js';
import { refreshDerived } from '../../src/import/refreshDerived.js';
import { createLogger } from '../../src/platform/logger.js';
import { handleEvent } from '../../src/worker/handlers.js';
import { defaultMaintenanceTasks, runDueMaintenance } from '../../src/worker/maintenance.js';
import {
  insertCategory,
  insertListing,
  insertProfile,
  sqlStateOf,
  withRollback,
} from '../support/fixtures.js';
import { enqueueEvents, runUntilSettled } from '../support/workerHarness.js';
import { test } from '../support/testFixtures.js';

/**
 * listing_coengagement on a hand-made fixture (five listings A–E, five users), values worked out by hand:
 *
 *   u1: A B C   u2: A B   u3: A B C D   u4: C D   u5: A E      (likes in this order, oldest first)
 *   likes: A 4, B 3, C 3, D 2, E 1
 *   together: AB 3 (u1 u2 u3), AC 2, BC 2, CD 2 (u3 u4); AD, AE, BD 1 (below the support of 2)
 *   score: AB 3/√12, AC 2/√12, BC 2/√9, CD 2/√6
 */

type Name = 'A' | 'B' | 'C' | 'D' | 'E';
const NAMES: Name[] = ['A', 'B', 'C', 'D', 'E'];
const HISTORY: Record<string, Name[]> = {
  u1: ['A', 'B', 'C'],
  u2: ['A', 'B'],
  u3: ['A', 'B', 'C', 'D'],
  u4: ['C', 'D'],
  u5: ['A', 'E'],
};

interface Fixture {
  id: Record<Name, number>;
  user: Record<string, string>;
  name: (id: number) => Name;
}

async function buildFixture(pool: pg.Pool): Promise<Fixture> {
  const category = await insertCategory(pool);
  const id = {} as Record<Name, number>;
  for (const n of NAMES) id[n] = await insertListing(pool, { categoryId: category, title: n });
  const user: Record<string, string> = {};
  let minute = 0;
  for (const [u, liked] of Object.entries(HISTORY)) {
    user[u] = await insertProfile(pool);
    for (const n of liked) {
      minute += 1;
      await pool.query(
        `INSERT INTO likes (user_id, listing_id, created_at) VALUES ($1, $2, now() - interval '1 day' + make_interval(mins => $3))`,
        [user[u], id[n], minute],
      );
    }
  }
  const byId = new Map(NAMES.map((n) => [id[n], n]));
  return { id, user, name: (listing) => byId.get(listing)! };
}

/** The fixture's rows as "XY" → [together, score]. */
async function table(pool: pg.Pool, f: Fixture): Promise<Record<string, [number, number]>> {
  const { rows } = await pool.query<{
    listing_id: number;
    neighbour_id: number;
    together: number;
    score: number;
  }>(
    `SELECT listing_id, neighbour_id, together, score FROM listing_coengagement
      WHERE listing_id = ANY($1::int[]) ORDER BY listing_id, neighbour_id`,
    [Object.values(f.id)],
  );
  return Object.fromEntries(
    rows.map((r) => [f.name(r.listing_id) + f.name(r.neighbour_id), [r.together, r.score]]),
  );
}

const close = (actual: Record<string, [number, number]>, expected: Record<string, [number, number]>) => {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [pair, [together, score]] of Object.entries(expected)) {
    expect(actual[pair]![0], pair).toBe(together);
    expect(actual[pair]![1], pair).toBeCloseTo(score, 6);
  }
};

const both = (pairs: Record<string, [number, number]>): Record<string, [number, number]> =>
  Object.fromEntries(
    Object.entries(pairs).flatMap(([p, v]) => [
      [p, v],
      [p[1]! + p[0]!, v],
    ]),
  );

const FIXTURE_TABLE = both({
  AB: [3, 3 / Math.sqrt(12)],
  AC: [2, 2 / Math.sqrt(12)],
  BC: [2, 2 / Math.sqrt(9)],
  CD: [2, 2 / Math.sqrt(6)],
});

const logger = createLogger(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }));

describe('co-engagement ("liked together")', () => {
  test('a rebuild gives the exact together and score, both directions, pairs below the support left out; a second run writes nothing', async ({
    db,
  }) => {
    const f = await buildFixture(db.pool);
    expect(await rebuildCoengagement(db.pool, { batch: 2 })).toBe(8);
    close(await table(db.pool, f), FIXTURE_TABLE);
    expect(await rebuildCoengagement(db.pool)).toBe(0);
  });

  test('top K: each listing keeps only its best neighbours by score', async ({ db }) => {
    const f = await buildFixture(db.pool);
    await rebuildCoengagement(db.pool, { params: { ...COENGAGEMENT_PARAMS, topK: 1 } });
    close(await table(db.pool, f), {
      AB: FIXTURE_TABLE.AB!,
      BA: FIXTURE_TABLE.BA!,
      CD: FIXTURE_TABLE.CD!,
      DC: FIXTURE_TABLE.DC!,
    });
    await rebuildCoengagement(db.pool);
    close(await table(db.pool, f), FIXTURE_TABLE);
  });

  test('per-user bound: only each user’s latest N likes pair up and count', async ({ db }) => {
    const f = await buildFixture(db.pool);
    // N = 2: u1 → B C, u2 → A B, u3 → C D, u4 → C D, u5 → A E; likes counted so: A 2, B 2, C 3, D 2, E 1.
    const params: CoengagementParams = { userLikes: 2, minSupport: 1, topK: 50 };
    await rebuildCoengagement(db.pool, { params });
    close(
      await table(db.pool, f),
      both({
        AB: [1, 1 / Math.sqrt(4)],
        AE: [1, 1 / Math.sqrt(2)],
        BC: [1, 1 / Math.sqrt(6)],
        CD: [2, 2 / Math.sqrt(6)],
      }),
    );
    await rebuildCoengagement(db.pool, { params: { ...params, minSupport: 2 } });
    close(await table(db.pool, f), both({ CD: [2, 2 / Math.sqrt(6)] }));
  });

  test('like.created and like.deleted events: the like’s pairs move, and like + unlike leaves what a rebuild gives', async ({
    db,
  }) => {
    const f = await buildFixture(db.pool);
    await rebuildCoengagement(db.pool);
    const like = { userId: f.user.u4!, listingId: f.id.B };
    // u4 (C D) likes B: B has 4 likes; BC 2 → 3 (an existing row), BD a new pair of exact count 2 (u3 u4).
    const event = async (kind: 'like.created' | 'like.deleted', sql: string) => {
      await db.pool.query(sql, [like.userId, like.listingId]);
      await runUntilSettled(db.pool, 'events', handleEvent, await enqueueEvents(db.pool, kind, [like]));
    };
    await event('like.created', 'INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)');
    const liked = await table(db.pool, f);
    for (const [pair, value] of Object.entries(
      both({ BC: [3, 3 / Math.sqrt(12)], BD: [2, 2 / Math.sqrt(8)], CD: FIXTURE_TABLE.CD! }),
    )) {
      expect(liked[pair]![0], pair).toBe(value[0]);
      expect(liked[pair]![1], pair).toBeCloseTo(value[1], 6);
    }
    // Pairs the like did not touch keep their score until the rebuild (AB is 3/√16 after it).
    expect(liked.AB![1]).toBeCloseTo(3 / Math.sqrt(12), 6);

    await event('like.deleted', 'DELETE FROM likes WHERE user_id = $1 AND listing_id = $2');
    close(await table(db.pool, f), FIXTURE_TABLE);
    expect(await rebuildCoengagement(db.pool)).toBe(0);
  });

  test('incremental: a like trims the touched listings back to top K; an unlike below the support deletes', async ({
    db,
  }) => {
    const f = await buildFixture(db.pool);
    const params: CoengagementParams = { ...COENGAGEMENT_PARAMS, topK: 1 };
    await rebuildCoengagement(db.pool, { params });
    // u4 likes B: BC (3/√12 = 0.866) overtakes CD (0.816) for C and is the best of B (AB 3/√12 ties it: A < C).
    await db.pool.query(`INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)`, [f.user.u4, f.id.B]);
    const written = await withRollback(db, async (tx) => {
      const n = await applyLikeCoengagement(tx, { userId: f.user.u4!, listingId: f.id.B }, 1, params);
      const counts = await tx.query<{ listing_id: number; n: number }>(
        `SELECT listing_id, count(*)::int AS n FROM listing_coengagement WHERE listing_id = ANY($1::int[]) GROUP BY 1`,
        [Object.values(f.id)],
      );
      for (const row of counts.rows) expect(row.n, f.name(row.listing_id)).toBe(1);
      const top = await tx.query<{ neighbour_id: number }>(
        'SELECT neighbour_id FROM listing_coengagement WHERE listing_id = $1',
        [f.id.C],
      );
      expect(top.rows.map((r) => f.name(r.neighbour_id))).toEqual(['B']);
      return n;
    });
    expect(written).toBeGreaterThan(0);
    // An unlike of a pair at the support (CD = 2) drops it.
    await db.pool.query(`DELETE FROM likes WHERE user_id = $1 AND listing_id = $2`, [f.user.u3, f.id.D]);
    await withRollback(db, async (tx) => {
      await applyLikeCoengagement(tx, { userId: f.user.u3!, listingId: f.id.D }, -1, params);
      expect(await table(db.pool, f)).toHaveProperty('CD');
      const { rows } = await tx.query(
        'SELECT 1 FROM listing_coengagement WHERE listing_id = $1 AND neighbour_id = $2',
        [f.id.C, f.id.D],
      );
      expect(rows).toEqual([]);
    });
  });

  test('bad parameters are refused with 22023', async ({ db }) => {
    await withRollback(db, async (tx) => {
      expect(await sqlStateOf(tx, 'SELECT * FROM coengagement_rebuild_batch(NULL, 0, 100, 2, 50)')).toBe(
        '22023',
      );
      expect(await sqlStateOf(tx, 'SELECT * FROM coengagement_rebuild_batch(NULL, 10, 1, 2, 50)')).toBe(
        '22023',
      );
      expect(await rebuildCoengagementBatch(tx, 2_000_000_000, 10)).toEqual({
        lastId: null,
        listings: 0,
        changed: 0,
      });
      expect(
        await sqlStateOf(tx, 'SELECT coengagement_apply_like(gen_random_uuid(), 1, 2, 100, 2, 50)'),
      ).toBe('22023');
    });
  });

  test('the importer’s derived step and the bounded daily task build it', async ({ db }) => {
    const f = await buildFixture(db.pool);
    await db.pool.query('DELETE FROM listing_coengagement');
    const counts = await refreshDerived(db.pool, () => undefined);
    expect(counts.coengagement).toBeGreaterThanOrEqual(8);
    close(await table(db.pool, f), FIXTURE_TABLE);

    await db.pool.query('DELETE FROM listing_coengagement');
    const tasks = defaultMaintenanceTasks({
      bounds: { gcRowsPerRun: 2000, maxIndexBuildRows: 10_000, coengagementListingsPerRun: 2 },
    }).filter((t) => t.name === 'rebuild_coengagement');
    const { rows: all } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM marketplace_listings',
    );
    const results: { listings: number; more?: boolean }[] = [];
    for (let run = 0; run < 1000; run += 1) {
      expect(await runDueMaintenance(db.pool, tasks, logger)).toEqual(['rebuild_coengagement']);
      const { rows } = await db.pool.query<{ last_result: { listings: number; more?: boolean } }>(
        `SELECT last_result FROM maintenance_runs WHERE task = 'rebuild_coengagement'`,
      );
      results.push(rows[0]!.last_result);
      if (!rows[0]!.last_result.more) break;
    }
    // Two listings a run, each run resuming where the last stopped, until every listing was done once.
    expect(results.slice(0, -1).every((r) => r.listings === 2 && r.more === true)).toBe(true);
    expect(results.reduce((sum, r) => sum + r.listings, 0)).toBe(all[0]!.n);
    close(await table(db.pool, f), FIXTURE_TABLE);
    // Done: not due again within the day.
    expect(await runDueMaintenance(db.pool, tasks, logger)).toEqual([]);
  });
});
