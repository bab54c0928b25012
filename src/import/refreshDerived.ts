import type pg from 'pg';
import { withClient, withTransaction } from '../db/checkout.js';
import {
  COENGAGEMENT_BATCH,
  COENGAGEMENT_MIN_SUPPORT,
  COENGAGEMENT_TOP_K,
  COENGAGEMENT_USER_LIKES,
  rebuildCoengagement,
} from '../feed/coengagement.js';
import { setVectorSearchSql, vectorSearchValues } from '../db/service.js';
import { profileEmbeddingsSql } from '../db/seed/finalizeDatabase.js';
import { buildAndSwapVectorIndex, listVectorIndexes } from '../ops/vectorIndexes.js';
import { ivfflatSizes, outgrown, suggestLists } from '../ops/vectorRecall.js';
import { nearestCandidatesSql } from '../queue/discovery.js';
import { DISCOVERY_TOP_K, POPULARITY } from '../worker/handlers.js';

/**
 * After a bulk import (issue 15, item 3): every structure derived from the imported rows brought up to
 * date in bulk, so the first feed after an import is as good as the online paths would have made it.
 *
 * Each step is set-based and works in bounded transactions (batches of keys), so a live database keeps
 * serving: no step takes a table lock that blocks reads or writes for longer than a batch's row locks,
 * except the ivfflat swap (milliseconds, waiting at most 5 s). Each step writes only rows whose value
 * changes, so a second run writes nothing and reports 0 for every step but the two ANALYZE steps.
 * Counters and popularity lock their batch's rows first, in key order, and count afterwards (a new
 * snapshot): a like, comment or follow committed meanwhile is either counted or waits and adds itself
 * after the batch commits, so the recount is exact under concurrent writes.
 */

/** One step: its name (logs, the importer's summary, the docs), what it does and what it locks. */
export interface DerivedStep {
  name: string;
  description: string;
  locks: string;
  /** Rows written (tables analyzed, indexes rebuilt); 0 when everything was already up to date. */
  run: (pool: pg.Pool, options: DerivedOptions) => Promise<number>;
}

export interface DerivedOptions {
  /** ivfflat lists searched by the discovery refresh (VECTOR_IVFFLAT_PROBES). @default DEFAULT_IVFFLAT_PROBES */
  ivfflatProbes?: number;
}

/** Rows per counter / popularity batch (one transaction each). */
const LISTING_BATCH = 5000;
/** Profiles per counter batch. */
const PROFILE_BATCH = 5000;
/** Profiles per embedding batch: each changed row is one HNSW insert (~1–2 ms), so ~1–4 s a batch. */
const EMBEDDING_BATCH = 1000;
/** Interests per discovery batch: 50 nearest-neighbour searches each. */
const DISCOVERY_BATCH = 50;

/** The tables an import writes; ANALYZEd first so every later statement plans on their real sizes. */
const IMPORTED_TABLES = [
  'categories',
  'profiles',
  'interest_catalog',
  'user_interests',
  'marketplace_listings',
  'likes',
  'comments',
  'follows',
  'intent_signals',
];
/** The tables the steps below rewrite, analyzed again at the end. */
const DERIVED_TABLES = [
  'marketplace_listings',
  'profiles',
  'interest_catalog',
  'interest_listing_candidates',
  'listing_coengagement',
];

/** The next `limit` keys after `after` (NULL = from the start), in key order. */
async function* keyBatches<K>(
  pool: pg.Pool,
  table: string,
  key: string,
  type: string,
  limit: number,
): AsyncGenerator<K[]> {
  let after: K | null = null;
  for (;;) {
    // Table, key and type are constants of this module.
    const { rows }: { rows: { k: K }[] } = await pool.query<{ k: K }>(
      `SELECT ${key} AS k FROM ${table} WHERE $1::${type} IS NULL OR ${key} > $1::${type} ORDER BY ${key} LIMIT $2`,
      [after, limit],
    );
    if (rows.length === 0) return;
    yield rows.map((r) => r.k);
    after = rows[rows.length - 1]!.k;
  }
}

const lockListingsSql = `SELECT 1 FROM marketplace_listings WHERE id = ANY($1::int[]) ORDER BY id FOR NO KEY UPDATE`;
const lockProfilesSql = `SELECT 1 FROM profiles WHERE user_id = ANY($1::uuid[]) ORDER BY user_id FOR NO KEY UPDATE`;

/** like_count and comment_count (live comments) of a batch of listings, as the triggers keep them. */
const listingCountersSql = `
UPDATE marketplace_listings l SET like_count = s.likes, comment_count = s.comments
FROM (SELECT b.id,
             (SELECT count(*) FROM likes k WHERE k.listing_id = b.id)::int AS likes,
             (SELECT count(*) FROM comments c WHERE c.listing_id = b.id AND c.deleted_at IS NULL)::int AS comments
      FROM unnest($1::int[]) AS b(id)) s
WHERE l.id = s.id AND (l.like_count <> s.likes OR l.comment_count <> s.comments)`;

