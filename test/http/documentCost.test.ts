import { getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { firstCode, metricValue, postGraphQL, seedHttpFixtures, type HttpResult } from '../support/http.js';

/**
 * The review's document: `fragments` fragments, each spreading the next `spreads` times (about 1 KB
 * for 24 × 2). Validation used to re-walk a fragment per path, 2^24 walks for this one.
 */
function fragmentBomb(fragments: number, spreads: number): string {
  const parts = ['{ listings(first: 1) { edges { node { ...F0 } } } }'];
  for (let i = 0; i < fragments; i += 1) {
    const body =
      i + 1 < fragments ? Array.from({ length: spreads }, () => `...F${i + 1}`).join(' ') : 'title';
    parts.push(`fragment F${i} on Listing { id ${body} }`);
  }
  return parts.join('\n');
}

function expectRefused(res: HttpResult<unknown>, code: string): string {
  expect(res.status).toBe(400);
  expect(res.body.data ?? null).toBeNull();
  expect(firstCode(res.body)).toBe(code);
  return res.body.errors?.[0]?.message ?? '';
}

async function rejections(gateway: TestGateway, reason: string): Promise<number> {
  const res = await gateway.app.inject({ method: 'GET', url: '/metrics' });
  return metricValue(res.body, 'lodestar_graphql_rejections_total', { reason });
}

describe('documents whose fragments expand enormously', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let production: TestGateway;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedHttpFixtures(db.pool, 'cost');
    [gateway, production] = await Promise.all([
      createTestGateway(db),
      createTestGateway(db, { NODE_ENV: 'production' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([gateway?.close(), production?.close()]);
    await db?.drop();
  });

  it("the review's 1 KB document (24 fragments × 2 spreads) is refused as QUERY_TOO_COMPLEX", async () => {
    const document = fragmentBomb(24, 2);
    expect(document.length).toBeLessThan(1200);
    const before = await rejections(gateway, 'fields');
    const res = await postGraphQL(gateway, document);
    expect(expectRefused(res, 'QUERY_TOO_COMPLEX')).toMatch(
      /selects 25165826 fields once its fragments are expanded; the maximum is 2000/,
    );
    expect(await rejections(gateway, 'fields')).toBe(before + 1);
  });

  it('wider spreads (10 per fragment, 10^9 fields) are refused the same way, in production too', async () => {
    const res = await postGraphQL(production, fragmentBomb(10, 10));
    expectRefused(res, 'QUERY_TOO_COMPLEX');
  });

  it('/healthz answers while a burst of such documents arrives, and every one is refused', async () => {
    // On the old validation each of these took seconds of CPU; 16 of them would not finish in the test timeout.
    const burst = Array.from({ length: 16 }, (_, i) => postGraphQL(gateway, fragmentBomb(24 + (i % 4), 2)));
    const health = gateway.app.inject({ method: 'GET', url: '/healthz' });
    const [healthRes, ...refused] = await Promise.all([health, ...burst]);
    expect(healthRes.statusCode).toBe(200);
    expect(healthRes.json()).toEqual({ status: 'ok' });
    for (const res of refused) expectRefused(res, 'QUERY_TOO_COMPLEX');
  });

  it('an ordinary query that reuses a fragment still runs', async () => {
    const res = await postGraphQL(
      gateway,
      '{ a: listings(first: 2) { edges { node { ...L } } } b: listings(first: 1) { edges { node { ...L } } } } ' +
        'fragment L on Listing { id title category { ...C } } fragment C on Category { id name }',
    );
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });

  it("GraphiQL's full introspection query fits the field limit", async () => {
    const res = await postGraphQL<IntrospectionQuery>(gateway, getIntrospectionQuery());
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.__schema).toBeTruthy();
  });
});

describe('variable and validation errors', () => {
  let db: TestDatabase;
  let development: TestGateway;
  let production: TestGateway;
  const byStatus = 'query ($s: ListingStatus) { listings(status: $s, first: 1) { edges { node { id } } } }';

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedHttpFixtures(db.pool, 'vars');
    [development, production] = await Promise.all([
      createTestGateway(db),
      createTestGateway(db, { NODE_ENV: 'production' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([development?.close(), production?.close()]);
    await db?.drop();
  });

  it('a wrong enum value in variables is BAD_USER_INPUT, without suggestions, in production', async () => {
    const res = await postGraphQL(production, byStatus, { variables: { s: 'ACTIV' } });
    expect(expectRefused(res, 'BAD_USER_INPUT')).toMatch(/Variable "\$s" got invalid value "ACTIV"/);
    expect(res.raw).not.toMatch(/Did you mean|ACTIVE/);
  });

  it('a wrong enum value in variables is BAD_USER_INPUT in development too (suggestions allowed there)', async () => {
    const res = await postGraphQL(development, byStatus, { variables: { s: 'ACTIV' } });
    expect(expectRefused(res, 'BAD_USER_INPUT')).toMatch(/Did you mean the enum value "ACTIVE"/);
  });

  it('other coercion errors (wrong type, missing required variable) are BAD_USER_INPUT', async () => {
    const wrongType = await postGraphQL(
      production,
      'query ($n: Int) { listings(first: $n) { edges { node { id } } } }',
      {
        variables: { n: 'ten' },
      },
    );
    expectRefused(wrongType, 'BAD_USER_INPUT');
    const missing = await postGraphQL(production, 'query ($id: ID!) { listing(id: $id) { id } }');
    expectRefused(missing, 'BAD_USER_INPUT');
  });

  it('an input object with a misspelt field gets no suggestion in production', async () => {
    const res = await postGraphQL(
      production,
      'mutation ($i: [InterestInput!]!) { setInterests(interests: $i) { changed } }',
      { variables: { i: [{ interestId: '1', affinty: 0.5 }] } },
    );
    expectRefused(res, 'BAD_USER_INPUT');
    expect(res.raw).not.toMatch(/Did you mean|"affinity"/);
  });

  it('a wrong enum literal is a validation error without suggestions in production', async () => {
    const res = await postGraphQL(
      production,
      '{ listings(status: ACTIV, first: 1) { edges { node { id } } } }',
    );
    expectRefused(res, 'GRAPHQL_VALIDATION_FAILED');
    expect(res.raw).not.toMatch(/Did you mean|ACTIVE/);
  });

  it('a good enum value still runs', async () => {
    const res = await postGraphQL(production, byStatus, { variables: { s: 'ACTIVE' } });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });
});
