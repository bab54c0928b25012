import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeRollout } from '../../src/flags/flags.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  insertCategory,
  insertIntentSignal,
  insertInterest,
  insertLearningEvent,
  insertListing,
  insertProfile,
  sqlStateOf,
} from '../support/fixtures.js';
import { functionExecute, matrixRoles, relationPrivileges, type MatrixRole } from './privilegesMatrix.js';

type Identity = { role: 'anonymous' | 'user' | 'admin' | 'service'; userId?: string | null };

/**
 * Every role's grants on every table, view and function, read from the catalogue and compared with
 * the written-down matrix; then the attacks of the review, each refused by the database itself.
 */
describe('database privileges', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  /**
   * Runs `fn` in a transaction as `role` with `identity` set transaction-locally (the worker's sessions
   * carry the service identity), then rolls back.
   */
  async function as<T>(
    role: MatrixRole,
    identity: Identity | null,
    fn: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    const client = await db.pool.connect();
    const onError = () => undefined;
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL ROLE ${matrixRoles[role]}`);
      if (identity) {
        await client.query(
          `SELECT set_config('lodestar.user_id', $1, true), set_config('lodestar.role', $2, true)`,
          [identity.userId ?? '', identity.role],
        );
      }
      return await fn(client);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.removeListener('error', onError);
      client.release();
    }
  }

  const worker: Identity = { role: 'service' };

  describe('the catalogue matches the privileges matrix (test/db/privilegesMatrix.ts)', () => {
    it('knows every application role', async () => {
      const { rows } = await db.pool.query<{ rolname: string }>(
        `SELECT rolname FROM pg_roles WHERE rolname LIKE 'lodestar\\_%' AND NOT rolcanlogin ORDER BY 1`,
      );
      expect(rows.map((r) => r.rolname)).toEqual(Object.values(matrixRoles).sort());
    });

    it('every table and view in public, per role: SELECT, INSERT, UPDATE, DELETE and row-level security', async () => {
      const roles = Object.entries(matrixRoles) as [MatrixRole, string][];
      const { rows } = await db.pool.query<{ relname: string; rls: boolean; role: string; privs: string }>(
        `SELECT c.relname, c.relrowsecurity AS rls, r.role,
                CASE WHEN has_table_privilege(r.role, c.oid, 'SELECT') THEN 'S'
                     WHEN has_any_column_privilege(r.role, c.oid, 'SELECT') THEN 's' ELSE '-' END ||
                CASE WHEN has_table_privilege(r.role, c.oid, 'INSERT') THEN 'I'
                     WHEN has_any_column_privilege(r.role, c.oid, 'INSERT') THEN 'i' ELSE '-' END ||
                CASE WHEN has_table_privilege(r.role, c.oid, 'UPDATE') THEN 'U'
                     WHEN has_any_column_privilege(r.role, c.oid, 'UPDATE') THEN 'u' ELSE '-' END ||
                CASE WHEN has_table_privilege(r.role, c.oid, 'DELETE') THEN 'D' ELSE '-' END AS privs
           FROM pg_class c, unnest($1::text[]) AS r(role)
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
            AND NOT c.relispartition
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
          ORDER BY c.relname, r.role`,
        [roles.map(([, name]) => name)],
      );
      const actual: Record<string, Record<string, string | boolean>> = {};
      for (const row of rows) {
        const short = roles.find(([, name]) => name === row.role)![0];
        actual[row.relname] = { ...actual[row.relname], rls: row.rls, [short]: row.privs };
      }
      expect(actual).toEqual(relationPrivileges);
    });

    it("partitions (the event logs' weeks) grant nothing: every role goes through the parent and its policies", async () => {
      const { rows } = await db.pool.query<{ relname: string; role: string }>(
        `SELECT c.relname, r.role
           FROM pg_class c, unnest($1::text[]) AS r(role)
          WHERE c.relnamespace = 'public'::regnamespace AND c.relispartition AND c.relkind = 'r'
            AND (has_any_column_privilege(r.role, c.oid, 'SELECT') OR has_any_column_privilege(r.role, c.oid, 'INSERT')
                 OR has_any_column_privilege(r.role, c.oid, 'UPDATE') OR has_table_privilege(r.role, c.oid, 'DELETE'))`,
        [Object.values(matrixRoles)],
      );
      const partitions = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent IN ('learning_events'::regclass, 'intent_signals'::regclass)`,
      );
      expect(partitions.rows[0]!.n).toBeGreaterThanOrEqual(4);
      expect(rows).toEqual([]);
    });

    it('every function in public: which roles may execute it', async () => {
      const roles = Object.entries(matrixRoles) as [MatrixRole, string][];
      const { rows } = await db.pool.query<{ fn: string; roles: string[] }>(
        `SELECT p.oid::regprocedure::text AS fn,
                ARRAY(SELECT r FROM unnest($1::text[]) r
                       WHERE has_function_privilege(r, p.oid, 'EXECUTE') ORDER BY r) AS roles
           FROM pg_proc p
          WHERE p.pronamespace = 'public'::regnamespace
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
          ORDER BY 1`,
        [roles.map(([, name]) => name)],
      );
      const actual = Object.fromEntries(
        rows.map((row) => [row.fn, row.roles.map((name) => roles.find(([, n]) => n === name)![0])]),
      );
      expect(actual).toEqual(functionExecute);
    });
  });

  describe('maintenance functions check the caller', () => {
    it.each([
      ['no identity', { role: 'anonymous' }],
      ['a user identity', { role: 'user' }],
    ] as const)(
      'gc_learning_events(interval 0) as lodestar_app with %s is refused (42501) and deletes nothing',
      async (_label, identity) => {
        const userId = await insertProfile(db.pool);
        const listingId = await insertListing(db.pool, {
          categoryId: await insertCategory(db.pool),
          sellerId: userId,
        });
        await insertLearningEvent(db.pool, { userId, listingId });
        await insertIntentSignal(db.pool, { userId, listingId });
        const before = await db.pool.query<{ n: number }>(
          'SELECT (SELECT count(*) FROM learning_events)::int + (SELECT count(*) FROM intent_signals)::int AS n',
        );
        expect(before.rows[0]!.n).toBeGreaterThan(0);
        const states = await as('app', { ...identity, userId }, async (client) => [
          await sqlStateOf(client, `SELECT gc_learning_events(interval '0')`),
          await sqlStateOf(client, `SELECT gc_intent_signals(interval '0')`),
          await sqlStateOf(client, `SELECT decay_interest_affinity(now() + interval '10 years')`),
          await sqlStateOf(client, `SELECT gc_done_queue_items(interval '0')`),
          await sqlStateOf(client, `SELECT gc_ops_telemetry(interval '0')`),
          await sqlStateOf(client, `SELECT gc_idempotency_keys(interval '24 hours')`),
          await sqlStateOf(client, 'SELECT analyze_hot_tables()'),
          await sqlStateOf(client, 'SELECT analyze_changed_hot_tables()'),
        ]);
        expect(states).toEqual(Array(8).fill('42501'));
        const after = await db.pool.query<{ n: number }>(
          'SELECT (SELECT count(*) FROM learning_events)::int + (SELECT count(*) FROM intent_signals)::int AS n',
        );
        expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
      },
    );

    it('runs for an admin identity (the ops API) and for the worker', async () => {
      const admin = await as('app', { role: 'admin' }, (client) =>
        sqlStateOf(client, `SELECT gc_learning_events(interval '180 days')`),
      );
      expect(admin).toBeUndefined();
      const fromWorker = await as('worker', worker, async (client) => [
        await sqlStateOf(client, `SELECT gc_learning_events()`),
        await sqlStateOf(client, `SELECT decay_interest_affinity()`),
      ]);
      expect(fromWorker).toEqual([undefined, undefined]);
    });
  });

  describe('feature flags and experiments', () => {
    const flagPct = async (key: string) =>
      (
        await db.pool.query<{ pct: number }>('SELECT rollout_pct AS pct FROM feature_flags WHERE key = $1', [
          key,
        ])
      ).rows[0]?.pct;

    beforeAll(async () => {
      await db.pool.query(
        `INSERT INTO feature_flags (key, rollout_pct, state) VALUES ('priv_flag', 5, 'rolling')
         ON CONFLICT (key) DO NOTHING`,
      );
    });

    it('lodestar_app without an admin identity cannot create or change a flag', async () => {
      for (const identity of [null, { role: 'user' }, { role: 'service' }] as const) {
        const result = await as('app', identity, async (client) => ({
          insert: await sqlStateOf(client, `INSERT INTO feature_flags (key) VALUES ('priv_new_flag')`),
          update: (await client.query(`UPDATE feature_flags SET rollout_pct = 100 WHERE key = 'priv_flag'`))
            .rowCount,
          history: await sqlStateOf(
            client,
            `INSERT INTO feature_flag_history (flag_key, to_pct, to_state, actor) VALUES ('priv_flag', 100, 'complete', 'admin:x')`,
          ),
        }));
        expect(result).toEqual({ insert: '42501', update: 0, history: '42501' });
      }
      expect(await flagPct('priv_flag')).toBe(5);
    });

    it('lodestar_app with an admin identity can', async () => {
      const updated = await as('app', { role: 'admin' }, async (client) => {
        await client.query(`INSERT INTO feature_flags (key) VALUES ('priv_admin_flag')`);
        return (
          await client.query(
            `UPDATE feature_flags SET rollout_pct = 25, state = 'rolling' WHERE key = 'priv_flag'`,
          )
        ).rowCount;
      });
      expect(updated).toBe(1);
    });

    it('lodestar_app without an admin identity cannot create or change an experiment', async () => {
      await db.pool.query(
        `INSERT INTO experiments (key, arms, active) VALUES ('priv_exp', '[{"name":"a","weight":1,"policy":"thompson"}]', false) ON CONFLICT (key) DO NOTHING`,
      );
      const result = await as('app', null, async (client) => ({
        insert: await sqlStateOf(
          client,
          `INSERT INTO experiments (key, arms) VALUES ('priv_exp2', '[{"name":"a","weight":1,"policy":"thompson"}]')`,
        ),
        update: (await client.query(`UPDATE experiments SET active = true WHERE key = 'priv_exp'`)).rowCount,
      }));
      expect(result).toEqual({ insert: '42501', update: 0 });
      const admin = await as(
        'app',
        { role: 'admin' },
        async (client) =>
          (await client.query(`UPDATE experiments SET active = true WHERE key = 'priv_exp'`)).rowCount,
      );
      expect(admin).toBe(1);
    });

    it('the worker may lower a rollout (auto-rollback) but never raise it or change anything else', async () => {
      const result = await as('worker', worker, async (client) => ({
        raise: await sqlStateOf(
          client,
          `UPDATE feature_flags SET rollout_pct = 100, state = 'complete' WHERE key = 'priv_flag'`,
        ),
        describe: await sqlStateOf(
          client,
          `UPDATE feature_flags SET description = 'x' WHERE key = 'priv_flag'`,
        ),
        create: await sqlStateOf(client, `INSERT INTO feature_flags (key) VALUES ('priv_worker_flag')`),
        forgedHistory: await sqlStateOf(
          client,
          `INSERT INTO feature_flag_history (flag_key, from_pct, to_pct, from_state, to_state, actor)
           VALUES ('priv_flag', 5, 100, 'rolling', 'complete', 'admin:someone')`,
        ),
        raisingHistory: await sqlStateOf(
          client,
          `INSERT INTO feature_flag_history (flag_key, from_pct, to_pct, from_state, to_state, actor)
           VALUES ('priv_flag', 5, 100, 'rolling', 'complete', 'worker:evaluate_rollouts')`,
        ),
        lower: await sqlStateOf(
          client,
          `UPDATE feature_flags SET rollout_pct = 0, state = 'off' WHERE key = 'priv_flag'`,
        ),
        rollbackHistory: await sqlStateOf(
          client,
          `INSERT INTO feature_flag_history (flag_key, from_pct, to_pct, from_state, to_state, actor)
           VALUES ('priv_flag', 5, 0, 'rolling', 'off', 'worker:evaluate_rollouts')`,
        ),
      }));
      expect(result).toEqual({
        raise: '42501',
        describe: '42501',
        create: '42501',
        forgedHistory: '42501',
        raisingHistory: '42501',
        lower: undefined,
        rollbackHistory: undefined,
      });
      expect(await flagPct('priv_flag')).toBe(5);
    });
  });

  it('the worker rolls a flag back with the same code as evaluateRollouts (changeRollout), as itself', async () => {
    await db.pool.query(
      `INSERT INTO feature_flags (key, rollout_pct, state) VALUES ('priv_rollback', 10, 'rolling')`,
    );
    const actor = { id: null, role: 'worker', requestId: 'worker:evaluate_rollouts' };
    const result = await as('worker', worker, async (client) => {
      const change = await changeRollout(client, 'priv_rollback', () => ({ pct: 0 }), actor, 'errors');
      const raise = await sqlStateOf(
        client,
        `UPDATE feature_flags SET rollout_pct = 50 WHERE key = 'priv_rollback'`,
      );
      return { pct: change.flag.rolloutPct, changed: change.changed, raise };
    });
    expect(result).toEqual({ pct: 0, changed: true, raise: '42501' });
  });

  it('lodestar_app without an admin identity cannot requeue, enqueue discovery or move a backfill', async () => {
    const eventId = (
      await db.pool.query<{ id: string }>(
        `INSERT INTO events_queue (kind, payload, status) VALUES ('priv.kind', '{}', 'error') RETURNING id::text`,
      )
    ).rows[0]!.id;
    await db.pool.query(`INSERT INTO ops_backfills (name, total) VALUES ('priv_backfill', 10)`);
    const categoryId = await insertCategory(db.pool);
    const interestId = await insertInterest(db.pool, { categoryId });
    for (const identity of [null, { role: 'user' }, { role: 'service' }] as const) {
      const result = await as('app', identity, async (client) => ({
        requeue: (await client.query(`UPDATE events_queue SET status = 'queued' WHERE id = $1`, [eventId]))
          .rowCount,
        discovery: await sqlStateOf(
          client,
          `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason) VALUES ($1, $2, 'ops')`,
          [interestId, categoryId],
        ),
        backfill: (await client.query(`UPDATE ops_backfills SET processed = 10 WHERE name = 'priv_backfill'`))
          .rowCount,
        // The outbox: any signed-in write enqueues its follow-up event.
        outbox: await sqlStateOf(
          client,
          `INSERT INTO events_queue (kind, payload) VALUES ('like.created', '{}')`,
        ),
      }));
      expect(result).toEqual({ requeue: 0, discovery: '42501', backfill: 0, outbox: undefined });
    }
    const admin = await as(
      'app',
      { role: 'admin' },
      async (client) =>
        (await client.query(`UPDATE events_queue SET status = 'queued' WHERE id = $1`, [eventId])).rowCount,
    );
    expect(admin).toBe(1);
  });

  describe('the worker role', () => {
    it('cannot forge audit rows in an admin’s (or the CLI’s) name, only write its own, and cannot read the log', async () => {
      const audit = (role: string, actorId: string | null = null) =>
        `INSERT INTO ops_audit (actor_id, actor_role, action, ok, duration_ms)
         VALUES (${actorId ? `'${actorId}'` : 'NULL'}, '${role}', 'setFlagRollout', true, 1)`;
      const adminId = await insertProfile(db.pool, { role: 'admin' });
      const result = await as('worker', worker, async (client) => ({
        admin: await sqlStateOf(client, audit('admin', adminId)),
        cli: await sqlStateOf(client, audit('cli')),
        ownWithSomeonesId: await sqlStateOf(client, audit('worker', adminId)),
        own: await sqlStateOf(client, audit('worker')),
        read: await sqlStateOf(client, 'SELECT count(*) FROM ops_audit'),
      }));
      expect(result).toEqual({
        admin: '42501',
        cli: '42501',
        ownWithSomeonesId: '42501',
        own: undefined,
        read: '42501',
      });
    });

    it('cannot enqueue events (arbitrary queue items), only update the lease columns of existing ones', async () => {
      const result = await as('worker', worker, async (client) => ({
        event: await sqlStateOf(
          client,
          `INSERT INTO events_queue (kind, payload) VALUES ('profile.recompute', '{}')`,
        ),
        payload: await sqlStateOf(client, `UPDATE events_queue SET payload = '{}' WHERE false`),
        kind: await sqlStateOf(client, `UPDATE marketplace_discovery_queue SET reason = 'x' WHERE false`),
        discovery: await sqlStateOf(
          client,
          `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason, idempotency_key)
           SELECT NULL, id, 'gap_severity', 'priv:' || id FROM categories LIMIT 0`,
        ),
      }));
      expect(result).toEqual({ event: '42501', payload: '42501', kind: '42501', discovery: undefined });
    });
  });

  describe('learning events inserted by lodestar_service are bound to the identity', () => {
    let alice: string;
    let bob: string;
    let listingId: number;

    beforeAll(async () => {
      alice = await insertProfile(db.pool);
      bob = await insertProfile(db.pool);
      listingId = await insertListing(db.pool, { categoryId: await insertCategory(db.pool), sellerId: bob });
    });

    const insert = (client: pg.PoolClient, userId: string | null, extra = '') =>
      sqlStateOf(
        client,
        `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position${extra ? ', reward' : ''})
         VALUES ($1, $2, 'thompson', 'SIMILAR', 0.5, 0${extra ? `, ${extra}` : ''})`,
        [userId, listingId],
      );

    it('refuses rows for another user, rewarded rows and backdated rows; accepts the viewer’s own', async () => {
      const result = await as('service', { role: 'service', userId: alice }, async (client) => ({
        forBob: await insert(client, bob),
        rewarded: await insert(client, alice, '1'),
        backdated: await sqlStateOf(
          client,
          `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, created_at)
           VALUES ($1, $2, 'thompson', 'SIMILAR', 0.5, 0, now() - interval '1 year')`,
          [alice, listingId],
        ),
        own: await insert(client, alice),
      }));
      expect(result).toEqual({ forBob: '42501', rewarded: '42501', backdated: '42501', own: undefined });
    });

    it('without a user identity (an anonymous feed) accepts only anonymous rows', async () => {
      const result = await as('service', { role: 'service' }, async (client) => ({
        forAlice: await insert(client, alice),
        anonymous: await insert(client, null),
      }));
      expect(result).toEqual({ forAlice: '42501', anonymous: undefined });
    });
  });
});
