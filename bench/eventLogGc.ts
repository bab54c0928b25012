import { cp, mkdtemp, rm } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { defaultMigrationsDir, migrateUrl, readMigrations } from '../src/db/migrator.js';
import { withClient } from './shared/database.js';

/**
 * `npm run bench:gc` (issue #18 item 3): gc_learning_events on 90 days of learning events, before the
 * event logs were partitioned (one table, deleted row by row) and after (weekly partitions: the weeks
 * past the retention dropped whole, rows deleted only in the week the cutoff falls in). Two databases
 * on the bench cluster get the same rows, in time order as the gateway logs them, as wide as its rows
 * (a context with session, request id and ten ranking features): one migrated up to the migration
 * before partitioning, one migrated fully and partitioned for the whole 90 days (what a database that
 * has run partitioned that long looks like). Then, in each, with a writer logging impressions into the
 * current week every 10 ms throughout: `SELECT gc_learning_events(interval '30 days')` (60 of the 90
 * days go), and the VACUUM the deletes leave to autovacuum. Reported: GC time, WAL written, dead tuples
 * left, the VACUUM's time and WAL, table + index size, and the writer's slowest insert during GC (what
 * the drops' lock costs the feed). Writes bench/results/gc-latest.md.
 *
 * Knobs (environment): BENCH_GC_EVENTS (default 1000000), BENCH_DATABASE_URL (an owner login on the
 * cluster, default postgresql://postgres@127.0.0.1:5432/postgres).
 */

const EVENTS = Number(process.env.BENCH_GC_EVENTS ?? 1_000_000);
const ADMIN_URL = process.env.BENCH_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const FIRST_PARTITIONED = '20261209010000_event_logs_partition_bound';
const DAYS = 90;
const RETENTION_DAYS = 30;

const urlOf = (name: string) => {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
};

async function recreate(name: string): Promise<void> {
  await withClient(ADMIN_URL, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  });
}