/**
 * popularity = likes × $2 + live comments × $3, what the worker's like/comment events add up to from a
 * new listing's 0. A listing with such an event still queued or leased is left to that event (its
 * like is counted here and would be added again when the event runs).
 */
const listingPopularitySql = `
WITH pending AS (
  -- A malformed payload (the handler rejects it) must not fail the step: only whole numbers are read.
  SELECT DISTINCT CASE WHEN e.payload->>'listingId' ~ '^[0-9]{1,9}$' THEN (e.payload->>'listingId')::int END AS id
  FROM events_queue e
  WHERE e.status IN ('queued', 'leased')
    AND e.kind IN ('like.created', 'like.deleted', 'comment.created', 'comment.deleted'))
UPDATE marketplace_listings l SET popularity = s.popularity
FROM (SELECT b.id,
             (SELECT count(*) FROM likes k WHERE k.listing_id = b.id) * $2::float8
               + (SELECT count(*) FROM comments c WHERE c.listing_id = b.id AND c.deleted_at IS NULL) * $3::float8
               AS popularity
      FROM unnest($1::int[]) AS b(id)
      WHERE b.id NOT IN (SELECT id FROM pending WHERE id IS NOT NULL)) s
WHERE l.id = s.id AND l.popularity <> s.popularity`;

/** follower_count and following_count of a batch of profiles, as the follows trigger keeps them. */
const followCountersSql = `
UPDATE profiles p SET follower_count = s.followers, following_count = s.following
FROM (SELECT b.id,
             (SELECT count(*) FROM follows f WHERE f.followee_id = b.id)::int AS followers,
             (SELECT count(*) FROM follows f WHERE f.follower_id = b.id)::int AS following
      FROM unnest($1::uuid[]) AS b(id)) s
WHERE p.user_id = s.id AND (p.follower_count <> s.followers OR p.following_count <> s.following)`;

/**
 * An interest's popularity: how many people hold it (affinity > 0). No online path moves it (the seed
 * wrote it, the API orders interests by it), so after an import it is counted from user_interests.
 */
const interestPopularitySql = `
UPDATE interest_catalog i SET popularity = s.holders
FROM (SELECT ic.id, (SELECT count(*) FROM user_interests ui WHERE ui.interest_id = ic.id AND ui.affinity > 0)::float8
               AS holders
      FROM interest_catalog ic) s
WHERE i.id = s.id AND i.popularity <> s.holders`;

/**
 * Discovery for a batch of (interest, category) pairs with the worker's own search (nearestCandidatesSql):
 * the same rows as the handler's delete-then-insert, but only differences are written (candidates that
 * fell out of the top K deleted, new ones inserted, changed scores updated), so a re-run writes nothing.
 */
const refreshCandidatesSql = `
WITH fresh AS (${nearestCandidatesSql}),
scope AS (
  SELECT c.interest_id, c.listing_id
  FROM unnest($1::int[], $2::int[]) AS p(interest_id, category_id)
  JOIN interest_listing_candidates c ON c.interest_id = p.interest_id
  JOIN marketplace_listings l ON l.id = c.listing_id
  WHERE p.category_id IS NULL OR l.category_id = p.category_id),
dropped AS (
  DELETE FROM interest_listing_candidates c USING scope s
  WHERE c.interest_id = s.interest_id AND c.listing_id = s.listing_id
    AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.interest_id = s.interest_id AND f.listing_id = s.listing_id)
  RETURNING 1),
written AS (
  INSERT INTO interest_listing_candidates AS c (interest_id, listing_id, score, computed_at)
  SELECT f.interest_id, f.listing_id, f.score, now() FROM fresh f
  ON CONFLICT (interest_id, listing_id) DO UPDATE SET score = EXCLUDED.score, computed_at = EXCLUDED.computed_at
  WHERE c.score <> EXCLUDED.score
  RETURNING 1)
SELECT (SELECT count(*) FROM dropped) + (SELECT count(*) FROM written) AS changed`;

/** Every (interest, category) pair discovery serves: each interest with an embedding, in its category. */
const discoveryPairsSql = `
SELECT id, category_id FROM interest_catalog
WHERE embedding IS NOT NULL AND ($1::int IS NULL OR id > $1) ORDER BY id LIMIT $2`;

async function updateInBatches<K>(
  pool: pg.Pool,
  batches: AsyncGenerator<K[]>,
  lockSql: string | null,
  sql: string,
  params: (keys: K[]) => unknown[] = (keys) => [keys],
): Promise<number> {
  let changed = 0;
  for await (const keys of batches) {
    changed += await withTransaction(pool, async (client) => {
      if (lockSql) await client.query(lockSql, [keys]);
      return (await client.query(sql, params(keys))).rowCount ?? 0;
    });
  }
  return changed;
}

