import pg from 'pg';
import { afterAll, describe, expect } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { defaultMaintenanceTasks, runDueMaintenance } from '../../src/worker/maintenance.js';
import type { TestDatabase } from '../support/db.js';
import { waitUntil } from '../support/workerHarness.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { it, test } from '../support/testFixtures.js';

const logger = createLogger(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }));

describe('scheduled maintenance', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  const pools: pg.Pool[] = [];
  const workerPool = () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    pools.push(pool);
    return pool;
  };

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
    world = await seedFeedWorld(db.pool, [3, 3]);
  });

  afterAll(async () => {
    for (const pool of pools) await pool.end();
  });

  it('runs every due task once across two workers, and nothing again within its interval', async () => {
    const who = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.8 }]);
    const listing = world.listings[0]![0]!.id;
    await db.pool.query(
      `INSERT INTO intent_signals (user_id, kind, listing_id, created_at)
       VALUES ($1, 'view', $2, now() - interval '100 days'), ($1, 'view', $2, now())`,
      [who.userId, listing],
    );
    const tasks = defaultMaintenanceTasks();
    const [a, b] = await Promise.all([
      runDueMaintenance(workerPool(), tasks, logger),
      runDueMaintenance(workerPool(), tasks, logger),
    ]);
    expect([...a, ...b].sort()).toEqual(tasks.map((t) => t.name).sort());
    const { rows } = await db.pool.query<{ task: string; last_result: unknown }>(
      'SELECT task, last_result FROM maintenance_runs ORDER BY task',
    );
    expect(rows.map((r) => r.task)).toEqual(tasks.map((t) => t.name).sort());
    expect(rows.find((r) => r.task === 'gc_intent_signals')?.last_result).toBe(1);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM intent_signals')).rows[0]).toEqual({ n: 1 });
    expect(await runDueMaintenance(workerPool(), tasks, logger)).toEqual([]);
  });

  it('enqueues discovery for the worst gaps once a day', async () => {
    const tasks = defaultMaintenanceTasks().filter((t) => t.name === 'enqueue_gap_discovery');
    await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'enqueue_gap_discovery'`);
    await db.pool.query('DELETE FROM marketplace_discovery_queue');
    await runDueMaintenance(workerPool(), tasks, logger);
    const first = (
      await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM marketplace_discovery_queue')
    ).rows[0]!.n;
    expect(first).toBeGreaterThan(0);
    await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'enqueue_gap_discovery'`);
    await runDueMaintenance(workerPool(), tasks, logger);
    expect(
      (await db.pool.query('SELECT count(*)::int AS n FROM marketplace_discovery_queue')).rows[0],
    ).toEqual({ n: first });
  });

  it('analyzes a hot table after bulk work, and leaves unchanged tables alone', async () => {
    const tasks = defaultMaintenanceTasks().filter((t) => t.name === 'analyze_changed_hot_tables');
    const who = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.5 }]);
    // Settle every hot table first, so only the bulk insert below counts as change.
    await db.pool.query('SELECT analyze_hot_tables()');
    await db.pool.query(
      `ANALYZE user_interests, interest_listing_candidates, intent_signals, learning_events, likes,
               hidden_listings, listing_coengagement`,
    );
    await db.pool.query(
      `INSERT INTO intent_signals (user_id, kind, listing_id)
       SELECT $1, 'view', $2 FROM generate_series(1, 5000)`,
      [who.userId, world.listings[0]![0]!.id],
    );
    // Table statistics reach pg_stat_user_tables when the inserting session flushes them (≤ 1 s).
    await waitUntil(async () => {
      const { rows } = await db.pool.query<{ n: string }>(
        // intent_signals is partitioned: its partitions count the changes.
        `SELECT sum(n_mod_since_analyze) AS n FROM pg_stat_user_tables
          WHERE relid IN (SELECT relid FROM pg_partition_tree('intent_signals') WHERE isleaf)`,
      );
      return Number(rows[0]?.n ?? 0) >= 5000;
    }, 'the insert to show in pg_stat_user_tables');
    await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'analyze_changed_hot_tables'`);
    expect(await runDueMaintenance(workerPool(), tasks, logger)).toEqual(['analyze_changed_hot_tables']);
    const ran = await db.pool.query<{ last_result: string[] }>(
      `SELECT last_result FROM maintenance_runs WHERE task = 'analyze_changed_hot_tables'`,
    );
    expect(ran.rows[0]?.last_result).toContain('intent_signals');
    expect(ran.rows[0]?.last_result).not.toContain('marketplace_listings');
    await waitUntil(async () => {
      const { rows } = await db.pool.query<{ n: string }>(
        // intent_signals is partitioned: its partitions count the changes.
        `SELECT sum(n_mod_since_analyze) AS n FROM pg_stat_user_tables
          WHERE relid IN (SELECT relid FROM pg_partition_tree('intent_signals') WHERE isleaf)`,
      );
      return Number(rows[0]?.n ?? 1) === 0;
    }, 'the ANALYZE to reset the change count');
    // Nothing changed since: the next check analyzes nothing.
    expect((await db.pool.query('SELECT analyze_changed_hot_tables() AS v')).rows[0]).toEqual({ v: [] });
  });

  it('analyzes the tables the feed statement reads too: likes after a bulk import', async () => {
    const who = await createFeedViewer(db.pool, [{ interestId: world.interestIds[1]!, affinity: 0.5 }]);
    const { rows: listings } = await db.pool.query<{ id: number }>(
      `INSERT INTO marketplace_listings (category_id, title, price)
       SELECT $1, 'Bulk ' || g, 10 FROM generate_series(1, 1500) g RETURNING id`,
      [world.listings[0]![0]!.categoryId],
    );
    await db.pool.query('SELECT analyze_changed_hot_tables()');
    await db.pool.query(`INSERT INTO likes (user_id, listing_id) SELECT $1, unnest($2::int[])`, [
      who.userId,
      listings.map((l) => l.id),
    ]);
    await waitUntil(async () => {
      const { rows } = await db.pool.query<{ n: string }>(
        `SELECT n_mod_since_analyze AS n FROM pg_stat_user_tables WHERE relname = 'likes'`,
      );
      return Number(rows[0]?.n ?? 0) >= 1500;
    }, 'the likes to show in pg_stat_user_tables');
    const { rows } = await db.pool.query<{ v: string[] }>('SELECT analyze_changed_hot_tables() AS v');
    expect(rows[0]?.v).toContain('likes');
  });

  it('runs each task on the interval the configuration gives it', () => {
    const tasks = defaultMaintenanceTasks({ intervals: { gcSec: 120, analyzeSec: 30 } });
    const interval = (name: string) => tasks.find((t) => t.name === name)?.intervalMs;
    expect(interval('gc_intent_signals')).toBe(120_000);
    expect(interval('analyze_changed_hot_tables')).toBe(30_000);
    expect(interval('decay_interest_affinity')).toBe(7 * 86_400_000);
    expect(interval('enqueue_gap_discovery')).toBe(3_600_000);
  });

  it('deletes done queue items after 7 days and keeps everything else', async () => {
    const tasks = defaultMaintenanceTasks().filter((t) => t.name === 'gc_done_queue_items');
    await db.pool.query('TRUNCATE events_queue, marketplace_discovery_queue');
    await db.pool.query(
      `INSERT INTO events_queue (kind, status) VALUES ('old', 'done'), ('recent', 'done'), ('waiting', 'queued'),
         ('failed', 'error')`,
    );
    // updated_at is kept by a trigger on UPDATE: age the rows with the trigger's own column directly.
    await db.pool.query(
      `ALTER TABLE events_queue DISABLE TRIGGER USER;
       UPDATE events_queue SET updated_at = now() - interval '8 days' WHERE kind IN ('old', 'waiting', 'failed');
       ALTER TABLE events_queue ENABLE TRIGGER USER;`,
    );
    await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'gc_done_queue_items'`);
    expect(await runDueMaintenance(workerPool(), tasks, logger)).toEqual(['gc_done_queue_items']);
    const { rows } = await db.pool.query<{ kind: string }>('SELECT kind FROM events_queue ORDER BY kind');
    expect(rows.map((r) => r.kind)).toEqual(['failed', 'recent', 'waiting']);
  });
  // The in-process worker on the embedded database: no statement_timeout there, so runs are cut to size.
  it('bounded: a gc run deletes at most gcRowsPerRun and is due again at once until it is done', async () => {
    const bounds = { gcRowsPerRun: 2, maxIndexBuildRows: 1_000_000 };
    const tasks = defaultMaintenanceTasks({ bounds }).filter((t) => t.name === 'gc_intent_signals');
    const who = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.8 }]);
    await db.pool.query(
      `INSERT INTO intent_signals (user_id, kind, listing_id, created_at)
       SELECT $1, 'view', $2, now() - interval '100 days' FROM generate_series(1, 5)`,
      [who.userId, world.listings[0]![0]!.id],
    );
    await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'gc_intent_signals'`);
    const old = async () =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM intent_signals WHERE created_at < now() - interval '90 days'`,
        )
      ).rows[0]?.n;
    const results: unknown[] = [];
    const lastResult = async () =>
      (
        await db.pool.query<{ last_result: unknown }>(
          `SELECT last_result FROM maintenance_runs WHERE task = 'gc_intent_signals'`,
        )
      ).rows[0]?.last_result;
    for (const left of [3, 1, 0]) {
      expect(await runDueMaintenance(workerPool(), tasks, logger)).toEqual(['gc_intent_signals']);
      expect(await old()).toBe(left);
      results.push(await lastResult());
    }
    expect(results).toEqual([{ deleted: 2, more: true }, { deleted: 2, more: true }, { deleted: 1 }]);
    // Done: not due again within its interval.
    expect(await runDueMaintenance(workerPool(), tasks, logger)).toEqual([]);
  });

  it('bounded: ivfflat indexes of tables above maxIndexBuildRows are left alone and listed as skipped', async () => {
    const bounds = { gcRowsPerRun: 2000, maxIndexBuildRows: 0 };
    const tasks = defaultMaintenanceTasks({ bounds }).filter(
      (t) => t.name === 'rebuild_outgrown_vector_indexes',
    );
    await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'rebuild_outgrown_vector_indexes'`);
    await db.pool.query('DELETE FROM vector_index_state');
    expect(await runDueMaintenance(workerPool(), tasks, logger)).toEqual(['rebuild_outgrown_vector_indexes']);
    const { rows } = await db.pool.query<{ last_result: { index: string; rows: number; skipped?: true }[] }>(
      `SELECT last_result FROM maintenance_runs WHERE task = 'rebuild_outgrown_vector_indexes'`,
    );
    const result = rows[0]?.last_result ?? [];
    const nonEmpty = result.filter((r) => r.rows > 0);
    expect(nonEmpty.length).toBeGreaterThan(0);
    expect(nonEmpty.every((r) => r.skipped === true)).toBe(true);
    // Nothing was built: no index has a recorded build.
    const built = await db.pool.query('SELECT 1 FROM vector_index_state WHERE built_at IS NOT NULL');
    expect(built.rowCount).toBe(0);
  });
});
