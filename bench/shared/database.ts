import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrateUrl, migrationStatus } from '../../src/db/migrator.js';
import { rebuildCoengagement } from '../../src/feed/coengagement.js';
import {
  BENCH_DATABASE,
  BENCH_GATEWAY_LOGIN,
  BENCH_WORKER_LOGIN,
  redact,
  type BenchSettings,
} from './settings.js';

/** One seeded bench database: its name on the server, its owner URL and what it is seeded with. */
export interface BenchDatabase {
  name: string;
  url: string;
  dataset: BenchSettings['dataset'];
}

/** lodestar_bench, the database every phase but the scale one measures on. */
export function defaultBenchDatabase(settings: BenchSettings): BenchDatabase {
  return { name: BENCH_DATABASE, url: settings.benchUrl, dataset: settings.dataset };
}

/** The owner URL of another database on the bench's server. */
export function databaseUrl(settings: BenchSettings, name: string): string {
  const url = new URL(settings.adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface DatasetInfo {
  /** What this run did to get the database: reused / created+seeded, and why. */
  action: string;
  listings: number;
  users: number;
  usersWithEmbedding: number;
  interests: number;
  seedSeconds: number | null;
  /** The seed's own per-phase times (ms, e.g. `reindex`: the listing vector index build) when this run seeded. */
  seedPhasesMs?: Record<string, number>;
}

/** One owner (superuser) connection for setup and clean-up work; RLS does not apply to it. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'lodestar-bench-setup' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function countRows(client: pg.ClientBase): Promise<Omit<DatasetInfo, 'action' | 'seedSeconds'>> {
  const { rows } = await client.query<{ tables: boolean }>(
    `SELECT to_regclass('public.marketplace_listings') IS NOT NULL
        AND to_regclass('public.profiles') IS NOT NULL
        AND to_regclass('public.interest_catalog') IS NOT NULL AS tables`,
  );
  if (!rows[0]?.tables) return { listings: 0, users: 0, usersWithEmbedding: 0, interests: 0 };
  // Owner (superuser) connection: RLS does not hide rows from these counts.
  const counts = await client.query<Record<'listings' | 'users' | 'embedded' | 'interests', string>>(
    `SELECT (SELECT count(*) FROM marketplace_listings) AS listings,
            (SELECT count(*) FROM profiles) AS users,
            (SELECT count(*) FROM profiles WHERE embedding IS NOT NULL) AS embedded,
            (SELECT count(*) FROM interest_catalog) AS interests`,
  );
  const c = counts.rows[0];
  return {
    listings: Number(c?.listings ?? 0),
    users: Number(c?.users ?? 0),
    usersWithEmbedding: Number(c?.embedded ?? 0),
    interests: Number(c?.interests ?? 0),
  };
}

/**
 * Why lodestar_bench cannot be reused (null when it can), and which migrations it still needs. Pending
 * migrations alone are no reason to re-seed: the migrator applies them to the existing data. Only a
 * missing database, an edited or unfinished migration (the schema is not what the files say) or too
 * little data are.
 */
async function inspect(
  settings: BenchSettings,
  target: BenchDatabase,
): Promise<{ problem: string | null; pending: string[] }> {
  const exists = await withClient(settings.adminUrl, async (admin) => {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [target.name]);
    return rowCount === 1;
  });
  if (!exists) return { problem: 'it does not exist', pending: [] };
  return withClient(target.url, async (client) => {
    let pending: string[];
    try {
      pending = (await migrationStatus(client)).pending;
    } catch (error) {
      // An edited or failed migration: the seeded schema is not what the code expects.
      return {
        problem: `its migrations disagree with prisma/migrations (${(error as Error).message})`,
        pending: [],
      };
    }
    const counts = await countRows(client);
    const want = target.dataset;
    if (counts.listings < want.listings || counts.users < want.users) {
      return {
        problem: `it has ${counts.listings} listings and ${counts.users} users (wants ${want.listings} and ${want.users})`,
        pending,
      };
    }
    return { problem: null, pending };
  });
}

/**
 * Seeds through the project's CLI (scripts/seed.ts → seedDatabase) in a child process: generating
 * 100k × 384-dim vectors takes a few hundred MB of heap that would otherwise stay in this process's
 * RSS and blur the gateway's memory figure.
 */
export function runSeedCli(target: BenchDatabase): Promise<Record<string, number>> {
  const d = target.dataset;
  const args = [
    ...['--users', d.users, '--listings', d.listings, '--interests', d.interests],
    ...['--categories', d.categories, '--seed', d.seed, '--database-url', target.url],
  ].map(String);
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', ...args], {
    cwd,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  // The seed prints its progress on stderr ("seed: <phase> … <n> ms  (total …)"): shown as it comes,
  // and each phase's time kept.
  const phases: Record<string, number> = {};
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const match = /^seed: (\S+)\s.*?(\d+) ms {2}\(total/.exec(line);
      if (match?.[1] && match[2]) phases[match[1]] = Number(match[2]);
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve(phases) : reject(new Error(`scripts/seed.ts failed (exit ${code ?? signal})`)),
    );
  });
}

