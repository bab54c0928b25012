import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { firstCode, metricValue, postGraphQL, seedHttpFixtures, type HttpResult } from '../support/http.js';
import { graphql } from '../support/graphql.js';

const deepQuery = graphql('{ listings { edges { node { category { name } } } } }');
// gql.tada types the introspection fields (__schema) as unknown, so this result keeps a written type.
const introspectionQuery = '{ __schema { types { name } } }';
interface SchemaData {
  __schema: { types: { name: string }[] };
}

/** A rejected request: HTTP 400, JSON, one error with the given code and no data. */
function expectRejected(res: HttpResult<unknown>, code: string): string {
  expect(res.status).toBe(400);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body.data ?? null).toBeNull();
  expect(firstCode(res.body)).toBe(code);
  return res.body.errors?.[0]?.message ?? '';
}

async function metricsText(gateway: TestGateway): Promise<string> {
  const res = await gateway.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return res.body;
}

describe('GraphQL request protection', () => {
  let db: TestDatabase;
  let defaults: TestGateway;
  /** GRAPHQL_MAX_DEPTH=3 */
  let shallow: TestGateway;
  /** GRAPHQL_MAX_ALIASES=2, GRAPHQL_MAX_TOKENS=50, GRAPHQL_MAX_COMPLEXITY=50 */
  let limited: TestGateway;
  let production: TestGateway;
  let productionWithIntrospection: TestGateway;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedHttpFixtures(db.pool, 'prot');
    [defaults, shallow, limited, production, productionWithIntrospection] = await Promise.all([
      createTestGateway(db),
      createTestGateway(db, { GRAPHQL_MAX_DEPTH: '3' }),
      createTestGateway(db, {
        GRAPHQL_MAX_ALIASES: '2',
        GRAPHQL_MAX_TOKENS: '50',
        GRAPHQL_MAX_COMPLEXITY: '50',
      }),
      createTestGateway(db, { NODE_ENV: 'production' }),
      createTestGateway(db, { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(
      [defaults, shallow, limited, production, productionWithIntrospection].map((g) => g?.close()),
    );
    await db?.drop();
  });

  describe('with the default limits', () => {
    it('runs a normal nested query', async () => {
      const res = await postGraphQL(defaults, deepQuery);
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.listings.edges).toHaveLength(3);
    });

    it('allows introspection outside production', async () => {
      const res = await postGraphQL<SchemaData>(defaults, introspectionQuery);
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.__schema.types.map((t) => t.name)).toContain('Listing');
    });
  });

  describe('depth', () => {
    it('rejects a query deeper than GRAPHQL_MAX_DEPTH with 400 GRAPHQL_VALIDATION_FAILED', async () => {
      const before = metricValue(await metricsText(shallow), 'lodestar_graphql_rejections_total', {
        reason: 'depth',
      });
      const res = await postGraphQL(shallow, deepQuery);
      expect(expectRejected(res, 'GRAPHQL_VALIDATION_FAILED')).toMatch(/depth 5 exceeds the maximum of 3/);
      const after = metricValue(await metricsText(shallow), 'lodestar_graphql_rejections_total', {
        reason: 'depth',
      });
      expect(after).toBe(before + 1);
    });

    it('counts depth through fragments too', async () => {
      const res = await postGraphQL(
        shallow,
        'query { listings { ...L } } fragment L on ListingConnection { edges { node { category { id } } } }',
      );
      expect(expectRejected(res, 'GRAPHQL_VALIDATION_FAILED')).toMatch(/depth/);
    });

    it('accepts a query exactly at the depth limit', async () => {
      const res = await postGraphQL(shallow, graphql('{ me { interests { affinity } } }'));
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data).toEqual({ me: null });
    });
  });

  describe('aliases', () => {
    it('rejects more than GRAPHQL_MAX_ALIASES aliases with 400 and a message about aliases', async () => {
      const res = await postGraphQL(
        limited,
        '{ a: categories { id } b: categories { id } c: categories { id } }',
      );
      expect(expectRejected(res, 'GRAPHQL_VALIDATION_FAILED')).toMatch(/more than 2 aliases/);
      const text = await metricsText(limited);
      expect(metricValue(text, 'lodestar_graphql_rejections_total', { reason: 'aliases' })).toBeGreaterThan(
        0,
      );
    });

    it('accepts exactly GRAPHQL_MAX_ALIASES aliases', async () => {
      const res = await postGraphQL(limited, '{ a: categories { id } b: categories { id } }');
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
    });
  });

  describe('tokens and syntax', () => {
    it('rejects a document over GRAPHQL_MAX_TOKENS with 400 GRAPHQL_PARSE_FAILED, not 500', async () => {
      const before = metricValue(await metricsText(limited), 'lodestar_graphql_rejections_total', {
        reason: 'tokens',
      });
      const fields = Array.from({ length: 60 }, () => 'id').join(' ');
      const res = await postGraphQL(limited, `{ categories { ${fields} } }`);
      expect(expectRejected(res, 'GRAPHQL_PARSE_FAILED')).toMatch(/tokens/);
      const after = metricValue(await metricsText(limited), 'lodestar_graphql_rejections_total', {
        reason: 'tokens',
      });
      expect(after).toBe(before + 1);
    });

    it('rejects a syntax error with 400 GRAPHQL_PARSE_FAILED as JSON', async () => {
      const res = await postGraphQL(defaults, '{');
      expect(expectRejected(res, 'GRAPHQL_PARSE_FAILED')).toMatch(/Syntax Error/);
      const text = await metricsText(defaults);
      expect(metricValue(text, 'lodestar_graphql_rejections_total', { reason: 'parse' })).toBeGreaterThan(0);
    });
  });

  describe('complexity', () => {
    it('rejects a query over GRAPHQL_MAX_COMPLEXITY with 400 QUERY_TOO_COMPLEX', async () => {
      const res = await postGraphQL(limited, '{ listings(first: 100) { edges { node { id } } } }');
      expect(expectRejected(res, 'QUERY_TOO_COMPLEX')).toMatch(/too expensive/);
      const text = await metricsText(limited);
      expect(
        metricValue(text, 'lodestar_graphql_rejections_total', { reason: 'complexity' }),
      ).toBeGreaterThan(0);
    });

    it('prices a page by its size, so the same query with first: 2 passes', async () => {
      const res = await postGraphQL(limited, graphql('{ listings(first: 2) { edges { node { id } } } }'));
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.listings.edges).toHaveLength(2);
    });

    it('prices a page size passed as a variable', async () => {
      const query = graphql('query Page($n: Int) { listings(first: $n) { edges { node { id } } } }');
      const cheap = await postGraphQL(limited, query, { variables: { n: 2 } });
      expect(cheap.status).toBe(200);
      expect(cheap.body.errors).toBeUndefined();
      const expensive = await postGraphQL(limited, query, { variables: { n: 100 } });
      expectRejected(expensive, 'QUERY_TOO_COMPLEX');
    });

    it('prices the same document again for each new set of variables, in any order', async () => {
      const query = graphql('query Again($n: Int) { listings(first: $n) { edges { node { id } } } }');
      for (const n of [2, 100, 2, 100, 1]) {
        const res = await postGraphQL(limited, query, { variables: { n } });
        if (n === 100) expectRejected(res, 'QUERY_TOO_COMPLEX');
        else expect(res.body.errors, `n = ${n}`).toBeUndefined();
      }
      const badType = await postGraphQL(limited, query, { variables: { n: 'two' } });
      expectRejected(badType, 'BAD_USER_INPUT');
      const badAgain = await postGraphQL(limited, query, { variables: { n: 'two' } });
      expectRejected(badAgain, 'BAD_USER_INPUT');
    });
  });

  describe('introspection', () => {
    it('rejects introspection in production by default with 400 GRAPHQL_VALIDATION_FAILED', async () => {
      const res = await postGraphQL(production, introspectionQuery);
      expectRejected(res, 'GRAPHQL_VALIDATION_FAILED');
    });

    it('still runs ordinary queries in production', async () => {
      const res = await postGraphQL(production, graphql('{ listings(first: 1) { edges { node { id } } } }'));
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
    });

    it('hides field suggestions in production error messages', async () => {
      const res = await postGraphQL(production, '{ listing { idd } }');
      expect(res.status).toBe(400);
      expect(res.raw).not.toMatch(/Did you mean/);
    });

    it('allows introspection in production when GRAPHQL_INTROSPECTION=true', async () => {
      const res = await postGraphQL<SchemaData>(productionWithIntrospection, introspectionQuery);
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.__schema.types.length).toBeGreaterThan(10);
    });
  });
});
