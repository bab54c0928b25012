import type pg from 'pg';
import { SeedError } from './SeedError.js';

/** Tables the seeder fills, in foreign-key order. */
export const SEEDED_TABLES = [
  'categories',
  'interest_catalog',
  'profiles',
  'user_interests',
  'marketplace_listings',
  'likes',
  'comments',
  'follows',
  'intent_signals',
] as const;
export type SeededTable = (typeof SEEDED_TABLES)[number];

const NOT_MIGRATED = 'database is not migrated: run npm run db:migrate first';

export async function assertMigrated(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ missing: string[] }>(
    `SELECT array_remove(ARRAY[
        CASE WHEN to_regprocedure('public.recompute_profile_embedding(uuid)') IS NULL
             THEN 'function recompute_profile_embedding' END,
        CASE WHEN to_regclass('public.marketplace_listings_embedding_ivfflat') IS NULL
             THEN 'index marketplace_listings_embedding_ivfflat' END
      ] || ARRAY(SELECT 'table ' || t FROM unnest($1::text[]) AS t WHERE to_regclass('public.' || t) IS NULL),
      NULL) AS missing`,
    [[...SEEDED_TABLES]],
  );
  const missing = rows[0]?.missing ?? [];
  if (missing.length === 0) return;
  // Naming what is missing only helps for a half-migrated database; an empty one just needs migrating.
  const expected = SEEDED_TABLES.length + 2;
  throw new SeedError(
    missing.length === expected ? NOT_MIGRATED : `${NOT_MIGRATED} (missing ${missing.join(', ')})`,
  );
}

/** Refuses to mix seeded rows into existing data unless `reset`, which empties the tables first. */
export async function ensureEmpty(client: pg.ClientBase, reset: boolean): Promise<'empty' | 'reset'> {
  if (reset) {
    // CASCADE also empties rows that point at these tables (learning_events,
    // interest_listing_candidates, marketplace_discovery_queue): they would dangle otherwise.
    await client.query(`TRUNCATE ${SEEDED_TABLES.join(', ')} RESTART IDENTITY CASCADE`);
    return 'reset';
  }
  const probes = SEEDED_TABLES.map((t) => `SELECT '${t}' AS name WHERE EXISTS (SELECT 1 FROM ${t})`);
  const { rows } = await client.query<{ name: string }>(probes.join(' UNION ALL '));
  if (rows.length > 0) {
    throw new SeedError(
      `database already has data in ${rows.map((r) => r.name).join(', ')}: ` +
        'rerun with --reset to empty the seeded tables first (this deletes their rows)',
    );
  }
  return 'empty';
}
