import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { seedCatalog, type CatalogData, type CatalogStatus } from '../support/catalogData.js';
import { createInProcess, type InProcess } from '../support/gateway.js';
import { cursorOf, dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { graphql, type ResultOf } from '../support/graphql.js';

const LISTINGS = graphql(`
  query (
    $first: Int
    $after: String
    $last: Int
    $before: String
    $category: String
    $status: ListingStatus
  ) {
    listings(
      first: $first
      after: $after
      last: $last
      before: $before
      category: $category
      status: $status
    ) {
      edges {
        cursor
        node {
          id
          status
          category {
            slug
          }
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`);
const INTERESTS = graphql(`
  query ($first: Int, $after: String, $last: Int, $before: String, $search: String) {
    interests(first: $first, after: $after, last: $last, before: $before, search: $search) {
      edges {
        cursor
        node {
          id
          name
          popularity
        }
      }
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
    }
  }
`);

/** catalogInterests by popularity descending, then id ascending. */
const interestOrder = [
  'Electronics gadgets',
  'Chess openings',
  'Retro electronics',
  'Board games',
  'Poetry',
  'Origami',
  'Novels',
  'Comics',
  'Kites',
];

describe('catalog queries', () => {
  let db: TestDatabase;
  let gw: InProcess;
  let categoryIds: CatalogData['categoryIds'];
  let listingIds: number[];

  async function expectedIds(status: CatalogStatus, categorySlug?: string): Promise<number[]> {
    const { rows } = await db.pool.query<{ id: number }>(
      `SELECT l.id FROM marketplace_listings l JOIN categories c ON c.id = l.category_id
        WHERE l.status = $1 AND ($2::text IS NULL OR c.slug = $2) ORDER BY l.id DESC`,
      [status, categorySlug ?? null],
    );
    return rows.map((r) => r.id);
  }

  async function listings(
    variables: Record<string, unknown>,
  ): Promise<ResultOf<typeof LISTINGS>['listings']> {
    return dataOf(await gw.execute(LISTINGS, { variables })).listings;
  }

  /** Pages forward with `first: size`, calling `between` after each page; returns ids in order. */
  async function pageAllForward(size: number, between?: (page: number) => Promise<void>): Promise<number[]> {
    const ids: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 50; page += 1) {
      const conn = await listings({ first: size, after });
      expect(conn.edges.length).toBeLessThanOrEqual(size);
      // An empty page would mean the previous one claimed hasNextPage wrongly.
      expect(conn.edges.length).toBeGreaterThan(0);
      ids.push(...conn.edges.map((e) => Number(e.node.id)));
      if (!conn.pageInfo.hasNextPage) return ids;
      expect(conn.edges).toHaveLength(size);
      after = conn.pageInfo.endCursor;
      await between?.(page);
    }
    throw new Error('paging did not terminate');
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    gw = createInProcess(db);
    ({ categoryIds, listingIds } = await seedCatalog(db.pool));
  });

  afterAll(async () => {
    await gw?.close();
    await db?.drop();
  });

  it('lists categories sorted by name', async () => {
    const data = dataOf(await gw.execute(graphql('{ categories { name slug } }')));
    expect(data.categories.map((c) => c.name)).toEqual(['Books', 'Electronics', 'Toys']);
  });

  it('returns a listing with a 2-decimal price, its status, category and seller handle', async () => {
    const query = graphql(`
      query ($id: ID!) {
        listing(id: $id) {
          id
          title
          price
          currency
          status
          category {
            slug
            name
          }
          seller {
            handle
          }
        }
      }
    `);
    const active = dataOf(await gw.execute(query, { variables: { id: String(listingIds[4]) } }));
    expect(active.listing).toEqual({
      id: String(listingIds[4]),
      title: 'Listing 4',
      price: '5.50',
      currency: 'USD',
      status: 'ACTIVE',
      category: { slug: 'books', name: 'Books' },
      seller: { handle: 'seller_two' },
    });
    const sold = dataOf(await gw.execute(query, { variables: { id: String(listingIds[3]) } }));
    expect(sold.listing).toMatchObject({ status: 'SOLD', price: '4.50', seller: { handle: 'seller_one' } });
  });

  it('returns null without an error for a well-formed but unknown listing id', async () => {
    const data = dataOf(await gw.execute('{ listing(id: "2147483647") { id } }'));
    expect(data).toEqual({ listing: null });
  });

  it.each(['abc', '0', '-1', '99999999999', '1.5', ''])(
    'rejects listing(id: "%s") as BAD_USER_INPUT',
    async (id) => {
      const result = await gw.execute('query ($id: ID!) { listing(id: $id) { id } }', { variables: { id } });
      expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toMatch(/\bid\b/);
      expect(result.data).toEqual({ listing: null });
    },
  );

  it('defaults to the 20 newest active listings, ids descending', async () => {
    const conn = await listings({});
    const expected = await expectedIds('active');
    expect(expected.length).toBe(31);
    expect(conn.edges.map((e) => Number(e.node.id))).toEqual(expected.slice(0, 20));
    expect(conn.edges.every((e) => e.node.status === 'ACTIVE')).toBe(true);
    expect(conn.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it('filters by status: SOLD returns only sold listings, newest first', async () => {
    const conn = await listings({ status: 'SOLD', first: 100 });
    expect(conn.edges.map((e) => Number(e.node.id))).toEqual(await expectedIds('sold'));
    expect(new Set(conn.edges.map((e) => e.node.status))).toEqual(new Set(['SOLD']));
  });

  it('pages forward with first: 7 through every active listing exactly once, in order', async () => {
    const ids = await pageAllForward(7);
    expect(ids).toEqual(await expectedIds('active'));
  });

  it('pages backward with last/before and yields the same items in the same order', async () => {
    const pages: number[][] = [];
    let before: string | null = null;
    for (let i = 0; i < 50; i += 1) {
      const conn = await listings({ last: 7, before });
      expect(conn.edges.length).toBeGreaterThan(0);
      pages.unshift(conn.edges.map((e) => Number(e.node.id)));
      if (!conn.pageInfo.hasPreviousPage) break;
      before = conn.pageInfo.startCursor;
    }
    expect(pages.flat()).toEqual(await expectedIds('active'));
    expect(pages.slice(1).every((p) => p.length === 7)).toBe(true);
  });

  it.each([
    [{ first: 0 }, 'first'],
    [{ first: 101 }, 'first'],
    [{ first: -1 }, 'first'],
    [{ last: 0 }, 'last'],
    [{ last: 101 }, 'last'],
    [{ first: 5, last: 5 }, 'first'],
  ])('rejects page arguments %j with BAD_USER_INPUT naming %s', async (variables, arg) => {
    const result = await gw.execute(LISTINGS, { variables });
    expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toContain(arg);
  });

  it.each([
    ['garbage', 'abc'],
    ['standard base64 with padding', Buffer.from('{"v":2}').toString('base64')],
    ['wrong version', cursorOf({ v: 2 })],
    ['string key', cursorOf({ v: 1, k: ['5'] })],
    ['fractional key', cursorOf({ v: 1, k: [1.5] })],
    ['extra field', cursorOf({ v: 1, k: [5], x: 1 })],
    ['interest-shaped key', cursorOf({ v: 1, k: [30, 5] })],
    ['out-of-range id', cursorOf({ v: 1, k: [99999999999] })],
  ])('rejects a %s listings cursor as BAD_USER_INPUT naming the argument', async (_label, cursor) => {
    for (const arg of ['after', 'before'] as const) {
      const result = await gw.execute(LISTINGS, { variables: { [arg]: cursor } });
      expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toContain(arg);
    }
  });

  it('filters by category slug', async () => {
    const conn = await listings({ category: 'books', first: 100 });
    expect(conn.edges.map((e) => Number(e.node.id))).toEqual(await expectedIds('active', 'books'));
    expect(conn.edges.every((e) => e.node.category.slug === 'books')).toBe(true);
  });

  it.each(['garden', 'Not A Slug'])('rejects category "%s" as BAD_USER_INPUT', async (category) => {
    const result = await gw.execute(LISTINGS, { variables: { category } });
    expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toContain('category');
  });

  it('neither repeats nor skips listings when one is inserted between page fetches', async () => {
    const before = await expectedIds('active');
    const inserted: number[] = [];
    try {
      const ids = await pageAllForward(7, async () => {
        const { rows } = await db.pool.query<{ id: number }>(
          `INSERT INTO marketplace_listings (category_id, title, price) VALUES ($1, 'Fresh', 1) RETURNING id`,
          [categoryIds.toys],
        );
        inserted.push(rows[0]!.id);
      });
      expect(inserted.length).toBeGreaterThan(0);
      expect(ids).toEqual(before);
      const first = await listings({ first: 1 });
      expect(Number(first.edges[0]!.node.id)).toBe(inserted.at(-1));
    } finally {
      await db.pool.query('DELETE FROM marketplace_listings WHERE id = ANY($1)', [inserted]);
    }
  });

  describe('interests', () => {
    async function interests(
      variables: Record<string, unknown>,
    ): Promise<ResultOf<typeof INTERESTS>['interests']> {
      return dataOf(await gw.execute(INTERESTS, { variables })).interests;
    }

    /** Every interest's name, paging forward `first` at a time from the start (at most 20 pages). */
    async function namesForward(variables: Record<string, unknown>, first: number): Promise<string[]> {
      const names: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 20; page += 1) {
        const conn = await interests({ ...variables, first, after });
        names.push(...conn.edges.map((e) => e.node.name));
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
      }
      return names;
    }

    /** The same, paging backward `last` at a time from the end, put back in the connection's order. */
    async function namesBackward(variables: Record<string, unknown>, last: number): Promise<string[]> {
      const pages: string[][] = [];
      let before: string | null = null;
      for (let page = 0; page < 20; page += 1) {
        const conn = await interests({ ...variables, last, before });
        pages.unshift(conn.edges.map((e) => e.node.name));
        if (!conn.pageInfo.hasPreviousPage) break;
        before = conn.pageInfo.startCursor;
      }
      return pages.flat();
    }

    it('orders by popularity descending, then id ascending', async () => {
      const conn = await interests({ first: 100 });
      expect(conn.edges.map((e) => e.node.name)).toEqual(interestOrder);
      const ids = conn.edges.map((e) => Number(e.node.id));
      expect(ids.slice(1, 4)).toEqual([...ids.slice(1, 4)].sort((a, b) => a - b));
    });

    it('pages first: 2 through all interests without repeats or skips across popularity ties', async () => {
      expect(await namesForward({}, 2)).toEqual(interestOrder);
    });

    it('pages last: 2 backward through all interests in the same order', async () => {
      expect(await namesBackward({}, 2)).toEqual(interestOrder);
    });

    it('searches names case-insensitively as a substring', async () => {
      const conn = await interests({ search: 'ELEC', first: 100 });
      expect(conn.edges.map((e) => e.node.name)).toEqual(['Electronics gadgets', 'Retro electronics']);
    });

    it('pages a search forward and backward, one at a time, through exactly its matches', async () => {
      const all = (await interests({ search: 'E', first: 100 })).edges.map((e) => e.node.name);
      expect(all.length).toBeGreaterThan(2);
      expect(all).toEqual(interestOrder.filter((name) => name.toLowerCase().includes('e')));
      expect(await namesForward({ search: 'E' }, 1)).toEqual(all);
      expect(await namesBackward({ search: 'E' }, 1)).toEqual(all);
    });

    it('treats LIKE wildcards in search literally', async () => {
      for (const search of ['%', '_', 'c%s', '\\']) {
        const conn = await interests({ search, first: 100 });
        expect(
          conn.edges.map((e) => e.node.name),
          `search ${search}`,
        ).toEqual([]);
      }
    });

    it.each([
      ['empty', ''],
      ['blank', '   '],
      ['101 characters', 'x'.repeat(101)],
    ])('rejects a %s search as BAD_USER_INPUT', async (_label, search) => {
      const result = await gw.execute(INTERESTS, { variables: { search } });
      expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toContain('search');
    });

    it('accepts a 100-character search', async () => {
      const conn = await interests({ search: 'x'.repeat(100) });
      expect(conn.edges).toEqual([]);
    });

    it.each([
      ['string popularity', cursorOf({ v: 1, k: ['30', 2] })],
      ['listing-shaped key', cursorOf({ v: 1, k: [5] })],
      ['out-of-range id', cursorOf({ v: 1, k: [30, 99999999999] })],
    ])('rejects a %s interests cursor as BAD_USER_INPUT', async (_label, after) => {
      const result = await gw.execute(INTERESTS, { variables: { after } });
      expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toContain('after');
    });
  });
});
