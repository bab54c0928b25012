import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anonymousViewer } from '../../src/auth/viewer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createFeedHarness, suggestionsPage, type FeedHarness } from '../support/feedHarness.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';

/** The arm statistics Thompson sampling's posteriors are built from (src/feed/thompsonRefresher.ts). */
const armStatsSql = `
SELECT policy, source, category_id, impressions::int, rewards
FROM learning_arm_stats(now() - interval '1 day')
ORDER BY policy, source, category_id`;

/**
 * Issue 13, item 6: anonymous impressions can never be rewarded, so they must not count in the
 * posteriors (anyone could skew them with anonymous `suggestions(first: 100)`).
 */
describe('anonymous impressions and the bandit', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let h: FeedHarness;

  const armStats = () => h.database.service.query<Record<string, unknown>>(armStatsSql, []);
  /** The off-policy report's sums and every listing's 30-day feed impressions (its CTR's denominator). */
  const otherStats = async () => ({
    report: await h.database.service.query(
      `SELECT * FROM learning_policy_report(now() - interval '1 day') ORDER BY 1, 2, 3, 4`,
      [],
    ),
    listings: await h.database.service.query(
      'SELECT listing_id, feed_impressions_30d, feed_rewards_30d FROM listing_features($1) ORDER BY 1',
      [world.listings.flat().map((l) => l.id)],
    ),
  });
  const anonymousEvents = async () =>
    (
      await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM learning_events WHERE user_id IS NULL',
      )
    ).rows[0]!.n;

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [30, 30, 30]);
    h = createFeedHarness(db, { FEED_SERVED_WINDOW_MINUTES: '0' });
  });

  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('anonymous suggestions leave the arm statistics (posteriors) unchanged; signed-in ones move them', async () => {
    const before = await armStats();
    const othersBefore = await otherStats();
    const eventsBefore = await anonymousEvents();
    for (let i = 0; i < 3; i += 1) {
      const page = await suggestionsPage(h, anonymousViewer, { first: 20 });
      expect(page.edges).toHaveLength(20);
    }
    // Still logged (an anonymous feed session uses them not to repeat a listing)…
    expect((await anonymousEvents()) - eventsBefore).toBe(60);
    // …but not counted.
    const after = await armStats();
    const impressions = (rows: Record<string, unknown>[]) =>
      rows.reduce((sum, r) => sum + Number(r.impressions), 0);
    console.log(
      `arm-stat impressions: ${impressions(before)} before, ${impressions(after)} after 60 anonymous`,
    );
    expect(after).toEqual(before);
    expect(await otherStats()).toEqual(othersBefore);

    const viewer = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.9 }]);
    await suggestionsPage(h, viewer, { first: 10 });
    expect(impressions(await armStats())).toBe(impressions(before) + 10);
  });
});
