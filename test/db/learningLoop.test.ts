import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  embeddingFor,
  insertCategory,
  insertInterest,
  insertListing,
  insertProfile,
  insertUserInterest,
  parseVector,
  sqlStateOf,
  withRollback,
  type Queryable,
} from '../support/fixtures.js';

// The feed's learning loop (migration 20261128020000_feed_learning): likes reward the impression they
// came from, feed interactions move interest affinities, and the profile embedding follows them at most
// once per lodestar.profile_recompute_interval.

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

type Identity = Parameters<typeof asIdentity>[1];
const asUser = (userId: string): Identity => ({ userId, role: 'user' });

const HOME_SEEDS = [101, 102] as const;
const AWAY_SEED = 201;

/** One viewer with two interests in the home category and one in the away category, all at 0.5. */
interface World {
  user: string;
  bob: string;
  home: number;
  away: number;
  homeInterests: number[];
  awayInterest: number;
  /** Listings in the home category, for one like each. */
  homeListings: number[];
  awayListing: number;
}

/** Fresh per test and committed, so a test can commit as the gateway role and read back as the owner. */
async function createWorld(q: Queryable = db.pool): Promise<World> {
  const home = await insertCategory(q);
  const away = await insertCategory(q);
  const homeInterests = [
    await insertInterest(q, { categoryId: home, embedding: embeddingFor(HOME_SEEDS[0]) }),
    await insertInterest(q, { categoryId: home, embedding: embeddingFor(HOME_SEEDS[1]) }),
  ];
  const awayInterest = await insertInterest(q, { categoryId: away, embedding: embeddingFor(AWAY_SEED) });
  const user = await insertProfile(q);
  const bob = await insertProfile(q);
  const reinforcedAt = new Date(Date.now() - 3 * 86_400_000).toISOString();
  for (const interestId of [...homeInterests, awayInterest]) {
    await insertUserInterest(q, { userId: user, interestId, affinity: 0.5, reinforcedAt });
  }
  const homeListings: number[] = [];
  for (let i = 0; i < 3; i++) homeListings.push(await insertListing(q, { categoryId: home, sellerId: bob }));
  const awayListing = await insertListing(q, { categoryId: away, sellerId: bob });
  return { user, bob, home, away, homeInterests, awayInterest, homeListings, awayListing };
}

interface ImpressionOptions {
  userId: string | null;
  listingId: number;
  /** How long before now() it was served, as an interval. */
  ago?: string;
  reward?: number | null;
  policy?: string;
  source?: string;
  propensity?: number;
  context?: Record<string, string>;
}

