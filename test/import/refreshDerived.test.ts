import type pg from 'pg';
import { describe, expect } from 'vitest';
import { DERIVED_STEP_NAMES, refreshDerived } from '../../src/import/refreshDerived.js';
import { suggestLists } from '../../src/ops/vectorRecall.js';
import { handleDiscovery, handleEvent } from '../../src/worker/handlers.js';
import {
  embeddingFor,
  insertCategory,
  insertInterest,
  insertListing,
  insertProfile,
  insertUserInterest,
  parseVector,
  toVectorLiteral,
} from '../support/fixtures.js';
import { enqueueEvents, runUntilSettled } from '../support/workerHarness.js';
import { test } from '../support/testFixtures.js';

/**
 * refreshDerived after raw history written with stale derived values: every derived value must be what
 * the online paths (triggers, the worker's handlers, recompute_profile_embedding) compute, and a second
 * run must write nothing.
 */

interface World {
  categories: number[];
  interests: number[];
  listings: number[];
  users: string[];
  /** A listing with a like.created event still queued: its popularity is left to that event. */
  pendingListing: number;
}

/** A small deterministic RNG, so the history is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

async function buildWorld(pool: pg.Pool): Promise<World> {
  const random = rng(15);
  const categories = [await insertCategory(pool), await insertCategory(pool), await insertCategory(pool)];
  const interests: number[] = [];
  for (let i = 0; i < 6; i += 1) {
    interests.push(
      await insertInterest(pool, { categoryId: categories[i % 3]!, embedding: embeddingFor(1000 + i) }),
    );
  }
  // An interest without an embedding: discovery skips it; its stale candidate stays.
  await insertInterest(pool, { categoryId: categories[0]!, embedding: null });
  const users: string[] = [];
  for (let i = 0; i < 12; i += 1) users.push(await insertProfile(pool));
  const listings: number[] = [];
  for (let i = 0; i < 90; i += 1) {
    listings.push(
      await insertListing(pool, {
        categoryId: categories[i % 3]!,
        sellerId: users[i % users.length]!,
        status: i % 10 === 9 ? 'sold' : 'active',
        embedding: i % 15 === 14 ? null : embeddingFor(i + 1),
      }),
    );
  }
  // Declared interests (the last user has none, and no likes: a stale embedding must become NULL).
  for (const [u, user] of users.slice(0, -1).entries()) {
    for (const [k, interest] of interests.entries()) {
      if ((u + k) % 3 === 0) {
        await insertUserInterest(pool, { userId: user, interestId: interest, affinity: 0.2 + 0.1 * (k % 5) });
      }
    }
  }
  // History, triggers on, as the importer writes it.
  for (const user of users) {
    for (const listing of listings) {
      // The last user likes nothing either: with neither interests nor likes, the profile is NULL.
      if (random() < 0.2 && user !== users.at(-1))
        await pool.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [user, listing]);
      if (random() < 0.03) {
        await pool.query(
          `INSERT INTO comments (listing_id, user_id, body, deleted_at) VALUES ($1, $2, 'nice', $3)`,
          [listing, user, random() < 0.3 ? new Date() : null],
        );
      }
    }
    for (const other of users) {
      if (other !== user && random() < 0.25) {
        await pool.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [user, other]);
      }
    }
  }
  // Every derived value stale.
  await pool.query(`UPDATE marketplace_listings SET like_count = 7, comment_count = 3, popularity = 1234`);
  await pool.query(`UPDATE profiles SET follower_count = 5, following_count = 9, embedding = $1::vector`, [
    toVectorLiteral(embeddingFor(99)),
  ]);
  await pool.query(`UPDATE interest_catalog SET popularity = 77`);
  // Stale candidates in each interest's own category (discovery replaces only those).
  await pool.query(
    `INSERT INTO interest_listing_candidates (interest_id, listing_id, score)
     SELECT i.id, l.id, -5 FROM interest_catalog i JOIN marketplace_listings l ON l.category_id = i.category_id
     WHERE l.id = ANY($1::int[])`,
    [listings.slice(0, 6)],
  );
  const pendingListing = listings[0]!;
  await enqueueEvents(pool, 'like.created', [
    { listingId: pendingListing, userId: users[0]!, sellerId: users[0]! },
  ]);
  return { categories, interests, listings, users, pendingListing };
}

interface Snapshot {
  listings: string;
  profiles: string;
  interests: string;
  candidates: string;
  indexState: string;
}

/** Every derived value, as text, to compare two states exactly. */
async function snapshot(pool: pg.Pool): Promise<Snapshot> {
  const text = async (sql: string) => JSON.stringify((await pool.query(sql)).rows);
  return {
    listings: await text(
      `SELECT id, like_count, comment_count, popularity FROM marketplace_listings ORDER BY id`,
    ),
    profiles: await text(
      `SELECT user_id, follower_count, following_count, embedding::text, embedding_updated_at FROM profiles ORDER BY user_id`,
    ),
    interests: await text(`SELECT id, popularity FROM interest_catalog ORDER BY id`),
    candidates: await text(
      `SELECT interest_id, listing_id, score, computed_at FROM interest_listing_candidates ORDER BY 1, 2`,
    ),
    indexState: await text(
      `SELECT index_name, rows_at_build, lists, built_at FROM vector_index_state ORDER BY 1`,
    ),
  };
}