async function recreateAndSeed(
  settings: BenchSettings,
  target: BenchDatabase,
): Promise<{ seconds: number; phasesMs: Record<string, number> }> {
  await withClient(settings.adminUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${target.name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${target.name}`);
  });
  await migrateUrl(target.url);
  const started = performance.now();
  const phasesMs = await runSeedCli(target);
  return { seconds: (performance.now() - started) / 1000, phasesMs };
}

/**
 * The production-style logins of the bench's processes: LOGIN, a member of one application role and
 * nothing else (roles are cluster-wide; the migrations create lodestar_app and lodestar_worker).
 */
export async function ensureBenchLogins(ownerUrl: string): Promise<void> {
  await withClient(ownerUrl, async (client) => {
    for (const [login, role] of [
      [BENCH_GATEWAY_LOGIN, 'lodestar_app'],
      [BENCH_WORKER_LOGIN, 'lodestar_worker'],
    ] as const) {
      const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [login]);
      if (!rowCount) {
        await client.query(
          `CREATE ROLE ${login} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE IN ROLE ${role}`,
        );
      }
    }
  });
}

/**
 * Builds "liked together" (listing_coengagement) when the database has likes but no rows of it, as the
 * import's derived step and the worker's daily task leave a production database: the seed does not
 * build it, and a feed measured without it skips the COENGAGED pool's work. Returns what it did, or
 * null when the rows were there (or there are no likes).
 */
async function ensureCoengagement(url: string): Promise<string | null> {
  const empty = await withClient(url, async (client) => {
    const { rows } = await client.query<{ empty: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM likes) AND NOT EXISTS (SELECT 1 FROM listing_coengagement) AS empty`,
    );
    return rows[0]?.empty === true;
  });
  if (!empty) return null;
  const pool = new pg.Pool({ connectionString: url, max: 1, application_name: 'lodestar-bench-setup' });
  pool.on('error', (error) => console.error(`database: co-engagement pool: ${error.message}`));
  try {
    const started = performance.now();
    const rows = await rebuildCoengagement(pool);
    return `co-engagement built (${rows} rows in ${((performance.now() - started) / 1000).toFixed(1)} s)`;
  } finally {
    await pool.end();
  }
}

/**
 * Makes lodestar_bench ready: reuses it when it is big enough and its applied migrations match the
 * files (seeding takes ~35 s), applying any pending ones; otherwise drops, migrates and seeds it. Then,
 * for lodestar_bench, builds co-engagement if it has none (~45 s at 100k listings).
 * Either way learning_events is emptied, so every run starts with the same "recently served"
 * exclusions (the bench itself writes 20 impressions per request).
 */
