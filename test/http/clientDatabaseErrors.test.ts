import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { firstCode, postGraphQL, seedHttpFixtures, type HttpFixtures } from '../support/http.js';

/**
 * Caller mistakes that reach Postgres are 4xx-style codes, never INTERNAL_SERVER_ERROR (which counts
 * against kernel SLOs and flag rollouts): here, writes by a correctly signed token whose user does not
 * exist (a foreign-key miss on the caller's own user_id).
 */
describe('client-caused database errors through the gateway', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let fixtures: HttpFixtures;
  let ghostToken: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    fixtures = await seedHttpFixtures(db.pool, 'cde');
    gateway = await createTestGateway(db);
    ghostToken = await gateway.token({ sub: randomUUID(), role: 'user' });
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  const writes: [string, string, (f: HttpFixtures) => Record<string, unknown>][] = [
    ['recordSignal', 'mutation { recordSignal(kind: SEARCH, query: "shoes") { __typename } }', () => ({})],
    [
      'likeListing',
      'mutation($id: ID!) { likeListing(listingId: $id) { __typename } }',
      (f) => ({ id: String(f.listingIds[0]) }),
    ],
    [
      'addComment',
      'mutation($id: ID!) { addComment(listingId: $id, body: "hello") { __typename } }',
      (f) => ({ id: String(f.listingIds[0]) }),
    ],
    [
      'hideListing',
      'mutation($id: ID!) { hideListing(listingId: $id) { __typename } }',
      (f) => ({ id: String(f.listingIds[1]) }),
    ],
  ];

  it.each(writes)('%s by a user who does not exist is UNAUTHENTICATED', async (_name, query, variables) => {
    const res = await postGraphQL(gateway, query, { variables: variables(fixtures), token: ghostToken });
    expect(firstCode(res.body), res.raw).toBe('UNAUTHENTICATED');
    expect(res.raw).not.toMatch(/fkey|profiles|violates|23503/);
  });
});
