import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDb, type ServiceDb } from '../../src/db/service.js';
import { fetchCandidates, type CandidateQuery } from '../../src/feed/candidates.js';
import { createExplorationSample } from '../../src/feed/explorationSample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';

/**
 * The process's exploration sample against Postgres: what it draws (active listings, of the category
 * when the page is filtered) and that the serve-time checks still apply to what it hands out.
 */
describe('the exploration sample', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let service: ServiceDb;
  const quiet = { warn: () => undefined };
  const sold = (): number[] => world.listings[0]!.slice(0, 5).map((l) => l.id);

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [30, 30, 30]);
    await db.pool.query(`UPDATE marketplace_listings SET status = 'sold' WHERE id = ANY($1)`, [sold()]);
    service = createServiceDb({ url: db.url, statementTimeoutMs: 10_000, poolMax: 2, onPoolError: () => {} });
  });

  afterAll(async () => {
    await service?.close();
    await db?.drop();
  });

  it('draws active listings only, of the page’s category when it is filtered', async () => {
    const sample = createExplorationSample({ service, logger: quiet, refreshMs: 60_000, size: 40 });
    const active = world.listings
      .flat()
      .map((l) => l.id)
      .filter((id) => !sold().includes(id));
    const all = await sample.pick(null, 1, 1000);
    expect(all).toHaveLength(40);
    for (const id of all) expect(active).toContain(id);
    const inFirst = await sample.pick(world.categoryIds[0]!, 1, 1000);
    expect(inFirst.sort((a, b) => a - b)).toEqual(
      world.listings[0]!.map((l) => l.id)
        .filter((id) => !sold().includes(id))
        .sort((a, b) => a - b),
    );
  });

  it('hands the candidate statement listings it still checks: one sold after the draw is not served', async () => {
    const sample = createExplorationSample({ service, logger: quiet, refreshMs: 60_000 });
    const who = await createFeedViewer(db.pool, [{ interestId: world.interestIds[1]!, affinity: 0.9 }]);
    const exploreIds = await sample.pick(null, 7, 80);
    const query = (): CandidateQuery => ({
      userId: who.userId,
      categoryId: null,
      similarLimit: 50,
      poolLimit: 20,
      coengagementLimit: 0,
      servedWindowMinutes: 0,
      session: randomUUID(),
      exploreIds,
      categoryCap: 4,
      candidateCacheSec: 0,
    });
    const before = (await fetchCandidates(service, query())).pools.EXPLORE.map((c) => c.listing.id);
    // The first 20 of the session's order that are eligible, in that order.
    expect(before).toEqual(exploreIds.slice(0, 20));
    await db.pool.query(`UPDATE marketplace_listings SET status = 'sold' WHERE id = $1`, [before[0]]);
    try {
      const after = (await fetchCandidates(service, query())).pools.EXPLORE.map((c) => c.listing.id);
      expect(after).toEqual(exploreIds.slice(1, 21));
    } finally {
      await db.pool.query(`UPDATE marketplace_listings SET status = 'active' WHERE id = $1`, [before[0]]);
    }
  });
});
