import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildCoengagement } from '../../src/feed/coengagement.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertProfile } from '../support/fixtures.js';
import {
  createFeedHarness,
  KEPT_CANDIDATES_CHECK,
  listingIdsOf,
  suggestionsPage,
  type FeedHarness,
} from '../support/feedHarness.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { recordAllClients, dataStatementsOf } from '../support/statementLog.js';

const FIRST = 5;
/** The COENGAGED pool (FEED_COENGAGEMENT_CANDIDATES); kept candidates serve 8 pages of 5 (40) per read. */
const POOL = 20;
/** Co-engaged with the viewers' likes: more than a read returns (the pool and the 40 after it). */
const COENGAGED = 70;

/**
 * Kept candidates (src/feed/candidateMemory.ts) for a viewer with co-engagement: a page ranks a whole
 * COENGAGED pool (FEED_COENGAGEMENT_CANDIDATES) and the read returned a look-ahead after it, so the pages
 * after the read rank the pool a read would give them without reading it, however many of the served
 * listings were co-engaged. The co-engaged listings are of a cluster the viewers have no interest in, and
 * the ranker weighs co-engagement heavily: every listing served comes from the COENGAGED pool.
 */
describe('kept candidates with co-engagement', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let kept: FeedHarness;
  let reading: FeedHarness;
  let log: ReturnType<typeof recordAllClients>;
  /** Listings liked together with the viewers' likes (cluster 1; the viewers' interest is cluster 0). */
  let coengaged: Set<number>;

  /** A viewer interested in cluster 0 who liked three listings of cluster 2 (the anchors). */
  async function viewer() {
    const who = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.9 }]);
    for (const anchor of world.listings[2]!.slice(0, 3))
      await db.pool.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [who.userId, anchor.id]);
    return who;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [40, COENGAGED, 40]);
    // Other users each liked the three anchors and ten of cluster 1's listings (each by two of them:
    // co-engagement counts pairs liked by at least two users), which are co-engaged with the anchors.
    const anchors = world.listings[2]!.slice(0, 3).map((l) => l.id);
    const together = world.listings[1]!.map((l) => l.id);
    for (let u = 0; u < COENGAGED / 5; u += 1) {
      const userId = await insertProfile(db.pool);
      await db.pool.query(
        `INSERT INTO likes (user_id, listing_id, created_at)
         SELECT $1, id, now() - interval '1 day' + make_interval(secs => ord::int)
         FROM unnest($2::int[]) WITH ORDINALITY AS t(id, ord)`,
        [userId, [...anchors, ...[...together, ...together].slice(5 * u, 5 * u + 10)]],
      );
    }
    await rebuildCoengagement(db.pool);
    coengaged = new Set(together);
    const env = {
      FEED_EPSILON: '0',
      FEED_COENGAGEMENT_CANDIDATES: String(POOL),
      FEED_RANKER_WEIGHTS: 'coengagement=100',
      // No category cap: every place of a page can take a co-engaged listing.
      FEED_CATEGORY_SHARE: '1',
    };
    kept = createFeedHarness(db, env);
    reading = createFeedHarness(db, { ...env, FEED_CANDIDATE_MEMORY_SEC: '0' });
    log = recordAllClients();
    // Connections and each process's exploration sample are set up before anything is counted.
    for (const harness of [kept, reading]) await suggestionsPage(harness, await viewer(), { first: FIRST });
  });

  afterAll(async () => {
    log?.restore();
    await kept?.close();
    await reading?.close();
    await db?.drop();
  });

  it('ranks pages of co-engaged listings from them as a read would, without COENGAGED running short', async () => {
    const shortOfCoengaged = async () =>
      (await kept.metrics.feedCandidateMemoryShort.get()).values.find((v) => v.labels.pool === 'COENGAGED')
        ?.value ?? 0;
    const [a, b] = [await viewer(), await viewer()];
    const keptPages: number[][] = [];
    const readPages: number[][] = [];
    let fromMemory = 0;
    for (let i = 0; i < 6; i += 1) {
      const { result, statements } = await dataStatementsOf(log, () =>
        suggestionsPage(kept, a, { first: FIRST }),
      );
      // A page ranked from kept candidates is one statement: the insert that checks them.
      if (statements.length === 1 && KEPT_CANDIDATES_CHECK.test(statements[0]!)) fromMemory += 1;
      keptPages.push(listingIdsOf(result));
      readPages.push(listingIdsOf(await suggestionsPage(reading, b, { first: FIRST })));
    }
    expect(keptPages).toEqual(readPages);
    // Every listing served was co-engaged: 30 of the pool and the look-ahead after it (the rule before,
    // a pool given up once fewer than a page were left, read again at the fifth page).
    expect(keptPages.flat().filter((id) => coengaged.has(id))).toHaveLength(30);
    // Every page after the read was ranked from the kept candidates (their budget is 8 pages of 5).
    expect(fromMemory).toBe(5);
    expect(await shortOfCoengaged()).toBe(0);
  });
});
