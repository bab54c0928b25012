import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertListing, insertProfile } from '../support/fixtures.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { firstCode, postGraphQL, seedHttpFixtures, type HttpFixtures } from '../support/http.js';
import { graphql } from '../support/graphql.js';

const LISTING_COMMENTS = graphql(`
  query ($id: ID!, $first: Int) {
    listing(id: $id) {
      id
      commentCount
      comments(first: $first) {
        id
        body
        createdAt
        deleted
        author {
          handle
        }
      }
    }
  }
`);

const DEFAULT_COMMENTS = graphql(`
  query ($id: ID!) {
    listing(id: $id) {
      comments {
        body
      }
    }
  }
`);

const PAGE_COMMENTS = graphql(`
  query {
    listings(first: 10) {
      edges {
        node {
          id
          comments(first: 2) {
            body
            author {
              handle
            }
          }
        }
      }
    }
  }
`);

describe('Listing.comments over HTTP', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let fixtures: HttpFixtures;
  let busy: number;
  let quiet: number;
  let authors: { id: string; handle: string }[];
  /** Comment ids of `busy`, newest first (what the field must return), deleted one excluded. */
  let newestFirst: string[];

  /** Adds a comment `minutesAgo` minutes old; returns its id. */
  async function comment(listingId: number, userId: string, body: string, minutesAgo: number) {
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO comments (listing_id, user_id, body, created_at)
       VALUES ($1, $2, $3, now() - make_interval(mins => $4)) RETURNING id::text`,
      [listingId, userId, body, minutesAgo],
    );
    return rows[0]!.id;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    fixtures = await seedHttpFixtures(db.pool, 'lc');
    gateway = await createTestGateway(db);
    authors = [];
    for (const handle of ['ann_lc', 'bob_lc', 'cat_lc']) {
      authors.push({ id: await insertProfile(db.pool, { handle }), handle });
    }
    [busy, quiet] = fixtures.listingIds as [number, number];
    // 14 comments, one a minute, oldest first; the 3rd newest is deleted afterwards.
    const ids: string[] = [];
    for (let i = 13; i >= 0; i -= 1) {
      ids.unshift(await comment(busy, authors[i % 3]!.id, `comment ${i}`, i));
    }
    await db.pool.query('UPDATE comments SET deleted_at = now() WHERE id = $1', [ids[2]]);
    newestFirst = ids.filter((_, i) => i !== 2);
    await comment(quiet, authors[0]!.id, 'only one', 5);
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  it('returns the latest comments newest first with body, time and author handle, without deleted ones', async () => {
    const res = await postGraphQL(gateway, LISTING_COMMENTS, { variables: { id: String(busy), first: 5 } });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    const listing = res.body.data!.listing!;
    expect(listing.commentCount).toBe(13);
    expect(listing.comments.map((c) => c.id)).toEqual(newestFirst.slice(0, 5));
    expect(listing.comments.map((c) => c.body)).toEqual([
      'comment 0',
      'comment 1',
      'comment 3',
      'comment 4',
      'comment 5',
    ]);
    expect(listing.comments.map((c) => c.author?.handle)).toEqual([
      'ann_lc',
      'bob_lc',
      'ann_lc',
      'bob_lc',
      'cat_lc',
    ]);
    expect(listing.comments.every((c) => c.deleted === false)).toBe(true);
    const times = listing.comments.map((c) => Date.parse(c.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('returns 10 comments when first is not given, and all of them up to first', async () => {
    const byDefault = await postGraphQL(gateway, DEFAULT_COMMENTS, { variables: { id: String(busy) } });
    expect(byDefault.body.data!.listing!.comments).toHaveLength(10);
    const all = await postGraphQL(gateway, LISTING_COMMENTS, { variables: { id: String(busy), first: 50 } });
    expect(all.body.data!.listing!.comments.map((c) => c.id)).toEqual(newestFirst);
  });

  it('shows a signed-in viewer the same comments, not their own deleted one', async () => {
    const token = await gateway.token({ sub: authors[2]!.id, role: 'user' });
    const res = await postGraphQL(gateway, LISTING_COMMENTS, {
      token,
      variables: { id: String(busy), first: 50 },
    });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.listing!.comments.map((c) => c.id)).toEqual(newestFirst);
  });

  it('gives each listing of a page its own comments, and none to a listing without comments', async () => {
    const res = await postGraphQL(gateway, PAGE_COMMENTS);
    expect(res.body.errors).toBeUndefined();
    const byId = new Map(res.body.data!.listings.edges.map((e) => [Number(e.node.id), e.node.comments]));
    expect(byId.get(busy)!.map((c) => c.body)).toEqual(['comment 0', 'comment 1']);
    expect(byId.get(quiet)).toEqual([{ body: 'only one', author: { handle: 'ann_lc' } }]);
    expect(byId.get(fixtures.listingIds[2]!)).toEqual([]);
  });

  it('drops an erased author’s comments', async () => {
    const listingId = await insertListing(db.pool, { categoryId: fixtures.categoryId });
    const erased = await insertProfile(db.pool, { handle: 'gone_lc' });
    await comment(listingId, erased, 'from someone erased', 1);
    await comment(listingId, authors[1]!.id, 'still here', 2);
    await db.pool.query('DELETE FROM profiles WHERE user_id = $1', [erased]);
    const res = await postGraphQL(gateway, LISTING_COMMENTS, { variables: { id: String(listingId) } });
    expect(res.body.data!.listing!.comments.map((c) => c.body)).toEqual(['still here']);
  });

  it.each([0, -1, 51, 1000])('rejects first: %i with BAD_USER_INPUT naming first', async (first) => {
    const res = await postGraphQL(gateway, LISTING_COMMENTS, { variables: { id: String(busy), first } });
    expect(firstCode(res.body)).toBe('BAD_USER_INPUT');
    expect(res.body.errors![0]!.message).toContain('first must be a whole number from 1 to 50');
    expect(res.body.data?.listing ?? null).toBeNull();
  });
});