/** Migrations up to (not including) `until`, or all. */
async function migrate(name: string, until: string | null): Promise<void> {
  if (until === null) {
    await migrateUrl(urlOf(name));
    return;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lodestar-gc-bench-'));
  try {
    const files = await readMigrations();
    for (const file of files.slice(
      0,
      files.findIndex((f) => f.name === until),
    )) {
      await cp(path.join(defaultMigrationsDir, file.name), path.join(dir, file.name), { recursive: true });
    }
    await migrateUrl(urlOf(name), { dir });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** 1,000 users, 1,000 listings, and EVENTS impressions over the last 90 days, oldest first. */
async function fill(client: pg.Client): Promise<void> {
  await client.query(`INSERT INTO categories (slug, name) VALUES ('gc-bench', 'GC bench')`);
  await client.query(
    `INSERT INTO profiles (handle, display_name) SELECT 'gc_user_' || g, 'GC ' || g FROM generate_series(1, 1000) g`,
  );
  await client.query(
    `INSERT INTO marketplace_listings (category_id, title, price)
     SELECT (SELECT id FROM categories WHERE slug = 'gc-bench'), 'listing ' || g, 10 FROM generate_series(1, 1000) g`,
  );
  await client.query(
    `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, context, created_at)
     SELECT u.ids[1 + g % 1000], l.ids[1 + (g * 7) % 1000], 'epsilon_greedy', 'SIMILAR', 0.9, g % 20,
            jsonb_build_object('session', md5((g / 20)::text), 'requestId', md5(g::text), 'position', g % 20,
                               'features', ARRAY[random(), random(), random(), random(), random(),
                                                 random(), random(), random(), random(), random()],
                               'featuresVersion', 1),
            now() - interval '${DAYS} days' + (g::float8 / $1) * interval '${DAYS} days'
       FROM generate_series(1, $1::int) g,
            (SELECT array_agg(user_id) AS ids FROM profiles) u,
            (SELECT array_agg(id) AS ids FROM marketplace_listings) l`,
    [EVENTS],
  );
  await client.query('VACUUM ANALYZE learning_events');
  await client.query('CHECKPOINT');
}

interface GcRun {
  layout: string;
  rows: number;
  removed: number;
  gcMs: number;
  gcWalMb: number;
  deadTuples: number;
  vacuumMs: number;
  vacuumWalMb: number;
  sizeBeforeMb: number;
  sizeAfterMb: number;
  writerInserts: number;
  writerSlowestMs: number;
  partitions: string;
}

const walMb = async (client: pg.Client, from: string) =>
  Number(
    (
      await client.query<{ b: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn) AS b', [
        from,
      ])
    ).rows[0]!.b,
  ) / 1e6;
const lsn = async (client: pg.Client) =>
  (await client.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
/** The table, or its partitions (pg_partition_tree lists nothing for a table that is not partitioned). */
const TREE = `SELECT 'learning_events'::regclass AS relid
              UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = 'learning_events'::regclass`;
/** Heap, indexes and TOAST of the table and every partition. */
const sizeMb = async (client: pg.Client) =>
  Number(
    (
      await client.query<{ b: string }>(
        `SELECT coalesce(sum(pg_total_relation_size(relid)), 0) AS b FROM (${TREE}) t`,
      )
    ).rows[0]!.b,
  ) / 1e6;

async function measure(name: string, layout: string): Promise<GcRun> {
  return withClient(urlOf(name), async (client) => {
    const rows = Number(
      (await client.query<{ n: string }>('SELECT count(*) AS n FROM learning_events')).rows[0]!.n,
    );
    // Both layouts start from a checkpoint: the first change to each page after one writes the whole page.
    await client.query('CHECKPOINT');
    const sizeBeforeMb = await sizeMb(client);
    const partitions = Number(
      (
        await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_partition_tree('learning_events') WHERE isleaf AND level > 0`,
        )
      ).rows[0]!.n,
    );
    // The feed's writer: one impression into the current week every 10 ms, timed.
    let stop = false;
    let slowest = 0;
    let inserts = 0;
    const writer = withClient(urlOf(name), async (w) => {
      const ids = (
        await w.query<{ u: string; l: number }>(
          'SELECT (SELECT user_id FROM profiles LIMIT 1) AS u, (SELECT id FROM marketplace_listings LIMIT 1) AS l',
        )
      ).rows[0]!;
      while (!stop) {
        const t = performance.now();
        await w.query(
          `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position)
           VALUES ($1, $2, 'epsilon_greedy', 'SIMILAR', 0.9, 0)`,
          [ids.u, ids.l],
        );
        slowest = Math.max(slowest, performance.now() - t);
        inserts += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    slowest = 0;
    inserts = 0;
    const gcFrom = await lsn(client);
    const t0 = performance.now();
    const removed = Number(
      (await client.query<{ n: string }>(`SELECT gc_learning_events(interval '${RETENTION_DAYS} days') AS n`))
        .rows[0]!.n,
    );
    const gcMs = performance.now() - t0;
    const gcWalMb = await walMb(client, gcFrom);
    stop = true;
    await writer;
    const writerSlowestMs = slowest;
    const writerInserts = inserts;
    await client.query('SELECT pg_stat_force_next_flush()');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.query('SELECT pg_stat_clear_snapshot()');
    const deadTuples = Number(
      (
        await client.query<{ n: string }>(
          `SELECT coalesce(sum(n_dead_tup), 0) AS n FROM pg_stat_user_tables WHERE relid IN (${TREE})`,
        )
      ).rows[0]!.n,
    );
    const vacuumFrom = await lsn(client);
    const t1 = performance.now();
    await client.query('VACUUM learning_events');
    const vacuumMs = performance.now() - t1;
    const vacuumWalMb = await walMb(client, vacuumFrom);
    const sizeAfterMb = await sizeMb(client);
    return {
      layout,
      rows,
      removed,
      gcMs,
      gcWalMb,
      deadTuples,
      vacuumMs,
      vacuumWalMb,
      sizeBeforeMb,
      sizeAfterMb,
      writerInserts,
      writerSlowestMs,
      partitions: partitions === 0 ? 'one table' : `${partitions} partitions`,
    };
  });
}

async function main(): Promise<void> {
  const before = 'lodestar_bench_gc_before';
  const after = 'lodestar_bench_gc_after';
  console.log(`bench:gc: ${EVENTS} learning events over ${DAYS} days, retention ${RETENTION_DAYS} days`);
  await recreate(before);
  await migrate(before, FIRST_PARTITIONED);
  await recreate(after);
  await migrate(after, null);
  await withClient(urlOf(after), async (client) => {
    // Partitioned for the whole 90 days: the new database's first partition (before this week, empty)
    // gives way to weekly ones.
    await client.query('DROP TABLE learning_events_legacy');
    await client.query(`SELECT create_event_partitions(p_from => now() - interval '${DAYS + 7} days')`);
  });
  for (const name of [before, after]) {
    const t = performance.now();
    await withClient(urlOf(name), fill);
    console.log(`  filled ${name} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const load = os.loadavg();
  const runs = [await measure(before, 'before'), await measure(after, 'after')];
  for (const name of [before, after]) {
    await withClient(ADMIN_URL, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
  const [b, a] = runs as [GcRun, GcRun];
  const ratio = (x: number, y: number) => (y === 0 ? '—' : `${(x / y).toFixed(1)}×`);
  const row = (r: GcRun) =>
    `| ${r.layout}: ${r.partitions} | ${r.rows.toLocaleString('en')} | ${r.removed.toLocaleString('en')} | ` +
    `${(r.gcMs / 1000).toFixed(2)} | ${r.gcWalMb.toFixed(1)} | ${r.deadTuples.toLocaleString('en')} | ` +
    `${(r.vacuumMs / 1000).toFixed(2)} | ${r.vacuumWalMb.toFixed(1)} | ${r.sizeBeforeMb.toFixed(0)} → ${r.sizeAfterMb.toFixed(0)} | ` +
    `${r.writerSlowestMs.toFixed(1)} (${r.writerInserts}) |`;
  const markdown = [
    '# gc_learning_events before and after partitioning (`npm run bench:gc`)',
    '',
    `${new Date().toISOString()} · ${EVENTS.toLocaleString('en')} learning events over ${DAYS} days, ` +
      `retention ${RETENTION_DAYS} days · ${os.cpus().length} cores · load average at start ${load.map((l) => l.toFixed(2)).join(' ')}`,
    '',
    '| layout | rows | removed | GC s | GC WAL MB | dead tuples left | VACUUM s | VACUUM WAL MB | size MB (before → after VACUUM) | writer: slowest insert ms (inserts) during GC |',
    '|---|---|---|---|---|---|---|---|---|---|',
    row(b),
    row(a),
    '',
    `Partitioned: GC ${ratio(b.gcMs, a.gcMs)} faster, ${ratio(b.gcWalMb, a.gcWalMb)} less WAL (what replicas ` +
      `replay and backups keep), ${ratio(b.deadTuples, a.deadTuples)} fewer dead tuples for autovacuum, ` +
      `VACUUM ${ratio(b.vacuumMs, a.vacuumMs)} shorter; ` +
      'the partitioned table also gives its space back to the file system at once (dropped files), where ' +
      'the single table keeps its size for reuse.',
    '',
  ].join('\n');
  const file = path.join(path.dirname(new URL(import.meta.url).pathname), 'results', 'gc-latest.md');
  writeFileSync(file, markdown);
  console.log(`\n${markdown}\n${file}`);
}

await main();
