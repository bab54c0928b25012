import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { loadConfig } from '../../src/config/config.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertProfile } from '../support/fixtures.js';
import { createInProcess, createTestGateway, type InProcess } from '../support/gateway.js';
import { dataOf } from '../support/graphqlResult.js';
import { metricValue } from '../support/http.js';
import { graphql } from '../support/graphql.js';

/** Runbook "Autovacuum": "Monitor bloat with pg_stat_user_tables" — ops.tableBloat, alert, /metrics. */

const QUERY = graphql(`
  query Bloat {
    ops {
      tableBloat {
        table
        liveTuples
        deadTuples
        deadTupleShare
        bloated
        lastVacuum
        lastAutovacuum
        vacuumCount
        autovacuumCount
        autovacuumEnabled
      }
      alerts {
        rule
        severity
        firing
        value
        threshold
        message
        action
      }
    }
  }
`);

const HOT_TABLES = [
  'events_queue',
  'intent_signals',
  'interest_catalog',
  'interest_listing_candidates',
  'learning_events',
  'marketplace_discovery_queue',
  'marketplace_listings',
  'profiles',
  'user_interests',
];

describe('table bloat (pg_stat_user_tables) in ops, alerts and /metrics', () => {
  let db: TestDatabase;
  let h: InProcess;
  let admin: Viewer;

  const read = async (harness: InProcess = h) => {
    const data = dataOf(await harness.execute(QUERY, { viewer: admin }));
    const table = data.ops.tableBloat.find((t) => t.table === 'events_queue');
    const alert = data.ops.alerts.find((a) => a.rule === 'table_bloat');
    if (!table || !alert) throw new Error('no events_queue row or no table_bloat alert');
    return { tables: data.ops.tableBloat, table, alert };
  };

  /** The statistics system reports a session's counts shortly after its transaction ends: wait for them. */
  const settle = async (live: number, dead: number): Promise<void> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { rows } = await db.pool.query<{ live: string; dead: string }>(
        `SELECT n_live_tup AS live, n_dead_tup AS dead FROM pg_stat_user_tables WHERE relname = 'events_queue'`,
      );
      if (Number(rows[0]?.live) === live && Number(rows[0]?.dead) === dead) return;
      if (Date.now() > deadline) throw new Error(`events_queue stats: ${JSON.stringify(rows[0])}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const insertEvents = (n: number) =>
    db.pool.query(`INSERT INTO events_queue (kind) SELECT 'bloat.test' FROM generate_series(1, $1)`, [n]);
  const deleteEvents = (n: number) =>
    db.pool.query(`DELETE FROM events_queue WHERE id IN (SELECT id FROM events_queue ORDER BY id LIMIT $1)`, [
      n,
    ]);

  beforeAll(async () => {
    db = await createTestDatabase();
    // The test makes dead tuples on purpose: autovacuum must not clean them up behind its back.
    await db.pool.query('ALTER TABLE events_queue SET (autovacuum_enabled = false)');
    admin = { role: 'admin', userId: await insertProfile(db.pool, { role: 'admin' }) };
    h = createInProcess(db);
  });

  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('lists every hot table; a tiny table with a high dead share does not alert under ALERT_DEAD_TUPLE_MIN', async () => {
    await insertEvents(40);
    await deleteEvents(30);
    await settle(10, 30);

    const { tables, table, alert } = await read();
    expect(tables.map((t) => t.table).sort()).toEqual(HOT_TABLES);
    expect(table).toEqual({
      table: 'events_queue',
      liveTuples: 10,
      deadTuples: 30,
      deadTupleShare: 0.75,
      bloated: false,
      lastVacuum: null,
      lastAutovacuum: null,
      vacuumCount: 0,
      autovacuumCount: 0,
      autovacuumEnabled: false,
    });
    expect(alert).toMatchObject({ severity: 'WARNING', firing: false, value: 0, threshold: 0.2 });
    expect(alert.message).toBe('no hot table has 1000 or more dead tuples');

    // The minimum is configurable: with ALERT_DEAD_TUPLE_MIN=10 the same 30 dead tuples alert.
    const strict = createInProcess(db, { ALERT_DEAD_TUPLE_MIN: '10' });
    try {
      const tuned = await read(strict);
      expect(tuned.table.bloated).toBe(true);
      expect(tuned.alert).toMatchObject({ firing: true, value: 0.75 });
    } finally {
      await strict.close();
    }

    await db.pool.query('VACUUM events_queue');
    await settle(10, 0);
  });

  it('a hot table with 75% dead tuples shows share 0.75 and fires the table_bloat alert', async () => {
    await insertEvents(3990);
    await deleteEvents(3000);
    await settle(1000, 3000);

    const { tables, table, alert } = await read();
    expect(tables[0]?.table).toBe('events_queue'); // the most bloated first
    expect(table).toMatchObject({
      liveTuples: 1000,
      deadTuples: 3000,
      deadTupleShare: 0.75,
      bloated: true,
      autovacuumEnabled: false,
    });
    expect(alert).toMatchObject({ severity: 'WARNING', firing: true, value: 0.75, threshold: 0.2 });
    expect(alert.message).toBe(
      'events_queue: 75.0% of its tuples are dead (3000; limit 20% once 1000+ are dead), autovacuum OFF: table bloat',
    );
    expect(alert.action).toMatch(/^Monitor bloat .*VACUUM \(ANALYZE\)/);

    // The share is configurable: at ALERT_DEAD_TUPLE_SHARE=0.8 the same table is not bloat.
    const lenient = createInProcess(db, { ALERT_DEAD_TUPLE_SHARE: '0.8' });
    try {
      const tuned = await read(lenient);
      expect(tuned.table.bloated).toBe(false);
      expect(tuned.alert).toMatchObject({ firing: false, value: 0.75, threshold: 0.8 });
    } finally {
      await lenient.close();
    }

    // A gateway of its own: /metrics caches its reads for 10 s from the first scrape.
    const gateway = await createTestGateway(db);
    try {
      const text = (await gateway.app.inject({ method: 'GET', url: '/metrics' })).body;
      const events = { table: 'events_queue' };
      expect(metricValue(text, 'lodestar_table_dead_tuple_share', events)).toBe(0.75);
      expect(metricValue(text, 'lodestar_table_dead_tuples', events)).toBe(3000);
      expect(metricValue(text, 'lodestar_table_live_tuples', events)).toBe(1000);
      expect(metricValue(text, 'lodestar_table_dead_tuple_share', { table: 'profiles' })).toBe(0);
      const lastVacuum = metricValue(text, 'lodestar_table_last_vacuum_timestamp_seconds', {
        ...events,
        by: 'manual',
      });
      expect(Math.abs(lastVacuum - Date.now() / 1000)).toBeLessThan(120);
      expect(text).not.toMatch(
        /^lodestar_table_last_vacuum_timestamp_seconds\{table="events_queue",by="autovacuum"\}/m,
      );
      expect(metricValue(text, 'lodestar_alert_firing', { rule: 'table_bloat', severity: 'warning' })).toBe(
        1,
      );
      expect(metricValue(text, 'lodestar_alert_value', { rule: 'table_bloat' })).toBe(0.75);
      expect(metricValue(text, 'lodestar_alert_threshold', { rule: 'table_bloat' })).toBe(0.2);
    } finally {
      await gateway.close();
    }
  });

  it('VACUUM clears it: share 0, last vacuum now, the alert silent', async () => {
    const before = Date.now();
    await db.pool.query('VACUUM events_queue');
    await settle(1000, 0);

    const { table, alert } = await read();
    expect(table).toMatchObject({ liveTuples: 1000, deadTuples: 0, deadTupleShare: 0, bloated: false });
    expect(table.vacuumCount).toBe(2);
    expect(Date.parse(table.lastVacuum ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(alert).toMatchObject({ firing: false, value: 0 });

    const gateway = await createTestGateway(db);
    try {
      const text = (await gateway.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metricValue(text, 'lodestar_table_dead_tuple_share', { table: 'events_queue' })).toBe(0);
      expect(metricValue(text, 'lodestar_table_dead_tuples', { table: 'events_queue' })).toBe(0);
      expect(metricValue(text, 'lodestar_alert_firing', { rule: 'table_bloat', severity: 'warning' })).toBe(
        0,
      );
    } finally {
      await gateway.close();
    }
  });

  it('reads ALERT_DEAD_TUPLE_SHARE (default 0.2) and ALERT_DEAD_TUPLE_MIN (default 1000), and refuses bad values', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).ops.alerts).toMatchObject({
      deadTupleShare: 0.2,
      deadTupleMin: 1000,
    });
    expect(
      loadConfig({ NODE_ENV: 'test', ALERT_DEAD_TUPLE_SHARE: '0.5', ALERT_DEAD_TUPLE_MIN: '0' }).ops.alerts,
    ).toMatchObject({ deadTupleShare: 0.5, deadTupleMin: 0 });
    expect(() => loadConfig({ NODE_ENV: 'test', ALERT_DEAD_TUPLE_SHARE: '20%' })).toThrow(
      /ALERT_DEAD_TUPLE_SHARE must be a number from 0 to 1/,
    );
    expect(() => loadConfig({ NODE_ENV: 'test', ALERT_DEAD_TUPLE_MIN: '-1' })).toThrow(
      /ALERT_DEAD_TUPLE_MIN/,
    );
  });
});
