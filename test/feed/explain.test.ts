import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  feedCachedCandidatesSql,
  feedCandidatesSql,
  insertCheckedImpressionsSql,
  nearestListingsSql,
  similarListingsSql,
} from '../../src/feed/sql.js';
import { seededPick } from '../../src/feed/explorationSample.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { clusterCentre } from '../support/feedWorld.js';
import { insertCategory, insertProfile, toVectorLiteral } from '../support/fixtures.js';

/** One node of EXPLAIN (FORMAT JSON) output. */
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Join Type'?: string;
  'Relation Name'?: string;
  Filter?: string;
  'Index Cond'?: string;
  'One-Time Filter'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** The plan's nodes outside subtrees that a one-time filter matching `gate` switches off. */
function nodesRunUnless(plan: PlanNode, gate: RegExp): PlanNode[] {
  if (gate.test(plan['One-Time Filter'] ?? '')) return [];
  return [plan, ...(plan.Plans ?? []).flatMap((child) => nodesRunUnless(child, gate))];
}

const IVFFLAT = 'marketplace_listings_embedding_ivfflat';
/** The feed statements' parameter types, $1 … $12 (src/feed/sql.ts). */
const FEED_PARAM_TYPES = 'uuid, int, int, int, interval, text, int[], int, int, int, int, int';
const CLUSTERS = 12;

describe('EXPLAIN of the vector queries on 3000 listings', () => {
  let db: TestDatabase;
  let viewerId: string;
  let listingId: number;
  let exploreIds: number[] = [];

  /** The plan's nodes, with the service path's vector settings (probes = 10, iterative scan). */
  async function explain(
    sql: string,
    values: unknown[],
    options: { generic?: boolean } = {},
  ): Promise<PlanNode[]> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL ivfflat.probes = 10');
      await client.query('SET LOCAL ivfflat.iterative_scan = relaxed_order');
      let explained = `EXPLAIN (FORMAT JSON) ${sql}`;
      if (options.generic) {
        // As the generic-plan service sessions run it: prepared, one plan for any parameter values.
        await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
        await client.query(`PREPARE explained(${FEED_PARAM_TYPES}) AS ${sql}`);
        // EXECUTE takes no bind parameters: the values as literals (test data only).
        const literal = (v: unknown): string => {
          if (v === null) return 'NULL';
          if (typeof v === 'number') return String(v);
          if (typeof v === 'string') return client.escapeLiteral(v);
          if (Array.isArray(v) && v.every((x) => typeof x === 'number'))
            return client.escapeLiteral(`{${v.join(',')}}`);
          throw new Error(`no literal for ${typeof v}`);
        };
        explained = `EXPLAIN (FORMAT JSON) EXECUTE explained(${values.map(literal).join(', ')})`;
      }
      const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
        explained,
        options.generic ? [] : values,
      );
      const root = rows[0]!['QUERY PLAN'][0]!.Plan;
      // The GLOBAL pool runs for category pages only ($2 set): a generic plan keeps it behind that gate.
      return options.generic ? nodesRunUnless(root, /\$2 IS NOT NULL/) : nodes(root);
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
    20,
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

  it('insertCheckedImpressionsSql settles the status of every kept candidate in the inactive listings index', async () => {
    const kept = exploreIds.slice(0, 240);
    const page = kept.slice(0, 20);
    const plan = await explain(insertCheckedImpressionsSql, [
      page.map(() => randomUUID()),
      page.map(() => viewerId),
      page,
      page.map(() => 'epsilon-greedy'),
      page.map(() => 'SIMILAR'),
      page.map(() => 0.5),
      page.map((_d, i) => i),
      JSON.stringify(page.map(() => ({}))),
      viewerId,
      kept,
      '20 seconds',
      randomUUID(),
    ]);
    const text = describePlan(plan);
    // The candidates' status without a primary-key lookup each (those were most of the check), the viewer's
    // own listings through the seller index.
    expect(text).toContain('marketplace_listings_inactive_id_idx');
    expect(text).toContain('marketplace_listings_seller_id_idx');
  });

  it('feedCachedCandidatesSql keeps to its indexes in the generic plan it runs with: no search, no table scan (but behind the category gate)', async () => {
    const plan = await explain(feedCachedCandidatesSql, feedParams(), { generic: true });
    const text = describePlan(plan);
    // Generic: the parameters stay symbols in the plan.
    expect(
      plan.some((n) => /\$1\b/.test(`${n.Filter ?? ''} ${n['Index Cond'] ?? ''}`)),
      text,
    ).toBe(true);
    expect(usesIvfflat(plan), text).toBe(false);
    expect(
      plan.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'marketplace_listings'),
      text,
    ).toEqual([]);
    for (const index of [
      'marketplace_listings_pkey',
      'marketplace_listings_active_popularity_idx',
      'marketplace_listings_active_recent_idx',
      'marketplace_listings_active_category_popularity_idx',
      'listing_coengagement_top_idx',
      'feed_viewer_candidates_pkey',
    ])
      expect(text).toContain(index);
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
