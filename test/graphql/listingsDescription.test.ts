import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertCategory, unique } from '../support/fixtures.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { postGraphQL } from '../support/http.js';

type Page = { listings: { edges: { node: { id: string; title: string; description?: string } }[] } };

/**
 * The listings page leaves the descriptions out of its statement when the document asks for none
 * (src/resolvers/lookahead.ts selectsField): whatever way a document asks for them, it gets them.
 */
describe('listings page descriptions', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let slug: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    slug = unique('desc-');
    const categoryId = await insertCategory(db.pool, slug);
    await db.pool.query(
      `INSERT INTO marketplace_listings (category_id, title, description, price)
       SELECT $1, 'Lamp ' || g, 'A brass lamp, number ' || g, 10 FROM generate_series(1, 3) g`,
      [categoryId],
    );
    gateway = await createTestGateway(db);
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  const page = async (query: string) => {
    const res = await postGraphQL<Page>(gateway, query);
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.listings.edges.map((e) => e.node);
  };

  it('gives the descriptions to a document that asks for them, directly, by alias or through fragments', async () => {
    const expected = ['A brass lamp, number 3', 'A brass lamp, number 2', 'A brass lamp, number 1'];
    const direct = await page(
      `{ listings(first: 3, category: "${slug}") { edges { node { id title description } } } }`,
    );
    expect(direct.map((n) => n.description)).toEqual(expected);
    const aliased = await page(
      `{ listings(first: 3, category: "${slug}") { edges { node { id title text: description } } } }`,
    );
    expect(aliased.map((n) => (n as unknown as { text: string }).text)).toEqual(expected);
    const viaFragments = await page(
      `{ listings(first: 3, category: "${slug}") { edges { ...E } } }
       fragment E on ListingEdge { node { id title ... on Listing { ...D } } }
       fragment D on Listing { description }`,
    );
    expect(viaFragments.map((n) => n.description)).toEqual(expected);
  });

  it('serves a page that does not ask for them as before', async () => {
    const nodes = await page(`{ listings(first: 3, category: "${slug}") { edges { node { id title } } } }`);
    expect(nodes.map((n) => n.title)).toEqual(['Lamp 3', 'Lamp 2', 'Lamp 1']);
  });
});
