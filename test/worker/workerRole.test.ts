import { describe, expect } from 'vitest';
import { migrateUrl } from '../../src/db/migrator.js';
import { defaultMaintenanceTasks } from '../../src/worker/maintenance.js';
import { startWorker } from '../../src/worker/startWorker.js';
import type { TestDatabase } from '../support/db.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { sqlStateOf } from '../support/fixtures.js';
import { testConfig } from '../support/gateway.js';
import { recordTraffic } from '../support/flagsHarness.js';
import { enqueueEvents, queueRow, silentLogger, waitUntil } from '../support/workerHarness.js';
import { it, test } from '../support/testFixtures.js';

/**
 * The worker runs as lodestar_worker, not as the schema owner it logs in as: everything it does —
 * every event kind, discovery, every maintenance task — works with that role's grants, and what it
 * has no business doing is refused.
 */
describe('the worker role (lodestar_worker)', () => {
  let db: TestDatabase;
  let world: FeedWorld;

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
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

  it('runs the scheduled auto-rollback as itself: a 5% flag with 3% errors from 30 users goes to 0%, audited', async () => {
    // Records which role wrote the flag's history (a trigger runs as the invoking role).
    await db.pool.query(`
      CREATE TABLE flag_writers (role text NOT NULL);
      GRANT INSERT ON flag_writers TO lodestar_worker;
      CREATE FUNCTION log_flag_writer() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO flag_writers VALUES (current_user);
        RETURN NULL;
      END $$;
      CREATE TRIGGER feature_flag_history_writer AFTER INSERT ON feature_flag_history
        FOR EACH ROW EXECUTE FUNCTION log_flag_writer();`);
    await db.pool.query(
      `INSERT INTO feature_flags (key, rollout_pct, state) VALUES ('worker-role-bad', 5, 'rolling')`,
    );
    // 3% errors, each from a user of its own (30 users ≥ FLAGS_MIN_AFFECTED_USERS).
    await recordTraffic(db.pool, 'worker-role-bad', {
      on: { requests: 1000, errors: 30 },
      off: { requests: 1000 },
    });
    await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'evaluate_rollouts'`);
    const auditBefore = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ops_audit');
    const worker = await startWorker(
      testConfig(db, { WORKER_POLL_MS: '100', WORKER_EVENTS: 'false', WORKER_DISCOVERY: 'false' }),
      silentLogger,
    );
    try {
      await waitUntil(async () => {
        const { rows } = await db.pool.query<{ task: string }>(
          `SELECT task FROM maintenance_runs WHERE task = 'evaluate_rollouts'`,
        );
        return rows.length === 1;
      }, 'evaluate_rollouts to run');
    } finally {
      await worker.stop(5000);
    }
    // Before the fix the audit INSERT … RETURNING needed SELECT on ops_audit: the task failed, the
    // transaction rolled back and the flag stayed at 5% (on every run).
    const flag = await db.pool.query<{ rollout_pct: number; state: string }>(
      `SELECT rollout_pct, state FROM feature_flags WHERE key = 'worker-role-bad'`,
    );
    expect(flag.rows).toEqual([{ rollout_pct: 0, state: 'rolled_back' }]);
    const history = await db.pool.query<{ to_pct: number; actor: string; reason: string }>(
      `SELECT to_pct, actor, reason FROM feature_flag_history WHERE flag_key = 'worker-role-bad'`,
    );
    expect(history.rows).toHaveLength(1);
    expect(history.rows[0]).toMatchObject({ to_pct: 0, actor: 'worker:evaluate_rollouts' });
    expect(history.rows[0]!.reason).toMatch(
      /^auto-rollback: error rate 3\.0% > 2\.0% over 1000 exposed requests from 30 users$/,
    );
    const writers = await db.pool.query<{ role: string }>('SELECT DISTINCT role FROM flag_writers');
    expect(writers.rows).toEqual([{ role: 'lodestar_worker' }]);
    const audit = await db.pool.query<{
      actor_role: string;
      actor_id: string | null;
      action: string;
      ok: boolean;
      result: unknown;
    }>(`SELECT actor_role, actor_id, action, ok, result FROM ops_audit ORDER BY id OFFSET $1`, [
      auditBefore.rows[0]!.n,
    ]);
    expect(audit.rows).toEqual([
      {
        actor_role: 'worker',
        actor_id: null,
        action: 'evaluateRollouts',
        ok: true,
        result: [{ key: 'worker-role-bad', reasons: [expect.stringMatching(/error rate 3\.0%/)] }],
      },
    ]);
    // Without reading ops_audit: the role still has no SELECT on it.
    const canRead = await db.pool.query<{ ok: boolean }>(
      `SELECT has_table_privilege('lodestar_worker', 'ops_audit', 'SELECT') AS ok`,
    );
    expect(canRead.rows[0]!.ok).toBe(false);
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