const listingIds = (pool: pg.Pool) =>
  keyBatches<number>(pool, 'marketplace_listings', 'id', 'int', LISTING_BATCH);
const userIds = (pool: pg.Pool, size: number) =>
  keyBatches<string>(pool, 'profiles', 'user_id', 'uuid', size);

/** The counter steps' statements, for any batches of keys: the whole table's, or a given set's. */
const recountListings = (pool: pg.Pool, batches: AsyncGenerator<number[]>) =>
  updateInBatches(pool, batches, lockListingsSql, listingCountersSql);
const recountProfiles = (pool: pg.Pool, batches: AsyncGenerator<string[]>) =>
  updateInBatches(pool, batches, lockProfilesSql, followCountersSql);

/** A set's keys in key order (the lock order of the triggers and the steps), `size` at a time. */
async function* sortedBatches<K extends number | string>(
  keys: Iterable<K>,
  size: number,
): AsyncGenerator<K[]> {
  const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 0; i < sorted.length; i += size) yield sorted.slice(i, i + size);
}

/**
 * The like and follow counters recounted after an import that deferred them (lodestar.defer_counters):
 * exactly the listings and profiles it touched, or with `null` (a resumed run, which does not know what
 * the interrupted one touched) every listing and profile, as the listing_counters and follow_counters
 * steps do. The same statements and row locks as those steps, so exact under concurrent writes.
 * Returns the rows written.
 */
export async function recountCounters(
  pool: pg.Pool,
  touched: { listings: Iterable<number>; profiles: Iterable<string> } | null,
): Promise<{ listings: number; profiles: number }> {
  if (touched === null) {
    return {
      listings: await recountListings(pool, listingIds(pool)),
      profiles: await recountProfiles(pool, userIds(pool, PROFILE_BATCH)),
    };
  }
  return {
    listings: await recountListings(pool, sortedBatches(touched.listings, LISTING_BATCH)),
    profiles: await recountProfiles(pool, sortedBatches(touched.profiles, PROFILE_BATCH)),
  };
}

/** Rebuilds each ivfflat index whose lists no longer fit its table's rows (pgvector's rule) or that outgrew its build. */
async function rebuildVectorIndexes(pool: pg.Pool): Promise<number> {
  return withClient(pool, async (client) => {
    const sizes = await ivfflatSizes(client);
    const indexes = await listVectorIndexes(client);
    const saved = (await client.query<{ st: string }>(`SELECT current_setting('statement_timeout') AS st`))
      .rows[0]?.st;
    let rebuilt = 0;
    try {
      // A build is one statement that cannot be batched; it runs CONCURRENTLY, so no timeout of its own.
      await client.query(`SET statement_timeout = 0`);
      for (const size of sizes) {
        const lists = suggestLists(size.rows);
        const index = indexes.find((i) => i.name === size.index);
        if (!index || size.rows === 0) continue;
        if (!outgrown(size.rows, size.rowsAtBuild) && size.lists === lists) continue;
        const options = index.options.filter((o) => !o.startsWith('lists=')).concat(`lists=${lists}`);
        await buildAndSwapVectorIndex(client, index, options, 'refreshDerived');
        rebuilt += 1;
      }
    } finally {
      await client.query(`SELECT set_config('statement_timeout', $1, false)`, [saved ?? '0']);
    }
    return rebuilt;
  });
}

async function refreshCandidates(pool: pg.Pool, options: DerivedOptions): Promise<number> {
  let changed = 0;
  let after: number | null = null;
  for (;;) {
    const { rows }: { rows: { id: number; category_id: number }[] } = await pool.query(discoveryPairsSql, [
      after,
      DISCOVERY_BATCH,
    ]);
    if (rows.length === 0) return changed;
    changed += await withTransaction(pool, async (client) => {
      // The handler's settings: the index keeps scanning past listings the filters reject.
      await client.query(setVectorSearchSql, vectorSearchValues(options.ivfflatProbes));
      const { rows: out } = await client.query<{ changed: string }>(refreshCandidatesSql, [
        rows.map((r) => r.id),
        rows.map((r) => r.category_id),
        DISCOVERY_TOP_K,
      ]);
      return Number(out[0]?.changed ?? 0);
    });
    after = rows[rows.length - 1]!.id;
  }
}

const analyze = async (pool: pg.Pool, tables: string[]): Promise<number> => {
  // Constants of this module; one table at a time so none waits on another's statistics.
  for (const table of tables) await pool.query(`ANALYZE ${table}`);
  return tables.length;
};

