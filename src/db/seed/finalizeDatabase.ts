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
 * recompute_profile_embedding for many profiles: each profile's embedding as profile_embedding_of (the
 * function's own computation: interests blended with engagement) computes it, NULL when there is nothing
 * to weigh. $1 the embedding_updated_at to stamp, $2 the users (NULL = every profile). Only profiles whose
 * embedding changes are written (an L2 distance below 1e-6 is the same vector up to float order), so
 * running it again writes nothing. Shared by the seed and the refresh after an import
 * (src/import/refreshDerived.ts).
 */
export const profileEmbeddingsSql = `
UPDATE profiles p
   SET embedding = s.embedding, embedding_updated_at = $1::timestamptz
  FROM (SELECT u.user_id, profile_embedding_of(u.user_id) AS embedding
          FROM profiles u
         WHERE $2::uuid[] IS NULL OR u.user_id = ANY($2::uuid[])) s
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
