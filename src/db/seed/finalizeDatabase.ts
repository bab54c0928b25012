import type pg from 'pg';
import { recordVectorIndexBuild } from '../../ops/vectorIndexes.js';
import { SEEDED_TABLES } from './prepareDatabase.js';

/**
 * Runs `work` with the table's vector (HNSW/ivfflat) indexes dropped, then recreates them from
 * their own catalog definitions. Setting 20k profile embeddings one HNSW insert at a time took
 * ~34 s here; one in-memory build afterwards takes ~5 s. All inside the seeding transaction, so
 * nobody sees the table without its index and a failure restores it.
 */
async function withVectorIndexesDropped<T>(
  client: pg.ClientBase,
  table: string,
  work: () => Promise<T>,
): Promise<T> {
  const { rows } = await client.query<{ name: string; definition: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_am am ON am.oid = c.relam
      WHERE i.indrelid = to_regclass($1) AND am.amname IN ('hnsw', 'ivfflat')
      ORDER BY c.relname`,
    [table],
  );
  for (const index of rows) await client.query(`DROP INDEX ${index.name}`);
  const result = await work();
  await useBuildMemory(client);
  for (const index of rows) await client.query(index.definition);
  return result;
}

/** Vector index builds keep the whole graph / k-means sample in memory; 64 MB makes them spill. */
async function useBuildMemory(client: pg.ClientBase): Promise<void> {
  await client.query(`SET LOCAL maintenance_work_mem = '512MB'`);
}

/**
 * profile_embedding_of (prisma/migrations/20261204010000_behaviour_profiles, its half-life from
 * 20261215000000_profile_half_life) for many users in one statement: the same reads (the latest 200 rows
 * per source and user), weights, decay (profile_half_life_seconds(), the one home of it), per-listing
 * strongest signal, α = n / (n + 5) blend and NULL rule, as hash joins over the tables instead of one
 * indexed read per user and source (20k seeded users: 10–20 s on a busy 2-CPU machine; ~45 s as 20k
 * function calls). A change to the function
 * must change this too: test/db/behaviourProfiles.test.ts, the seed's and the refresh's tests compare them.
 * Sums run in id order (deterministic bits, also under parallel plans). $2 the users (NULL = every profile).
 */
const profileEmbeddingsOfSql = `
  WITH users AS (
    SELECT u.user_id FROM profiles u WHERE $2::uuid[] IS NULL OR u.user_id = ANY($2::uuid[])
  ),
  interests AS (
    SELECT ui.user_id,
           sum(ic.embedding * array_fill(ui.affinity::real, ARRAY[vector_dims(ic.embedding)])::vector
               ORDER BY ui.interest_id) AS total
      FROM user_interests ui
      JOIN interest_catalog ic ON ic.id = ui.interest_id
     WHERE ic.embedding IS NOT NULL AND ui.affinity > 0
       AND ($2::uuid[] IS NULL OR ui.user_id = ANY($2::uuid[]))
     GROUP BY ui.user_id
  ),
  events AS (
    SELECT user_id, listing_id, at, w, counted FROM (
      SELECT k.user_id, k.listing_id, k.created_at AS at, engagement_weight('like') AS w, true AS counted,
             row_number() OVER (PARTITION BY k.user_id ORDER BY k.created_at DESC, k.listing_id) AS r
        FROM likes k WHERE $2::uuid[] IS NULL OR k.user_id = ANY($2::uuid[])) x WHERE r <= 200
    UNION ALL
    SELECT user_id, listing_id, at, w, counted FROM (
      SELECT e.user_id, e.listing_id, coalesce(e.rewarded_at, e.created_at) AS at, e.reward AS w, true AS counted,
             row_number() OVER (PARTITION BY e.user_id ORDER BY e.created_at DESC, e.id) AS r
        FROM learning_events e
       WHERE e.reward > 0 AND e.user_id IS NOT NULL AND ($2::uuid[] IS NULL OR e.user_id = ANY($2::uuid[]))) x
     WHERE r <= 200
    UNION ALL
    SELECT user_id, listing_id, at, w, counted FROM (
      SELECT s.user_id, s.listing_id, s.created_at AS at, engagement_weight(s.kind) AS w, false AS counted,
             row_number() OVER (PARTITION BY s.user_id ORDER BY s.created_at DESC, s.id) AS r
        FROM intent_signals s
       WHERE s.listing_id IS NOT NULL AND engagement_weight(s.kind) > 0
         AND ($2::uuid[] IS NULL OR s.user_id = ANY($2::uuid[]))) x WHERE r <= 200
    UNION ALL
    SELECT user_id, listing_id, at, w, counted FROM (
      SELECT h.user_id, h.listing_id, h.created_at AS at, -1.0::double precision AS w, false AS counted,
             row_number() OVER (PARTITION BY h.user_id ORDER BY h.created_at DESC, h.listing_id) AS r
        FROM hidden_listings h WHERE $2::uuid[] IS NULL OR h.user_id = ANY($2::uuid[])) x WHERE r <= 200
  ),
  decayed AS (
    SELECT e.user_id, e.listing_id, e.counted,
           e.w * exp(-ln(2) * extract(epoch FROM max(e.at) OVER (PARTITION BY e.user_id) - e.at)::double precision
                     / profile_half_life_seconds()) AS w
      FROM events e
  ),
  per_listing AS (
    SELECT d.user_id, d.listing_id,
           CASE WHEN bool_or(d.w < 0) THEN min(d.w) ELSE max(d.w) END AS w,
           bool_or(d.counted) AND NOT bool_or(d.w < 0) AS counted
      FROM decayed d GROUP BY d.user_id, d.listing_id
  ),
  behaviour AS (
    SELECT p.user_id,
           sum(l2_normalize(l.embedding) * array_fill(p.w::real, ARRAY[vector_dims(l.embedding)])::vector
               ORDER BY p.listing_id) AS total,
           count(*) FILTER (WHERE p.counted) AS n,
           bool_or(p.w > 0) AS positive
      FROM per_listing p
      JOIN marketplace_listings l ON l.id = p.listing_id
     WHERE l.embedding IS NOT NULL AND vector_norm(l.embedding) > 0 AND p.w <> 0
     GROUP BY p.user_id
  ),
  parts AS (
    SELECT u.user_id,
           CASE WHEN i.total IS NULL OR vector_norm(i.total) = 0 THEN NULL ELSE l2_normalize(i.total) END AS i,
           CASE WHEN coalesce(current_setting('lodestar.profile_behaviour', true), '') = 'off'
                  OR b.total IS NULL OR b.positive IS NOT TRUE OR vector_norm(b.total) = 0 THEN NULL
                ELSE l2_normalize(b.total) END AS b,
           coalesce(b.n, 0) AS n
      FROM users u
      LEFT JOIN interests i ON i.user_id = u.user_id
      LEFT JOIN behaviour b ON b.user_id = u.user_id
  ),
  blended AS (
    SELECT user_id,
           CASE WHEN b IS NULL THEN i
                WHEN i IS NULL THEN b
                WHEN n = 0 THEN i
                ELSE i * array_fill((1 - n::float8 / (n + 5))::real, ARRAY[vector_dims(i)])::vector
                   + b * array_fill((n::float8 / (n + 5))::real, ARRAY[vector_dims(i)])::vector
           END AS e,
           b IS NOT NULL AND i IS NOT NULL AND n > 0 AS mixed
      FROM parts
  )
  SELECT user_id,
         CASE WHEN NOT mixed THEN e WHEN vector_norm(e) = 0 THEN NULL ELSE l2_normalize(e) END AS embedding
    FROM blended`;

/**
 * recompute_profile_embedding for many profiles: each profile's embedding as profile_embedding_of computes
 * it (profileEmbeddingsOfSql), NULL when there is nothing to weigh. $1 the embedding_updated_at to stamp,
 * $2 the users (NULL = every profile). Only profiles whose embedding changes are written (an L2 distance
 * below 1e-6 is the same vector up to the sums' float order), so running it again writes nothing. Shared
 * by the seed and the refresh after an import (src/import/refreshDerived.ts).
 */
export const profileEmbeddingsSql = `
UPDATE profiles p
   SET embedding = s.embedding, embedding_updated_at = $1::timestamptz
  FROM (${profileEmbeddingsOfSql}) s
 WHERE p.user_id = s.user_id
   AND CASE WHEN p.embedding IS NULL OR s.embedding IS NULL THEN (p.embedding IS NULL) <> (s.embedding IS NULL)
            ELSE (p.embedding <-> s.embedding) > 1e-6 END`;

/**
 * Every profile's embedding in one statement (profileEmbeddingsSql for everyone), with the profiles'
 * vector indexes dropped meanwhile: the seed's own transaction, on a database nobody uses yet.
 */
export function computeProfileEmbeddings(client: pg.ClientBase, asOfIso: string): Promise<number> {
  return withVectorIndexesDropped(client, 'profiles', async () => {
    const result = await client.query(profileEmbeddingsSql, [asOfIso, null]);
    return result.rowCount ?? 0;
  });
}

/** Ids were inserted explicitly; move each identity past them so the app's inserts don't collide. */
export async function syncIdentitySequences(client: pg.ClientBase): Promise<void> {
  for (const table of [
    'categories',
    'interest_catalog',
    'marketplace_listings',
    'comments',
    'intent_signals',
  ]) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce(max(id), 0) + 1, false) FROM ${table}`,
      [table],
    );
  }
}

/**
 * The ivfflat index was built on an empty table, so its list centroids are arbitrary and recall
 * is poor until it is rebuilt from the real vectors.
 */
export async function rebuildListingVectorIndex(client: pg.ClientBase): Promise<void> {
  await useBuildMemory(client);
  await client.query('REINDEX INDEX marketplace_listings_embedding_ivfflat');
  // What it was built on, so the worker rebuilds it only once the catalogue doubles or halves.
  await recordVectorIndexBuild(
    client,
    { name: 'marketplace_listings_embedding_ivfflat', table: 'marketplace_listings', method: 'ivfflat' },
    'seed',
  );
}

/** Fresh statistics so the planner sees 100k listings rather than the empty tables it last saw. */
export async function analyzeSeededTables(client: pg.ClientBase): Promise<void> {
  await client.query(`ANALYZE ${SEEDED_TABLES.join(', ')}`);
}
