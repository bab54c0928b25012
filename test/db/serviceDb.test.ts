import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/checkout.js';
import { createServiceDb, DEFAULT_IVFFLAT_PROBES, type ServiceDb } from '../../src/db/service.js';
import { fetchCandidates } from '../../src/feed/candidates.js';
import type { LeasedItem } from '../../src/queue/leaseQueue.js';
import { createDiscoveryHandler } from '../../src/worker/handlers.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertProfile } from '../support/fixtures.js';

describe('the service path (one session: poolMax 1)', () => {
  let db: TestDatabase;
  let service: ServiceDb;

  const prepared = async () =>
    (await service.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name', [])).map(
      (r) => r.name,
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    service = createServiceDb({ url: db.url, statementTimeoutMs: 10_000, poolMax: 1, onPoolError: () => {} });
  });

  afterAll(async () => {
    await service?.close();
    await db?.drop();
  });

  it('runs a named statement as a prepared statement of the session, parsed once, bound per call', async () => {
    const sql = 'SELECT $1::int + 1 AS n';
    expect(await service.query<{ n: number }>(sql, [1], 'service_test_increment')).toEqual([{ n: 2 }]);
    expect(await service.query<{ n: number }>(sql, [41], 'service_test_increment')).toEqual([{ n: 42 }]);
    expect(await prepared()).toEqual(['service_test_increment']);
    // Unnamed statements are not kept.
    await service.query('SELECT 1 AS one', []);
    expect(await prepared()).toEqual(['service_test_increment']);
  });

  it('keeps the feed’s candidate statement prepared across requests', async () => {
    const userId = await insertProfile(db.pool);
    const query = {
      userId,
      categoryId: null,
      similarLimit: 50,
      poolLimit: 20,
      coengagementLimit: 50,
      servedWindowMinutes: 60,
      session: 'session-1',
      exploreIds: [1, 2, 3],
      categoryCap: 4,
      candidateCacheSec: 300,
    };
    await fetchCandidates(service, query);
    await fetchCandidates(service, { ...query, exploreIds: [3, 2] });
    expect(await prepared()).toContain('feed_candidates');
  });
});

describe('the vector search settings of every path (VECTOR_IVFFLAT_PROBES)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  const settingsSql = `SELECT current_setting('ivfflat.probes') AS probes,
    current_setting('ivfflat.iterative_scan') AS scan`;

  it('searches the configured lists on both service pools, and 10 when nothing is configured', async () => {
    const configured = createServiceDb({
      url: db.url,
      statementTimeoutMs: 10_000,
      poolMax: 1,
      ivfflatProbes: 32,
      onPoolError: () => {},
    });
    const unset = createServiceDb({
      url: db.url,
      statementTimeoutMs: 10_000,
      poolMax: 1,
      onPoolError: () => {},
    });
    try {
      expect(await configured.query(settingsSql, [])).toEqual([{ probes: '32', scan: 'relaxed_order' }]);
      expect(await configured.queryGeneric(settingsSql, [], 'service_test_settings')).toEqual([
        { probes: '32', scan: 'relaxed_order' },
      ]);
      // Never JIT-compiled: at 1M listings the cached read's generic plan spent seconds in LLVM.
      const jit = `SELECT current_setting('jit') AS jit`;
      expect(await configured.query(jit, [])).toEqual([{ jit: 'off' }]);
      expect(await configured.queryGeneric(jit, [], 'service_test_jit')).toEqual([{ jit: 'off' }]);
      expect(await unset.query(settingsSql, [])).toEqual([
        { probes: String(DEFAULT_IVFFLAT_PROBES), scan: 'relaxed_order' },
      ]);
    } finally {
      await Promise.all([configured.close(), unset.close()]);
    }
  });

  it('sets them per transaction on the shared (embedded) session, leaving the session as it was', async () => {
    const shared = createServiceDb({
      url: db.url,
      statementTimeoutMs: 10_000,
      poolMax: 1,
      shared: db.pool,
      ivfflatProbes: 7,
      onPoolError: () => {},
    });
    expect(await shared.query(settingsSql, [])).toEqual([{ probes: '7', scan: 'relaxed_order' }]);
    const { rows } = await db.pool.query<{ probes: string }>(settingsSql);
    expect(rows[0]?.probes).not.toBe('7');
  });

  it('gives the worker’s discovery search the configured lists', async () => {
    const probes = await withClient(db.pool, async (client) => {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<{ id: number }>(
          `WITH c AS (INSERT INTO categories (slug, name) VALUES ('probes-test', 'Probes') RETURNING id)
           INSERT INTO interest_catalog (slug, name, category_id, embedding)
           SELECT 'probes-test', 'Probes test', c.id, array_fill(0.1::real, ARRAY[384])::vector FROM c
           RETURNING id`,
        );
        const item = { row: { interest_id: rows[0]!.id, category_id: null } } as unknown as LeasedItem;
        await createDiscoveryHandler(23)(item, client);
        return (await client.query<{ probes: string }>(settingsSql)).rows[0]?.probes;
      } finally {
        await client.query('ROLLBACK');
      }
    });
    expect(probes).toBe('23');
  });
});