export async function prepareBenchDatabase(
  settings: BenchSettings,
  target: BenchDatabase = defaultBenchDatabase(settings),
): Promise<DatasetInfo> {
  console.log(`database: ${redact(target.url)}`);
  let action: string;
  let seedSeconds: number | null = null;
  let seedPhasesMs: Record<string, number> | undefined;
  if (settings.skipSeed) {
    const applied = await migrateUrl(target.url);
    action = `reused as is (BENCH_SKIP_SEED)${applied.length ? `, applied ${applied.join(', ')}` : ''}`;
  } else {
    const { problem, pending } = settings.reseed
      ? { problem: 'BENCH_RESEED is set', pending: [] }
      : await inspect(settings, target);
    if (problem === null && pending.length > 0) {
      console.log(`database: applying ${pending.length} pending migration(s): ${pending.join(', ')}`);
      const applied = await migrateUrl(target.url);
      action = `reused (big enough), applied ${applied.join(', ')}`;
    } else if (problem === null) {
      // Nothing pending, but migrating also re-applies the database-level grants (TEMPORARY).
      await migrateUrl(target.url);
      action = 'reused (migrated, big enough)';
    } else {
      console.log(`database: recreating and seeding, because ${problem}`);
      const seeded = await recreateAndSeed(settings, target);
      seedSeconds = seeded.seconds;
      seedPhasesMs = seeded.phasesMs;
      action = `created, migrated and seeded in ${seedSeconds.toFixed(1)} s (because ${problem})`;
    }
  }
  await ensureBenchLogins(target.url);
  // Only the feed's database: the scale phase times the rebuild of its other sizes itself (hours at 1M).
  const built = target.name === BENCH_DATABASE ? await ensureCoengagement(target.url) : null;
  if (built) action += `; ${built}`;
  let vacuumMs = 0;
  const counts = await withClient(target.url, async (client) => {
    await client.query('TRUNCATE learning_events');
    // This server runs with autovacuum off. In production it would long since have cleared what the
    // seed and earlier runs left dead (the seed rewrites every profile once to set its embedding: 20,000
    // dead row versions each profile lookup stepped over) and set the visibility map; without it, every
    // run started from a database no production server keeps. Plain VACUUM: the column statistics stay
    // those of the seed's ANALYZE (it refreshes only the tables' row and page counts).
    const started = performance.now();
    await client.query('VACUUM');
    vacuumMs = Math.round(performance.now() - started);
    return countRows(client);
  });
  console.log(
    `database: ${action}; ${counts.listings} listings, ${counts.users} users ` +
      `(${counts.usersWithEmbedding} with embeddings), ${counts.interests} interests; learning_events emptied, ` +
      `VACUUM in ${vacuumMs} ms`,
  );
  return {
    action: `${action}; then VACUUM (${vacuumMs} ms: autovacuum is off on this server)`,
    seedSeconds,
    ...(seedPhasesMs ? { seedPhasesMs } : {}),
    ...counts,
  };
}

/** Empties learning_events, so a phase starts from the same impressions whatever ran before it. */
export async function resetLearningEvents(url: string): Promise<void> {
  await withClient(url, (client) => client.query('TRUNCATE learning_events'));
}

/**
 * Refreshes learning_events' planner statistics. This server runs with autovacuum off, so a table the
 * bench empties and refills is never analyzed on its own, and the planner then picks plans it would
 * not pick with statistics (see bench/README.md, features phase).
 */
export async function analyzeLearningEvents(url: string): Promise<void> {
  await withClient(url, (client) => client.query('ANALYZE learning_events'));
}

/** Signed-in viewers that get the personalised (SIMILAR) feed: users with a profile embedding. */
export async function pickViewers(url: string, count: number): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ user_id: string }>(
      `SELECT user_id FROM profiles WHERE embedding IS NOT NULL AND role = 'user' ORDER BY user_id LIMIT $1`,
      [count],
    );
    if (rows.length === 0) throw new Error('no users with profile embeddings in the bench database');
    return rows.map((r) => r.user_id);
  });
}
