import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/server/logger.js';
import { defaultMaintenanceTasks, runDueMaintenance } from '../../src/worker/maintenance.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';

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

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [3, 3]);
  });

  afterAll(async () => {
    for (const pool of pools) await pool.end();
    await db?.drop();
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
});
