import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedCandidatesSql, nearestListingsSql, similarListingsSql } from '../../src/feed/sql.js';
import { seededPick } from '../../src/feed/explorationSample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { clusterCentre } from '../support/feedWorld.js';
import { insertCategory, insertProfile, toVectorLiteral } from '../support/fixtures.js';

/** One node of EXPLAIN (FORMAT JSON) output. */
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Join Type'?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

const IVFFLAT = 'marketplace_listings_embedding_ivfflat';
const CLUSTERS = 12;

describe('EXPLAIN of the vector queries on 3000 listings', () => {
  let db: TestDatabase;
  let viewerId: string;
  let listingId: number;
  let exploreIds: number[] = [];

  /** The plan's nodes, with the service path's vector settings (probes = 10, iterative scan). */
  async function explain(sql: string, values: unknown[]): Promise<PlanNode[]> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL ivfflat.probes = 10');
      await client.query('SET LOCAL ivfflat.iterative_scan = relaxed_order');
      const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
        `EXPLAIN (FORMAT JSON) ${sql}`,
        values,
      );
      return nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  }

  const usesIvfflat = (plan: PlanNode[]): boolean =>
    plan.some((n) => n['Node Type'] === 'Index Scan' && n['Index Name'] === IVFFLAT);

  /** The feed statement's parameters for the viewer: no category, SIMILAR 50, pools 20, co-engaged 50. */
  const feedParams = (): unknown[] => [
    viewerId,
    null,
    50,
    20,
    '30 minutes',
    randomUUID(),
    exploreIds,
    8,
    50,
    300,
    300,
  ];

  const describePlan = (plan: PlanNode[]): string =>
    plan.map((n) => `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}`).join(' | ');

  beforeAll(async () => {
    db = await createTestDatabase();
    const categories: number[] = [];
    for (let i = 0; i < CLUSTERS; i += 1) categories.push(await insertCategory(db.pool));
    // Listing g sits near the basis vector of cluster g % 12 (the same centres as clusterCentre), with
    // deterministic noise from hashint4.
    await db.pool.query(
      `INSERT INTO marketplace_listings (category_id, title, price, popularity, created_at, embedding)
       SELECT ($1::int[])[1 + g % $2], 'Bulk ' || g, 10, g % 97, now() - make_interval(mins => g),
              (SELECT l2_normalize(array_agg((CASE WHEN d = (g % $2) * 7 THEN 1.0 ELSE 0.0 END
                                              + (abs(hashint4(g * 384 + d)) % 1000 / 1000.0 - 0.5) * 0.1)::real ORDER BY d)::vector)
                 FROM generate_series(0, 383) d)
       FROM generate_series(1, 3000) g`,
      [categories, CLUSTERS],
    );
    await db.pool.query(`REINDEX INDEX ${IVFFLAT}`);
    await db.pool.query('ANALYZE marketplace_listings');
    viewerId = await insertProfile(db.pool);
    await db.pool.query('UPDATE profiles SET embedding = $2::vector WHERE user_id = $1', [
      viewerId,
      toVectorLiteral(clusterCentre(3)),
    ]);
    await db.pool.query('ANALYZE profiles');
    const { rows } = await db.pool.query<{ id: number }>('SELECT min(id) AS id FROM marketplace_listings');
    listingId = rows[0]!.id;
    // What the process's exploration sample hands a page: 160 listings in a session's order.
    exploreIds = seededPick(
      (await db.pool.query<{ id: number }>('SELECT id FROM marketplace_listings')).rows.map((r) => r.id),
      7,
      160,
    );
    // The viewer's likes and what was liked together with them, so the personal generators have data.
    await db.pool.query(
      `INSERT INTO likes (user_id, listing_id, created_at)
       SELECT $1, id, now() - make_interval(mins => id) FROM marketplace_listings ORDER BY id LIMIT 40`,
      [viewerId],
    );
    await db.pool.query(
      `INSERT INTO listing_coengagement (listing_id, neighbour_id, together, score)
       SELECT a.id, b.id, 2, 1.0 / (1 + abs(a.id - b.id))
       FROM marketplace_listings a JOIN marketplace_listings b ON b.id <> a.id AND abs(b.id - a.id) <= 25`,
    );
    await db.pool.query('ANALYZE likes');
    await db.pool.query('ANALYZE listing_coengagement');
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('nearestListingsSql scans marketplace_listings_embedding_ivfflat', async () => {
    const plan = await explain(nearestListingsSql, [toVectorLiteral(clusterCentre(3)), 10]);
    expect(usesIvfflat(plan), describePlan(plan)).toBe(true);
  });

  it('similarListingsSql scans marketplace_listings_embedding_ivfflat', async () => {
    const plan = await explain(similarListingsSql, [listingId, 10]);
    expect(usesIvfflat(plan), describePlan(plan)).toBe(true);
  });

  it('feedCandidatesSql finds the SIMILAR pool through marketplace_listings_embedding_ivfflat', async () => {
    const plan = await explain(feedCandidatesSql, feedParams());
    expect(usesIvfflat(plan), describePlan(plan)).toBe(true);
  });

  it('feedCandidatesSql reads co-engagement and category popularity through their indexes', async () => {
    const plan = await explain(feedCandidatesSql, feedParams());
    const text = describePlan(plan);
    expect(text).toContain('listing_coengagement_top_idx');
    expect(text).toContain('marketplace_listings_active_category_popularity_idx');
  });

  it('feedCandidatesSql checks the viewer’s exclusions with one hash lookup per row, never a rescan', async () => {
    const plan = await explain(feedCandidatesSql, feedParams());
    // The exclusion tests are the negated subplans (the cache's per-row eligibility lookup is another).
    const subPlanFilters = plan.flatMap((n) =>
      n.Filter !== undefined && /NOT \((hashed )?SubPlan/.test(n.Filter) ? [n.Filter] : [],
    );
    // The SIMILAR, POPULAR, RECENT, CATEGORY and EXPLORE pools each test their rows against the exclusions.
    expect(subPlanFilters.length, describePlan(plan)).toBeGreaterThanOrEqual(4);
    for (const filter of subPlanFilters) expect(filter).toContain('hashed SubPlan');
    expect(plan.filter((n) => n['Join Type'] === 'Anti')).toEqual([]);
  });

  it('finds listings through the rebuilt index from their own embeddings (distance 0 first)', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL ivfflat.probes = 10');
      await client.query('SET LOCAL ivfflat.iterative_scan = relaxed_order');
      const { rows: sample } = await client.query<{ id: number; embedding: string }>(
        'SELECT id, embedding::text AS embedding FROM marketplace_listings ORDER BY id LIMIT 5 OFFSET 100',
      );
      expect(sample).toHaveLength(5);
      for (const listing of sample) {
        const { rows } = await client.query<{ id: number }>(nearestListingsSql, [listing.embedding, 3]);
        expect(rows[0]?.id).toBe(listing.id);
      }
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
