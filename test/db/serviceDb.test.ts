import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDb, type ServiceDb } from '../../src/db/service.js';
import { fetchCandidates } from '../../src/feed/candidates.js';
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