/** An impression written as the owner, with an explicit age and optionally already rewarded. */
async function insertImpression(q: Queryable, o: ImpressionOptions): Promise<string> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, context,
                                  created_at, reward, rewarded_at)
     VALUES ($1, $2, $3, $4, $5, 0, $6, now() - $7::interval, $8::float8,
             CASE WHEN $8::float8 IS NULL THEN NULL ELSE now() END)
     RETURNING id`,
    [
      o.userId,
      o.listingId,
      o.policy ?? 'epsilon-greedy',
      o.source ?? 'SIMILAR',
      o.propensity ?? 0.5,
      JSON.stringify(o.context ?? {}),
      o.ago ?? '1 minute',
      o.reward ?? null,
    ],
  );
  return rows[0]!.id;
}

async function rewardsOf(q: Queryable, ids: readonly string[]): Promise<(number | null)[]> {
  const { rows } = await q.query<{ reward: number | null }>(
    'SELECT e.reward FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n) JOIN learning_events e USING (id) ORDER BY n',
    [ids],
  );
  return rows.map((r) => r.reward);
}

interface InterestState {
  affinity: number;
  /** reinforced_at within the last minute (fixtures start three days back). */
  fresh: boolean;
}

async function interestsOf(q: Queryable, userId: string, ids: readonly number[]): Promise<InterestState[]> {
  const { rows } = await q.query<InterestState>(
    `SELECT ui.affinity, ui.reinforced_at > now() - interval '1 minute' AS fresh
     FROM unnest($2::int[]) WITH ORDINALITY AS u(interest_id, n)
     JOIN user_interests ui ON ui.interest_id = u.interest_id AND ui.user_id = $1 ORDER BY n`,
    [userId, ids],
  );
  return rows;
}

/** Likes as the user through lodestar_app in a committed transaction, with session settings applied first. */
async function likeAs(
  userId: string,
  listingId: number,
  settings: Record<string, string> = {},
): Promise<void> {
  await asIdentity(
    db,
    asUser(userId),
    async (c) => {
      for (const [name, value] of Object.entries(settings)) {
        await c.query('SELECT set_config($1, $2, true)', [name, value]);
      }
      await c.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [userId, listingId]);
    },
    { commit: true },
  );
}

async function scalar<T>(q: Queryable, text: string, values: unknown[] = []): Promise<T> {
  const { rows } = await q.query<{ v: T }>(text, values);
  return rows[0]!.v;
}

describe('a like rewards the feed impression it came from', () => {
  it('rewards only the latest impression of that listing by that user within the window', async () => {
    const w = await createWorld();
    const [listing, other] = w.homeListings as [number, number];
    const ids = [
      await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '20 minutes' }),
      await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '5 minutes' }),
      await insertImpression(db.pool, { userId: w.bob, listingId: listing, ago: '1 minute' }),
      await insertImpression(db.pool, { userId: w.user, listingId: other, ago: '1 minute' }),
    ];
    await likeAs(w.user, listing);
    expect(await rewardsOf(db.pool, ids)).toEqual([null, 1, null, null]);
  });

  it('rewards an impression 25 minutes old but not one 40 minutes old under the default 30-minute window', async () => {
    const w = await createWorld();
    const [recent, old] = w.homeListings as [number, number];
    const ids = [
      await insertImpression(db.pool, { userId: w.user, listingId: recent, ago: '25 minutes' }),
      await insertImpression(db.pool, { userId: w.user, listingId: old, ago: '40 minutes' }),
    ];
    await likeAs(w.user, recent);
    await likeAs(w.user, old);
    expect(await rewardsOf(db.pool, ids)).toEqual([1, null]);
  });

  it('rewards nothing and leaves affinity alone for an impression outside lodestar.like_attribution_window', async () => {
    const w = await createWorld();
    const listing = w.homeListings[0]!;
    const id = await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '10 minutes' });
    await likeAs(w.user, listing, { 'lodestar.like_attribution_window': '1min' });
    expect(await rewardsOf(db.pool, [id])).toEqual([null]);
    expect(await interestsOf(db.pool, w.user, w.homeInterests)).toEqual([
      { affinity: 0.5, fresh: false },
      { affinity: 0.5, fresh: false },
    ]);
  });

  it('does not reach past the latest impression when it already has feedback', async () => {
    const w = await createWorld();
    const listing = w.homeListings[0]!;
    const ids = [
      await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '5 minutes' }),
      await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '2 minutes', reward: 0.3 }),
    ];
    await likeAs(w.user, listing);
    expect(await rewardsOf(db.pool, ids)).toEqual([null, 0.3]);
  });

  it('counts unlike + like again once', async () => {
    const w = await createWorld();
    const listing = w.homeListings[0]!;
    const ids = [
      await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '5 minutes' }),
      await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '2 minutes' }),
    ];
    await likeAs(w.user, listing);
    await asIdentity(
      db,
      asUser(w.user),
      (c) => c.query('DELETE FROM likes WHERE user_id = $1 AND listing_id = $2', [w.user, listing]),
      { commit: true },
    );
    await likeAs(w.user, listing);
    expect(await rewardsOf(db.pool, ids)).toEqual([null, 1]);
    expect((await interestsOf(db.pool, w.user, w.homeInterests)).map((i) => i.affinity)).toEqual([
      expect.closeTo(0.6, 6),
      expect.closeTo(0.6, 6),
    ]);
  });

  it('measures the window from now, so a backdated like cannot reach an older impression', async () => {
    const w = await createWorld();
    const listing = w.homeListings[0]!;
    const id = await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '2 hours' });
    await asIdentity(
      db,
      asUser(w.user),
      (c) =>
        c.query(
          `INSERT INTO likes (user_id, listing_id, created_at) VALUES ($1, $2, now() - interval '110 minutes')`,
          [w.user, listing],
        ),
      { commit: true },
    );
    expect(await rewardsOf(db.pool, [id])).toEqual([null]);
  });

  it('does not overwrite an impression already rewarded (e.g. hidden) and then teaches nothing', async () => {
    const w = await createWorld();
    const listing = w.homeListings[0]!;
    const id = await insertImpression(db.pool, { userId: w.user, listingId: listing, reward: 0 });
    await likeAs(w.user, listing);
    expect(await rewardsOf(db.pool, [id])).toEqual([0]);
    expect((await interestsOf(db.pool, w.user, w.homeInterests)).map((i) => i.affinity)).toEqual([0.5, 0.5]);
    // Still an ordinary like.
    expect(
      await scalar<number>(db.pool, 'SELECT like_count AS v FROM marketplace_listings WHERE id = $1', [
        listing,
      ]),
    ).toBe(1);
  });
});

describe('interest drift from feed interactions', () => {
  it("a rewarded like moves every interest in the listing's category up 0.1 and marks it reinforced; others stay", async () => {
    const w = await createWorld();
    const listing = w.homeListings[0]!;
    await insertImpression(db.pool, { userId: w.user, listingId: listing });
    await likeAs(w.user, listing);
    const [a, b, away] = await interestsOf(db.pool, w.user, [...w.homeInterests, w.awayInterest]);
    expect(a!.affinity).toBeCloseTo(0.6, 6);
    expect(b!.affinity).toBeCloseTo(0.6, 6);
    expect([a!.fresh, b!.fresh]).toEqual([true, true]);
    expect(away).toEqual({ affinity: 0.5, fresh: false });
  });

  it('clamps a like at affinity 1', async () => {
    const w = await createWorld();
    const listing = w.homeListings[0]!;
    await db.pool.query('UPDATE user_interests SET affinity = 0.95 WHERE user_id = $1 AND interest_id = $2', [
      w.user,
      w.homeInterests[0],
    ]);
    await insertImpression(db.pool, { userId: w.user, listingId: listing });
    await likeAs(w.user, listing);
    expect((await interestsOf(db.pool, w.user, w.homeInterests)).map((i) => i.affinity)).toEqual([
      1,
      expect.closeTo(0.6, 6),
    ]);
  });

  it('hiding moves the category down 0.1 (clamped at 0) without marking it reinforced; a second hide is a no-op', async () => {
    const w = await createWorld();
    const listing = w.homeListings[0]!;
    await db.pool.query('UPDATE user_interests SET affinity = 0.05 WHERE user_id = $1 AND interest_id = $2', [
      w.user,
      w.homeInterests[1],
    ]);
    const served = await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '3 minutes' });
    const hide = () =>
      asIdentity(db, asUser(w.user), (c) => scalar<boolean>(c, 'SELECT hide_listing($1) AS v', [listing]), {
        commit: true,
      });

    expect(await hide()).toBe(true);
    expect(await rewardsOf(db.pool, [served])).toEqual([0]);
    const after = await interestsOf(db.pool, w.user, [...w.homeInterests, w.awayInterest]);
    expect(after[0]!.affinity).toBeCloseTo(0.4, 6);
    expect(after.slice(1)).toEqual([
      { affinity: 0, fresh: false },
      { affinity: 0.5, fresh: false },
    ]);
    expect(after[0]!.fresh).toBe(false);

    // Already hidden: nothing more to learn, even from an impression served since.
    const later = await insertImpression(db.pool, { userId: w.user, listingId: listing, ago: '0 seconds' });
    expect(await hide()).toBe(false);
    expect(await rewardsOf(db.pool, [later])).toEqual([null]);
    expect(await interestsOf(db.pool, w.user, [...w.homeInterests, w.awayInterest])).toEqual(after);
  });

  it('lodestar_app cannot move affinities or trigger recomputes directly (42501)', async () => {
    const w = await createWorld();
    await asIdentity(db, asUser(w.user), async (c) => {
      expect(
        await sqlStateOf(c, 'SELECT reinforce_listing_interests($1, $2, 1)', [w.user, w.homeListings[0]]),
      ).toBe('42501');
      expect(await sqlStateOf(c, 'SELECT request_profile_recompute($1)', [w.user])).toBe('42501');
    });
  });
});

describe('record_learning_reward through the gateway role', () => {
  const rewardAs = (userId: string, id: string, value: number): Promise<boolean> =>
    asIdentity(
      db,
      asUser(userId),
      (c) => scalar<boolean>(c, 'SELECT record_learning_reward($1, $2) AS v', [id, value]),
      {
        commit: true,
      },
    );

  it('accepts a retried reward without reinforcing twice, refuses a different one and keeps the first', async () => {
    const w = await createWorld();
    const id = await insertImpression(db.pool, { userId: w.user, listingId: w.homeListings[0]! });
    const homeAffinities = async () =>
      (await interestsOf(db.pool, w.user, w.homeInterests)).map((i) => i.affinity);

    expect(await rewardAs(w.user, id, 0.8)).toBe(true);
    // +0.05 × 0.8
    expect(await homeAffinities()).toEqual([expect.closeTo(0.54, 6), expect.closeTo(0.54, 6)]);
    expect(await rewardAs(w.user, id, 0.8)).toBe(true);
    expect(await rewardAs(w.user, id, 0.2)).toBe(false);
    expect(await rewardsOf(db.pool, [id])).toEqual([0.8]);
    expect(await homeAffinities()).toEqual([expect.closeTo(0.54, 6), expect.closeTo(0.54, 6)]);
  });

  it('records a zero reward without moving any affinity', async () => {
    const w = await createWorld();
    const id = await insertImpression(db.pool, { userId: w.user, listingId: w.homeListings[0]! });
    expect(await rewardAs(w.user, id, 0)).toBe(true);
    expect(await rewardsOf(db.pool, [id])).toEqual([0]);
    expect(await interestsOf(db.pool, w.user, w.homeInterests)).toEqual([
      { affinity: 0.5, fresh: false },
      { affinity: 0.5, fresh: false },
    ]);
  });
});

describe('the profile embedding follows interactions, at most once per interval', () => {
  interface ProfileState {
    embedding: number[] | null;
    recomputedNow: boolean;
    updatedAt: Date | null;
  }
  const profileOf = async (q: Queryable, userId: string): Promise<ProfileState> => {
    const { rows } = await q.query<{ embedding: string | null; now: boolean; at: Date | null }>(
      `SELECT embedding::text, embedding_updated_at = now() AS now, embedding_updated_at AS at
       FROM profiles WHERE user_id = $1`,
      [userId],
    );
    const row = rows[0]!;
    return {
      embedding: row.embedding ? parseVector(row.embedding) : null,
      recomputedNow: row.now,
      updatedAt: row.at,
    };
  };
  /** The unit-length affinity-weighted mean of the interest embeddings, from the current affinities. */
  const expectedEmbedding = async (q: Queryable, userId: string): Promise<number[]> => {
    const { rows } = await q.query<{ affinity: number; embedding: string }>(
      `SELECT ui.affinity, ic.embedding::text FROM user_interests ui JOIN interest_catalog ic ON ic.id = ui.interest_id
       WHERE ui.user_id = $1 AND ui.affinity > 0`,
      [userId],
    );
    const sum = new Array<number>(384).fill(0);
    for (const r of rows) parseVector(r.embedding).forEach((v, i) => (sum[i]! += r.affinity * v));
    const norm = Math.hypot(...sum);
    return sum.map((v) => v / norm);
  };
  const expectClose = (actual: number[] | null, expected: number[]): void => {
    expect(actual).toHaveLength(expected.length);
    expect(Math.max(...actual!.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-5);
  };
  /** Cosine similarity to the first home interest's embedding. */
  const towardHome = (embedding: number[] | null): number => {
    const home = embeddingFor(HOME_SEEDS[0]);
    const dot = embedding!.reduce((s, v, i) => s + v * home[i]!, 0);
    return dot / (Math.hypot(...home) * Math.hypot(...embedding!));
  };
  /** The user's 'profile.recompute' items; `due`: run_after is the last recompute + the default minute. */
  const recomputeItems = async (q: Queryable, userId: string) => {
    const { rows } = await q.query<{ status: string; payload: unknown; due: boolean }>(
      `SELECT q.status, q.payload, q.run_after = p.embedding_updated_at + interval '1 minute' AS due
       FROM events_queue q JOIN profiles p ON p.user_id = $1
       WHERE q.kind = 'profile.recompute' AND q.payload ->> 'userId' = $1::text`,
      [userId],
    );
    return rows;
  };
  /** A like of a listing served a minute ago: one interaction that reinforces the home category. */
  const interact = async (q: Queryable, w: World, listingId: number): Promise<void> => {
    await insertImpression(q, { userId: w.user, listingId });
    await q.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [w.user, listingId]);
  };

  it('recomputes at once on the first interaction and enqueues one trailing recompute for the rest', async () => {
    await withRollback(db, async (c) => {
      const w = await createWorld(c);
      await c.query(
        `UPDATE profiles SET embedding = $2::vector, embedding_updated_at = now() - interval '1 hour' WHERE user_id = $1`,
        [w.user, `[${embeddingFor(AWAY_SEED).join(',')}]`],
      );
      const before = await profileOf(c, w.user);

      await interact(c, w, w.homeListings[0]!);
      const first = await profileOf(c, w.user);
      expect(first.recomputedNow).toBe(true);
      expectClose(first.embedding, await expectedEmbedding(c, w.user));
      expect(towardHome(first.embedding)).toBeGreaterThan(towardHome(before.embedding));
      expect(await recomputeItems(c, w.user)).toEqual([]);

      await interact(c, w, w.homeListings[1]!);
      expect(await profileOf(c, w.user)).toEqual(first);
      expect(await recomputeItems(c, w.user)).toEqual([
        { status: 'queued', payload: { userId: w.user }, due: true },
      ]);

      await interact(c, w, w.homeListings[2]!);
      expect(await profileOf(c, w.user)).toEqual(first);
      expect(await recomputeItems(c, w.user)).toHaveLength(1);
      // The affinities kept moving; only the embedding waits for the trailing recompute.
      expect((await interestsOf(c, w.user, w.homeInterests)).map((i) => i.affinity)).toEqual([
        expect.closeTo(0.8, 6),
        expect.closeTo(0.8, 6),
      ]);
    });
  });

  it('waits out lodestar.profile_recompute_interval after a recent recompute: run_after = last + interval', async () => {
    await withRollback(db, async (c) => {
      const w = await createWorld(c);
      await c.query(`SET LOCAL lodestar.profile_recompute_interval = '10 minutes'`);
      await c.query(
        `UPDATE profiles SET embedding_updated_at = now() - interval '2 minutes' WHERE user_id = $1`,
        [w.user],
      );
      await interact(c, w, w.homeListings[0]!);
      expect((await profileOf(c, w.user)).recomputedNow).toBe(false);
      const { rows } = await c.query<{ due: boolean }>(
        `SELECT q.run_after = now() - interval '2 minutes' + interval '10 minutes' AS due
         FROM events_queue q WHERE q.kind = 'profile.recompute' AND q.payload ->> 'userId' = $1::text`,
        [w.user],
      );
      expect(rows).toEqual([{ due: true }]);
    });
  });

  it("recomputes on every interaction with the interval at '0s' and enqueues nothing", async () => {
    await withRollback(db, async (c) => {
      const w = await createWorld(c);
      await c.query(`SET LOCAL lodestar.profile_recompute_interval = '0s'`);
      let closeness = -Infinity;
      for (const listing of w.homeListings) {
        await interact(c, w, listing);
        const state = await profileOf(c, w.user);
        expect(state.recomputedNow).toBe(true);
        expectClose(state.embedding, await expectedEmbedding(c, w.user));
        expect(towardHome(state.embedding)).toBeGreaterThan(closeness);
        closeness = towardHome(state.embedding);
      }
      expect(await recomputeItems(c, w.user)).toEqual([]);
    });
  });
});

describe('learning_policy_report', () => {
  interface ReportRow {
    policy: string;
    experiment: string;
    arm: string;
    action: string;
    impressions: string;
    rewarded: string;
    reward_sum: number;
    w_sum: number;
    wr_sum: number;
    w2_sum: number;
    w2r_sum: number;
    w2r2_sum: number;
  }
  type Sums = [
    impressions: number,
    rewarded: number,
    rewardSum: number,
    w: number,
    wr: number,
    w2: number,
    w2r: number,
    w2r2: number,
  ];

  type ReportLine = [policy: string, experiment: string, arm: string, action: string, sums: Sums];

  /** Replaces every impression with a known set; the caller's transaction rolls it back. */
  const seedEvents = async (c: pg.PoolClient, w: World): Promise<void> => {
    await c.query('DELETE FROM learning_events');
    const [home, away] = [w.homeListings[0]!, w.awayListing];
    const events: ImpressionOptions[] = [
      { userId: w.user, listingId: home, source: 'SIMILAR', propensity: 0.5, reward: 1 },
      { userId: w.user, listingId: home, source: 'SIMILAR', propensity: 0.5 },
      { userId: w.bob, listingId: away, source: 'SIMILAR', propensity: 0.8, reward: 0.5 },
      // Anonymous: never rewardable, left out of the report (issue 13, item 6).
      { userId: null, listingId: away, source: 'POPULAR', propensity: 0.25 },
      // Before p_since: left out.
      { userId: w.user, listingId: away, source: 'POPULAR', propensity: 0.25, reward: 1, ago: '2 days' },
      {
        userId: w.user,
        listingId: home,
        propensity: 1,
        context: { experiment: 'ranker', arm: 'b', session: 's' },
      },
      // Thompson's exploration arms are source:category; SIMILAR stays one arm.
      { userId: w.user, listingId: home, policy: 'thompson', source: 'POPULAR', propensity: 0.2, reward: 1 },
      { userId: w.user, listingId: away, policy: 'thompson', source: 'POPULAR', propensity: 0.1 },
      { userId: w.user, listingId: away, policy: 'thompson', source: 'RECENT', propensity: 0.5, reward: 0 },
      { userId: w.user, listingId: home, policy: 'thompson', source: 'SIMILAR', propensity: 0.625 },
    ];
    for (const e of events) await insertImpression(c, e);
  };
  const expected = (w: World): ReportLine[] => [
    ['epsilon-greedy', '', '', 'SIMILAR', [3, 2, 1.5, 5.25, 2.625, 9.5625, 4.78125, 4.390625]],
    ['epsilon-greedy', 'ranker', 'b', 'SIMILAR', [1, 0, 0, 1, 0, 1, 0, 0]],
    ['thompson', '', '', `POPULAR:${w.away}`, [1, 0, 0, 10, 0, 100, 0, 0]],
    ['thompson', '', '', `POPULAR:${w.home}`, [1, 1, 1, 5, 5, 25, 25, 25]],
    ['thompson', '', '', `RECENT:${w.away}`, [1, 0, 0, 2, 0, 4, 0, 0]],
    ['thompson', '', '', 'SIMILAR', [1, 0, 0, 1.6, 0, 2.56, 0, 0]],
  ];
  const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const byKey = (a: ReportLine, b: ReportLine): number =>
    compareText(a.slice(0, 4).join('\u0000'), b.slice(0, 4).join('\u0000'));
  const sortRows = (rows: ReportLine[]): ReportLine[] => [...rows].sort(byKey);

  /** Calls the report as lodestar_service with `identity` set, as the service path would. */
  const reportAs = async (c: pg.PoolClient, identity: Identity): Promise<ReportLine[]> => {
    await c.query('SET LOCAL ROLE lodestar_service');
    await c.query(`SELECT set_config('lodestar.user_id', $1, true), set_config('lodestar.role', $2, true)`, [
      identity.userId ?? '',
      identity.role,
    ]);
    const { rows } = await c.query<ReportRow>(
      `SELECT * FROM learning_policy_report(now() - interval '1 day')`,
    );
    await c.query('RESET ROLE');
    return rows
      .map((r): ReportLine => [
        r.policy,
        r.experiment,
        r.arm,
        r.action,
        [
          Number(r.impressions),
          Number(r.rewarded),
          r.reward_sum,
          r.w_sum,
          r.wr_sum,
          r.w2_sum,
          r.w2r_sum,
          r.w2r2_sum,
        ],
      ])
      .sort(byKey);
  };
  const expectSums = (actual: ReportLine[], want: ReportLine[]) => {
    expect(actual.map((r) => r.slice(0, 4))).toEqual(want.map((r) => r.slice(0, 4)));
    actual.forEach((row, i) =>
      row[4].forEach((v, j) =>
        expect(v, `${row.slice(0, 4).join('/')} #${j}`).toBeCloseTo(want[i]![4][j]!, 9),
      ),
    );
  };

  it.each([
    ['service', { userId: null, role: 'service' }],
    ['admin', { userId: null, role: 'admin' }],
  ] as const)(
    'gives the %s identity the IPS sums per policy, experiment arm and action',
    async (_name, identity) => {
      await withRollback(db, async (c) => {
        const w = await createWorld(c);
        await seedEvents(c, w);
        expectSums(await reportAs(c, identity), sortRows(expected(w)));
      });
    },
  );

  it('returns no rows to a user or anonymous identity', async () => {
    await withRollback(db, async (c) => {
      const w = await createWorld(c);
      await seedEvents(c, w);
      expect(await reportAs(c, asUser(w.user))).toEqual([]);
      expect(await reportAs(c, { userId: null, role: 'anonymous' })).toEqual([]);
    });
  });

  it('cannot be executed by lodestar_app, whatever the identity (42501)', async () => {
    const w = await createWorld();
    for (const identity of [asUser(w.user), { userId: null, role: 'service' } as const]) {
      await asIdentity(db, identity, async (c) => {
        expect(await sqlStateOf(c, `SELECT * FROM learning_policy_report(now() - interval '1 day')`)).toBe(
          '42501',
        );
      });
    }
  });
});