/** The steps, in order (later ones read what earlier ones wrote). The docs and the importer name them. */
export const DERIVED_STEPS: readonly DerivedStep[] = [
  {
    name: 'analyze_imported',
    description: `ANALYZE of the imported tables (${IMPORTED_TABLES.join(', ')}), so the steps plan on real sizes`,
    locks: 'SHARE UPDATE EXCLUSIVE per table: reads and writes go on',
    run: (pool) => analyze(pool, IMPORTED_TABLES),
  },
  {
    name: 'listing_counters',
    description: 'like_count and comment_count of every listing recounted from likes and live comments',
    locks: `row locks on ${LISTING_BATCH} listings at a time (a like of one of them waits for the batch)`,
    run: (pool) => recountListings(pool, listingIds(pool)),
  },
  {
    name: 'listing_popularity',
    description:
      `popularity = likes × ${POPULARITY.like} + live comments × ${POPULARITY.comment}, what the worker's ` +
      'events add up to (listings with an unprocessed like/comment event are left to it)',
    locks: `row locks on ${LISTING_BATCH} listings at a time`,
    run: (pool) =>
      updateInBatches(pool, listingIds(pool), lockListingsSql, listingPopularitySql, (keys) => [
        keys,
        POPULARITY.like,
        POPULARITY.comment,
      ]),
  },
  {
    name: 'coengagement',
    description:
      `"liked together": each listing's top ${COENGAGEMENT_TOP_K} neighbours by users who liked both ` +
      `(each user's latest ${COENGAGEMENT_USER_LIKES} likes, at least ${COENGAGEMENT_MIN_SUPPORT} users), ` +
      'scored by the cosine of their like columns (listing_coengagement)',
    locks: `row locks on the co-engagement rows of ${COENGAGEMENT_BATCH} listings at a time`,
    run: (pool) => rebuildCoengagement(pool),
  },
  {
    name: 'follow_counters',
    description: 'follower_count and following_count of every profile recounted from follows',
    locks: `row locks on ${PROFILE_BATCH} profiles at a time, in user_id order like the follows trigger`,
    run: (pool) => recountProfiles(pool, userIds(pool, PROFILE_BATCH)),
  },
  {
    name: 'interest_popularity',
    description: 'each interest’s popularity = the people who hold it (affinity > 0)',
    locks: 'row locks on the interests whose count changed, one statement',
    run: async (pool) => (await pool.query(interestPopularitySql)).rowCount ?? 0,
  },
  {
    name: 'vector_indexes',
    description:
      'each ivfflat index rebuilt with pgvector’s lists for its rows now, if they differ or it outgrew its build ' +
      '(CREATE INDEX CONCURRENTLY, then a swap; recorded in vector_index_state); hnsw indexes need none',
    locks:
      'SHARE UPDATE EXCLUSIVE during the build (reads and writes go on); ACCESS EXCLUSIVE for the swap (ms, lock_timeout 5 s)',
    run: rebuildVectorIndexes,
  },
  {
    name: 'profile_embeddings',
    description:
      'every profile’s embedding as recompute_profile_embedding computes it (the seed’s set-based statement)',
    locks: `row locks on ${EMBEDDING_BATCH} profiles at a time (each changed row is one HNSW insert)`,
    run: (pool) =>
      updateInBatches(pool, userIds(pool, EMBEDDING_BATCH), null, profileEmbeddingsSql, (keys) => [
        new Date().toISOString(),
        keys,
      ]),
  },
  {
    name: 'interest_candidates',
    description: `discovery for every interest with an embedding in its category: its ${DISCOVERY_TOP_K} nearest active listings (the worker’s search)`,
    locks: `row locks on the candidates of ${DISCOVERY_BATCH} interests at a time`,
    run: refreshCandidates,
  },
  {
    name: 'analyze_derived',
    description: `ANALYZE of the tables the steps rewrote (${DERIVED_TABLES.join(', ')})`,
    locks: 'SHARE UPDATE EXCLUSIVE per table: reads and writes go on',
    run: (pool) => analyze(pool, DERIVED_TABLES),
  },
];

/** The step names in order. */
export const DERIVED_STEP_NAMES: readonly string[] = DERIVED_STEPS.map((s) => s.name);

/**
 * Runs every step in order as the schema owner (`pool`), logging each with its row count and time.
 * Returns rows written per step. Safe to run again (and after an interrupted run): each step recomputes
 * from the source rows and writes only differences.
 */
export async function refreshDerived(
  pool: pg.Pool,
  log: (line: string) => void,
  options: DerivedOptions = {},
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const step of DERIVED_STEPS) {
    const started = performance.now();
    const rows = await step.run(pool, options);
    counts[step.name] = rows;
    log(`derived ${step.name}: ${rows} rows in ${Math.round(performance.now() - started)} ms`);
  }
  return counts;
}