describe('refreshDerived', () => {
  test('brings counters, popularity, profiles, candidates and the ivfflat index to what the online paths compute; a second run writes nothing', async ({
    db,
  }) => {
    const pool = db.pool;
    const world = await buildWorld(pool);
    const lines: string[] = [];
    const first = await refreshDerived(pool, (line) => lines.push(line));
    expect(Object.keys(first)).toEqual(DERIVED_STEP_NAMES);
    expect(lines).toHaveLength(DERIVED_STEP_NAMES.length);
    expect(lines[1]).toMatch(/^derived listing_counters: \d+ rows in \d+ ms$/);
    for (const step of ['listing_counters', 'listing_popularity', 'follow_counters', 'interest_popularity']) {
      expect(first[step], step).toBeGreaterThan(0);
    }
    expect(first.vector_indexes).toBe(1);
    expect(first.profile_embeddings).toBe(world.users.length);

    // Counters: what the triggers keep.
    const { rows: wrongCounters } = await pool.query(
      `SELECT l.id FROM marketplace_listings l
        WHERE l.like_count <> (SELECT count(*) FROM likes k WHERE k.listing_id = l.id)
           OR l.comment_count <> (SELECT count(*) FROM comments c WHERE c.listing_id = l.id AND c.deleted_at IS NULL)
       UNION ALL
       SELECT NULL FROM profiles p
        WHERE p.follower_count <> (SELECT count(*) FROM follows f WHERE f.followee_id = p.user_id)
           OR p.following_count <> (SELECT count(*) FROM follows f WHERE f.follower_id = p.user_id)`,
    );
    expect(wrongCounters).toEqual([]);
    const { rows: interestPopularity } = await pool.query<{ popularity: number; holders: number }>(
      `SELECT i.popularity, (SELECT count(*) FROM user_interests u WHERE u.interest_id = i.id AND u.affinity > 0)::float8
              AS holders
         FROM interest_catalog i`,
    );
    for (const r of interestPopularity) expect(r.popularity).toBe(r.holders);

    // The ivfflat index: rebuilt with pgvector's lists for the rows with a vector now.
    const withVector = world.listings.length - world.listings.length / 15;
    const { rows: state } = await pool.query<{ rows_at_build: string; lists: number; built_by: string }>(
      `SELECT rows_at_build, lists, built_by FROM vector_index_state WHERE index_name = 'marketplace_listings_embedding_ivfflat'`,
    );
    expect(state[0]).toEqual({
      rows_at_build: String(withVector),
      lists: suggestLists(withVector),
      built_by: 'refreshDerived',
    });

    // The listing with a queued like event kept its (stale) popularity for the event to move.
    const { rows: pending } = await pool.query<{ popularity: number }>(
      'SELECT popularity FROM marketplace_listings WHERE id = $1',
      [world.pendingListing],
    );
    expect(pending[0]!.popularity).toBe(1234);

    // A second run: nothing to write, every value as it was.
    const before = await snapshot(pool);
    const second = await refreshDerived(pool, () => undefined);
    for (const name of DERIVED_STEP_NAMES) {
      if (!name.startsWith('analyze_')) expect(second[name], name).toBe(0);
    }
    expect(await snapshot(pool)).toEqual(before);

    // Profiles: what recompute_profile_embedding (the worker's per-user path) computes.
    const { rows: bulk } = await pool.query<{ user_id: string; e: string | null }>(
      `SELECT user_id, embedding::text AS e FROM profiles ORDER BY user_id`,
    );
    for (const user of world.users) await pool.query('SELECT recompute_profile_embedding($1)', [user]);
    const { rows: online } = await pool.query<{ user_id: string; e: string | null }>(
      `SELECT user_id, embedding::text AS e FROM profiles ORDER BY user_id`,
    );
    expect(bulk.filter((r) => r.e === null).map((r) => r.user_id)).toEqual([world.users.at(-1)]);
    for (const [i, row] of online.entries()) {
      const mine = bulk[i]!;
      expect(mine.user_id).toBe(row.user_id);
      if (row.e === null || mine.e === null) {
        expect(mine.e).toBe(row.e);
        continue;
      }
      const a = parseVector(mine.e);
      const b = parseVector(row.e);
      for (const [d, v] of a.entries()) expect(v).toBeCloseTo(b[d]!, 6);
    }

    // Candidates: what the discovery handler writes, pair by pair.
    const candidates = async () =>
      (
        await pool.query<{ interest_id: number; listing_id: number; score: number }>(
          `SELECT interest_id, listing_id, score FROM interest_listing_candidates ORDER BY 1, 2`,
        )
      ).rows;
    const refreshed = await candidates();
    expect(refreshed.some((c) => c.score === -5 && world.interests.includes(c.interest_id))).toBe(false);
    // The interest without an embedding keeps its candidates (the handler refuses it too).
    expect(refreshed.filter((c) => c.score === -5)).toHaveLength(2);
    const { rows: items } = await pool.query<{ id: string }>(
      `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason)
       SELECT id, category_id, 'test' FROM interest_catalog WHERE id = ANY($1::int[]) RETURNING id::text`,
      [world.interests],
    );
    await runUntilSettled(
      pool,
      'discovery',
      handleDiscovery,
      items.map((i) => i.id),
    );
    expect(await candidates()).toEqual(refreshed);

    // Popularity: what the worker's like/comment events add up to from 0, replayed for a few listings.
    const sample = world.listings.slice(1, 8);
    const { rows: expected } = await pool.query<{ id: number; popularity: number }>(
      `SELECT id, popularity FROM marketplace_listings WHERE id = ANY($1::int[]) ORDER BY id`,
      [sample],
    );
    await pool.query(`UPDATE marketplace_listings SET popularity = 0 WHERE id = ANY($1::int[])`, [sample]);
    const { rows: likes } = await pool.query<{ user_id: string; listing_id: number }>(
      `SELECT user_id, listing_id FROM likes WHERE listing_id = ANY($1::int[])`,
      [sample],
    );
    const { rows: comments } = await pool.query<{ user_id: string; listing_id: number }>(
      `SELECT user_id, listing_id FROM comments WHERE listing_id = ANY($1::int[]) AND deleted_at IS NULL`,
      [sample],
    );
    const ids = [
      ...(await enqueueEvents(
        pool,
        'like.created',
        likes.map((l) => ({ userId: l.user_id, listingId: l.listing_id, sellerId: l.user_id })),
      )),
      ...(await enqueueEvents(
        pool,
        'comment.created',
        comments.map((c) => ({ userId: c.user_id, listingId: c.listing_id, commentId: '1' })),
      )),
    ];
    expect(likes.length).toBeGreaterThan(0);
    await runUntilSettled(pool, 'events', handleEvent, ids);
    const { rows: replayed } = await pool.query<{ id: number; popularity: number }>(
      `SELECT id, popularity FROM marketplace_listings WHERE id = ANY($1::int[]) ORDER BY id`,
      [sample],
    );
    expect(replayed).toEqual(expected);
    expect(replayed.some((r) => r.popularity > 0)).toBe(true);
  });
});
