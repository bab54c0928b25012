import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { similarListingsSql } from '../../src/feed/sql.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createFeedHarness, type FeedHarness } from '../support/feedHarness.js';
import { clusterVector, refreshVectorIndex, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { insertListing } from '../support/fixtures.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { graphql } from '../support/graphql.js';

const SIMILAR_LISTINGS = graphql(`
  query ($id: ID!, $first: Int) {
    similarListings(listingId: $id, first: $first) {
      listing {
        id
        status
        category {
          id
        }
      }
      score
    }
  }
`);
const LISTING_SIMILAR = graphql(`
  query ($id: ID!, $first: Int) {
    listing(id: $id) {
      id
      similar(first: $first) {
        listing {
          id
          status
          category {
            id
          }
        }
        score
      }
    }
  }
`);

describe('similar listings', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let h: FeedHarness;
  let target: number;
  let inactiveTwin: number;
  let withoutEmbedding: number;

  /** Active listings other than `id`, nearest first, by an exact scan as the owner. */
  async function exactNeighbours(id: number, limit: number): Promise<{ id: number; score: number }[]> {
    const { rows } = await db.pool.query<{ id: number; score: number }>(
      `SELECT l.id, 1 - (l.embedding <=> t.embedding) AS score
         FROM marketplace_listings l, marketplace_listings t
        WHERE t.id = $1 AND l.id <> t.id AND l.status = 'active' AND l.embedding IS NOT NULL
        ORDER BY l.embedding <=> t.embedding, l.id LIMIT $2`,
      [id, limit],
    );
    return rows;
  }

  async function similarListings(variables: Record<string, unknown>) {
    return dataOf(await h.execute(SIMILAR_LISTINGS, { variables })).similarListings;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [8, 8, 8]);
    target = world.listings[0]![0]!.id;
    const targetVector = await db.pool.query<{ embedding: string }>(
      'SELECT embedding::text AS embedding FROM marketplace_listings WHERE id = $1',
      [target],
    );
    const vector = targetVector.rows[0]!.embedding;
    // An inactive copy of the target (distance 0) and a listing without an embedding.
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO marketplace_listings (category_id, title, price, status, embedding)
       VALUES ($1, 'Sold twin', 10, 'sold', $2::vector) RETURNING id`,
      [world.categoryIds[0], vector],
    );
    inactiveTwin = rows[0]!.id;
    withoutEmbedding = await insertListing(db.pool, { categoryId: world.categoryIds[1]! });
    await refreshVectorIndex(db.pool);
    h = createFeedHarness(db);
  });

  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('returns the nearest active listings of the same category cluster, nearest first', async () => {
    const nodes = await similarListings({ id: String(target), first: 5 });
    expect(nodes).toHaveLength(5);
    expect(new Set(nodes.map((n) => n.listing.category.id))).toEqual(new Set([String(world.categoryIds[0])]));
    expect(nodes.every((n) => n.listing.status === 'ACTIVE')).toBe(true);
    const exact = await exactNeighbours(target, 5);
    expect(nodes.map((n) => Number(n.listing.id))).toEqual(exact.map((r) => r.id));
    for (const [i, node] of nodes.entries()) expect(node.score).toBeCloseTo(exact[i]!.score, 5);
    expect(nodes[0]!.score).toBeGreaterThan(0.8);
  });

  it('leaves out the listing itself, inactive listings and listings without an embedding', async () => {
    const ids = (await similarListings({ id: String(target), first: 30 })).map((n) => Number(n.listing.id));
    expect(ids).not.toContain(target);
    expect(ids).not.toContain(inactiveTwin);
    expect(ids).not.toContain(withoutEmbedding);
    // Every other active listing with an embedding: 24 − 1.
    expect(ids).toHaveLength(23);
  });

  it('answers Listing.similar like similarListings', async () => {
    const viaField = dataOf(
      await h.execute(LISTING_SIMILAR, {
        variables: { id: String(target), first: 4 },
      }),
    ).listing!.similar;
    const viaQuery = await similarListings({ id: String(target), first: 4 });
    expect(viaField.map((n) => n.listing.id)).toEqual(viaQuery.map((n) => n.listing.id));
    expect(viaField).toHaveLength(4);
  });

  it('returns an empty list for an unknown listing id and for a listing without an embedding', async () => {
    expect(await similarListings({ id: '2147483647' })).toEqual([]);
    expect(await similarListings({ id: String(withoutEmbedding) })).toEqual([]);
  });

  it.each([
    [{ id: 'abc' }, 'listingId'],
    [{ id: '0' }, 'listingId'],
    [{ id: '-1' }, 'listingId'],
    [{ id: '1', first: 0 }, 'first'],
    [{ id: '1', first: 101 }, 'first'],
  ])('rejects %j with BAD_USER_INPUT on %s', async (variables, field) => {
    const result = await h.execute(SIMILAR_LISTINGS, { variables });
    expect(expectErrorCode(result, 'BAD_USER_INPUT').extensions.field).toBe(field);
  });

  it('finds the same neighbours through the ivfflat index on a tiny table (service-path settings)', async () => {
    // 25 rows in an index of 200 lists: most lists are empty, so probes = 10 alone could miss rows;
    // the iterative scan (relaxed_order) must keep probing until the LIMIT is met.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      // Small tables are sorted, not index-scanned: force the index to see what it would return.
      for (const plan of ['seqscan', 'bitmapscan', 'sort'])
        await client.query(`SET LOCAL enable_${plan} = off`);
      await client.query(`SET LOCAL ivfflat.probes = 10`);
      await client.query(`SET LOCAL ivfflat.iterative_scan = relaxed_order`);
      const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${similarListingsSql}`, [
        target,
        10,
      ]);
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain(
        'marketplace_listings_embedding_ivfflat',
      );
      const { rows } = await client.query<{ id: number }>(similarListingsSql, [target, 10]);
      const exact = await exactNeighbours(target, 10);
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(exact.map((r) => r.id)));
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('ranks by embedding distance, not by category', async () => {
    // A listing of category B with the target's own embedding ranks first.
    const near = await insertListing(db.pool, {
      categoryId: world.categoryIds[1]!,
      embedding: clusterVector(0, 0),
    });
    try {
      const nodes = await similarListings({ id: String(target), first: 3 });
      expect(Number(nodes[0]!.listing.id)).toBe(near);
    } finally {
      await db.pool.query('DELETE FROM marketplace_listings WHERE id = $1', [near]);
    }
  });
});
