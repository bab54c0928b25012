import { withClient } from '../shared/database.js';
import type { WorkloadPlan } from './workersWorkload.js';
import { WORKERS_KEY_PREFIX } from './workersWorkload.js';

/**
 * What the workers phase's items change, put back before every run and after the phase: listing
 * popularity, the users' interest affinities and reinforcement times, and their profile embeddings and
 * recompute times. The originals are kept in tables of the bench database (not in this process), so
 * a run that was interrupted is undone by the next one before it takes its own snapshot.
 */

const SNAPSHOT = {
  listings: 'bench_workers_listings',
  interests: 'bench_workers_interests',
  profiles: 'bench_workers_profiles',
} as const;

const restoreSql = [
  `UPDATE marketplace_listings l SET popularity = s.popularity FROM ${SNAPSHOT.listings} s
    WHERE l.id = s.id AND l.popularity IS DISTINCT FROM s.popularity`,
  `UPDATE user_interests ui SET affinity = s.affinity, reinforced_at = s.reinforced_at
     FROM ${SNAPSHOT.interests} s
    WHERE ui.user_id = s.user_id AND ui.interest_id = s.interest_id
      AND (ui.affinity, ui.reinforced_at) IS DISTINCT FROM (s.affinity, s.reinforced_at)`,
  `UPDATE profiles p SET embedding = s.embedding, embedding_updated_at = s.embedding_updated_at
     FROM ${SNAPSHOT.profiles} s
    WHERE p.user_id = s.user_id AND p.embedding_updated_at IS DISTINCT FROM s.embedding_updated_at`,
];

/**
 * The phase's items, and the `profile.recompute` items its like events made the database enqueue for
 * its users (request_profile_recompute's trailing recompute, due up to a minute later).
 */
const deleteItemsSql = `
DELETE FROM events_queue
 WHERE idempotency_key LIKE '${WORKERS_KEY_PREFIX}%'
    OR (kind = 'profile.recompute' AND payload ->> 'userId' IN (SELECT user_id::text FROM ${SNAPSHOT.profiles}))`;

/** Autovacuum is off here: without this, each run would start with the previous runs' dead rows. */
const VACUUM_SQL = 'VACUUM events_queue, marketplace_listings, user_interests, profiles';

export interface WorkersState {
  /** Rows put back when the phase started, left by an interrupted run (0 / 0 / 0 normally). */
  leftovers: { listings: number; interests: number; profiles: number; items: number };
  snapshot: { listings: number; interests: number; profiles: number };
}

async function snapshotExists(url: string): Promise<boolean> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [
      SNAPSHOT.profiles,
    ]);
    return rows[0]?.ok ?? false;
  });
}

/**
 * Puts every snapshotted row back (only the changed ones are written), deletes the phase's items and
 * their follow-ups, then VACUUMs the tables the handlers write. Returns the rows it changed.
 */
export async function restoreState(url: string): Promise<WorkersState['leftovers']> {
  return withClient(url, async (client) => {
    await client.query('BEGIN');
    const counts: number[] = [];
    for (const sql of restoreSql) counts.push((await client.query(sql)).rowCount ?? 0);
    const items = (await client.query(deleteItemsSql)).rowCount ?? 0;
    await client.query('COMMIT');
    await client.query(VACUUM_SQL);
    return { listings: counts[0] ?? 0, interests: counts[1] ?? 0, profiles: counts[2] ?? 0, items };
  });
}

/**
 * Undoes an interrupted run (when its snapshot is still there), then snapshots what this run's items
 * will change: the plan's listings and its users' interests and profiles.
 */
export async function takeSnapshot(url: string, plan: WorkloadPlan): Promise<WorkersState> {
  const leftovers = (await snapshotExists(url))
    ? await restoreState(url)
    : { listings: 0, interests: 0, profiles: 0, items: 0 };
  const users = plan.users.map((u) => u.userId);
  const listings = [...plan.listings.values()].flat().map((l) => l.id);
  const snapshot = await withClient(url, async (client) => {
    await client.query('BEGIN');
    for (const table of Object.values(SNAPSHOT)) await client.query(`DROP TABLE IF EXISTS ${table}`);
    const count = async (sql: string, values: unknown[]) => (await client.query(sql, values)).rowCount ?? 0;
    const result = {
      listings: await count(
        `CREATE TABLE ${SNAPSHOT.listings} AS SELECT id, popularity FROM marketplace_listings WHERE id = ANY($1::int[])`,
        [listings],
      ),
      interests: await count(
        `CREATE TABLE ${SNAPSHOT.interests} AS SELECT user_id, interest_id, affinity, reinforced_at
           FROM user_interests WHERE user_id = ANY($1::uuid[])`,
        [users],
      ),
      profiles: await count(
        `CREATE TABLE ${SNAPSHOT.profiles} AS SELECT user_id, embedding, embedding_updated_at
           FROM profiles WHERE user_id = ANY($1::uuid[])`,
        [users],
      ),
    };
    await client.query(`ALTER TABLE ${SNAPSHOT.listings} ADD PRIMARY KEY (id)`);
    await client.query(`ALTER TABLE ${SNAPSHOT.interests} ADD PRIMARY KEY (user_id, interest_id)`);
    await client.query(`ALTER TABLE ${SNAPSHOT.profiles} ADD PRIMARY KEY (user_id)`);
    await client.query('COMMIT');
    return result;
  });
  // Leftover items of a run interrupted before it took its snapshot: the delete above needs the table.
  const stray = await withClient(url, async (client) => (await client.query(deleteItemsSql)).rowCount ?? 0);
  return { leftovers: { ...leftovers, items: leftovers.items + stray }, snapshot };
}

/** Puts everything back and drops the snapshot: the database is as the phase found it. */
export async function dropSnapshot(url: string): Promise<WorkersState['leftovers']> {
  const changed = await restoreState(url);
  await withClient(url, async (client) => {
    for (const table of Object.values(SNAPSHOT)) await client.query(`DROP TABLE IF EXISTS ${table}`);
  });
  return changed;
}

/**
 * What the phase must leave as it found it: a digest of every listing's popularity, every interest's
 * affinity and reinforcement time, every profile's recompute time and the plan's users' embeddings
 * (all 20,000 would be 70 MB of text), and the rows of events_queue.
 */
export async function stateDigest(url: string, users: readonly string[]): Promise<string> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ digest: string }>(
      `SELECT concat_ws(' ',
         (SELECT md5(string_agg(id || ':' || popularity, ',' ORDER BY id)) FROM marketplace_listings),
         (SELECT md5(string_agg(user_id || ':' || interest_id || ':' || affinity || ':' || reinforced_at, ','
                                ORDER BY user_id, interest_id)) FROM user_interests),
         (SELECT md5(string_agg(user_id || ':' || coalesce(embedding_updated_at::text, ''), ',' ORDER BY user_id))
            FROM profiles),
         (SELECT md5(string_agg(coalesce(embedding::text, ''), ',' ORDER BY user_id))
            FROM profiles WHERE user_id = ANY($1::uuid[])),
         (SELECT count(*) FROM events_queue)) AS digest`,
      [users],
    );
    return rows[0]?.digest ?? '';
  });
}
