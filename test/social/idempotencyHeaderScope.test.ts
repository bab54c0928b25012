import { describe, expect } from 'vitest';
import type { UserViewer } from '../../src/auth/viewer.js';
import type { TestDatabase } from '../support/db.js';
import type { TestGateway } from '../support/gateway.js';
import { firstCode, postGraphQL } from '../support/http.js';
import {
  insertUsers,
  likeState,
  outboxFor,
  seedSocialWorld,
  storedKeys,
  type SocialWorld,
} from '../support/socialWorld.js';
import { it, test } from '../support/testFixtures.js';

/**
 * One Idempotency-Key header names one write. A document with two mutation fields under one header
 * key used to commit the first and answer the second as a reuse of the key (422, data: null): such
 * documents are now refused before anything runs.
 */
describe('the Idempotency-Key header covers exactly one mutation field', () => {
  let db: TestDatabase;
  let world: SocialWorld;
  let gateway: TestGateway;
  let viewer: UserViewer;
  let first: number;
  let second: number;

  const newListing = async () => {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO marketplace_listings (category_id, seller_id, title, price) VALUES ($1, $2, 'Scoped', 10)
       RETURNING id`,
      [world.categoryId, world.sellerId],
    );
    return rows[0]!.id;
  };

  const post = async (query: string, key: string | null) =>
    postGraphQL(gateway, query, {
      token: await gateway.token({ sub: viewer.userId, role: 'user' }),
      variables: { a: String(first), b: String(second) },
      headers: key === null ? {} : { 'idempotency-key': key },
    });

  /** Nothing of the request committed: no like, no counter change, no outbox item, no stored key. */
  const expectNothingCommitted = async () => {
    expect(await likeState(db.pool, first)).toEqual({ likeCount: 0, rows: 0 });
    expect(await likeState(db.pool, second)).toEqual({ likeCount: 0, rows: 0 });
    expect(await outboxFor(db.pool, first)).toEqual([]);
    expect(await outboxFor(db.pool, second)).toEqual([]);
    expect(await storedKeys(db.pool, viewer.userId)).toEqual([]);
  };

  test.beforeAll(async ({ db: fileDb, gateway: fileGateway }) => {
    db = fileDb;
    gateway = fileGateway;
    world = await seedSocialWorld(db.pool, 1);
  });

  test.beforeEach(async ({ redis }) => {
    await redis.flush();
    [viewer] = (await insertUsers(db.pool, 1)) as [UserViewer];
    first = await newListing();
    second = await newListing();
  });

  const refusedDocuments: [string, string][] = [
    [
      'two aliased fields',
      'mutation ($a: ID!, $b: ID!) { x: likeListing(listingId: $a) { changed } y: likeListing(listingId: $b) { changed } }',
    ],
    [
      'two different mutations',
      'mutation ($a: ID!, $b: ID!) { likeListing(listingId: $a) { changed } unlikeListing(listingId: $b) { changed } }',
    ],
    [
      'a second field inside a fragment',
      'mutation ($a: ID!, $b: ID!) { likeListing(listingId: $a) { changed } ...Second } ' +
        'fragment Second on Mutation { other: likeListing(listingId: $b) { changed } }',
    ],
    [
      'fields inside an inline fragment',
      'mutation ($a: ID!, $b: ID!) { ... on Mutation { x: likeListing(listingId: $a) { changed } } ' +
        '... @include(if: true) { y: likeListing(listingId: $b) { changed } } }',
    ],
  ];

  for (const [what, query] of refusedDocuments) {
    it(`refuses ${what} under one header key with 400 BAD_REQUEST, and commits nothing`, async () => {
      const res = await post(query, 'one-key');
      expect(res.status).toBe(400);
      expect(res.body.data ?? null).toBeNull();
      expect(firstCode(res.body)).toBe('BAD_REQUEST');
      expect(res.body.errors?.[0]?.message).toMatch(
        /Idempotency-Key header covers exactly one mutation field/,
      );
      await expectNothingCommitted();
    });
  }

  it('the same two-field document runs without the header (each field may carry its own key)', async () => {
    const res = await post(refusedDocuments[0]![1], null);
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(await likeState(db.pool, first)).toEqual({ likeCount: 1, rows: 1 });
    expect(await likeState(db.pool, second)).toEqual({ likeCount: 1, rows: 1 });
  });

  it('one mutation field under a header key still runs (with __typename and a repeated response name)', async () => {
    const res = await post(
      'mutation ($a: ID!) { __typename likeListing(listingId: $a) { changed } ...Same } ' +
        'fragment Same on Mutation { likeListing(listingId: $a) { likeCount } }',
      'single-key',
    );
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(await likeState(db.pool, first)).toEqual({ likeCount: 1, rows: 1 });
    expect((await storedKeys(db.pool, viewer.userId)).map((k) => k.key)).toEqual(['single-key']);
  });
});
