import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUrl } from '../../src/db/migrator.js';
import { defaultMaintenanceTasks } from '../../src/worker/maintenance.js';
import { startWorker } from '../../src/worker/startWorker.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { sqlStateOf } from '../support/fixtures.js';
import { testConfig } from '../support/gateway.js';
import { enqueueEvents, queueRow, silentLogger, waitUntil } from '../support/workerHarness.js';

/**
 * The worker runs as lodestar_worker, not as the schema owner it logs in as: everything it does —
 * every event kind, discovery, every maintenance task — works with that role's grants, and what it
 * has no business doing is refused.
 */
describe('the worker role (lodestar_worker)', () => {
  let db: TestDatabase;
  let world: FeedWorld;

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [3, 3]);
    // Records who wrote discovery candidates: a trigger runs as the invoking role.
    await db.pool.query(`
      CREATE TABLE candidate_writers (role text NOT NULL);
      GRANT INSERT ON candidate_writers TO lodestar_worker;
      CREATE FUNCTION log_candidate_writer() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO candidate_writers VALUES (current_user);
        RETURN NULL;
      END $$;
      CREATE TRIGGER interest_listing_candidates_writer AFTER INSERT ON interest_listing_candidates
        FOR EACH STATEMENT EXECUTE FUNCTION log_candidate_writer();`);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('does every event kind, discovery and every maintenance task with its own grants', async () => {
    const viewer = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.6 }]);
    const listing = world.listings[0]![0]!.id;
    const payload = { userId: viewer.userId, listingId: String(listing) };
    const events = [
      ...(await enqueueEvents(db.pool, 'like.created', [payload])),
      ...(await enqueueEvents(db.pool, 'like.deleted', [payload])),
      ...(await enqueueEvents(db.pool, 'comment.created', [payload])),
      ...(await enqueueEvents(db.pool, 'comment.deleted', [payload])),
      ...(await enqueueEvents(db.pool, 'interests.changed', [
        { userId: viewer.userId, added: [world.interestIds[1]] },
      ])),
      ...(await enqueueEvents(db.pool, 'profile.recompute', [{ userId: viewer.userId }])),
      ...(await enqueueEvents(db.pool, 'follow.created', [{}])),
      ...(await enqueueEvents(db.pool, 'signal.recorded', [{}])),
    ];
    const worker = await startWorker(testConfig(db, { WORKER_POLL_MS: '100' }), silentLogger);
    try {
      for (const id of events) {
        await waitUntil(
          async () => ['done', 'error'].includes((await queueRow(db.pool, 'events', id)).status),
          `event ${id} to settle`,
        );
        expect(await queueRow(db.pool, 'events', id)).toMatchObject({ status: 'done', last_error: null });
      }
      // interests.changed queued discovery for the added interest; the worker ran it as itself.
      await waitUntil(async () => {
        const { rows } = await db.pool.query<{ status: string }>(
          'SELECT status FROM marketplace_discovery_queue WHERE interest_id = $1',
          [world.interestIds[1]],
        );
        return rows.length > 0 && rows.every((r) => r.status === 'done');
      }, 'the discovery item to be done');
      const writers = await db.pool.query<{ role: string }>('SELECT DISTINCT role FROM candidate_writers');
      expect(writers.rows).toEqual([{ role: 'lodestar_worker' }]);
      // Every maintenance task ran (a task that failed would not be recorded).
      const names = defaultMaintenanceTasks()
        .map((t) => t.name)
        .sort();
      await waitUntil(async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM maintenance_runs',
        );
        return rows[0]!.n === names.length;
      }, 'every maintenance task to run');
      const { rows } = await db.pool.query<{ task: string }>(
        'SELECT task FROM maintenance_runs ORDER BY task',
      );
      expect(rows.map((r) => r.task)).toEqual(names);
    } finally {
      await worker.stop(5000);
    }
  });

  it('cannot change what is not derived data: listing titles, profiles, the schema', async () => {
    const client = await db.pool.connect();
    const asWorker = async (sql: string) => {
      await client.query('BEGIN');
      try {
        await client.query('SET LOCAL ROLE lodestar_worker');
        await client.query(`SELECT set_config('lodestar.role', 'service', true)`);
        return await sqlStateOf(client, sql);
      } finally {
        await client.query('ROLLBACK');
      }
    };
    try {
      expect(await asWorker(`UPDATE marketplace_listings SET title = 'x'`)).toBe('42501');
      expect(await asWorker('DELETE FROM profiles')).toBe('42501');
      expect(await asWorker('DELETE FROM learning_events')).toBe('42501');
      expect(await asWorker('CREATE TABLE intruder (id int)')).toBe('42501');
    } finally {
      client.release();
    }
  });

  it('refuses to start in production while its role may create temporary objects', async () => {
    // A clone of the template has the default database ACL: TEMP for PUBLIC.
    const production = testConfig(db, { NODE_ENV: 'production', WORKER_POLL_MS: '100' });
    await expect(startWorker(production, silentLogger)).rejects.toThrow(
      'the worker\'s role "lodestar_worker" may create temporary objects on this database',
    );
    await migrateUrl(db.url);
    const worker = await startWorker(production, silentLogger);
    await worker.stop(5000);
  });
});
