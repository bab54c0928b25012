import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import {
  firstCode,
  parseJson,
  postGraphQL,
  seedHttpFixtures,
  type GraphQLBody,
  type HttpFixtures,
} from '../support/http.js';
import { graphql, sourceOf, type ResultOf } from '../support/graphql.js';

const LISTINGS = graphql(`
  query Listings {
    listings(first: 10) {
      edges {
        node {
          id
          title
          category {
            slug
          }
        }
      }
    }
  }
`);
/** LISTINGS as text, for the requests built by hand (GET, text/plain, form-encoded). */
const listingsQuery = sourceOf(LISTINGS);
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const forbiddenText = ['stack', 'stacktrace', 'SELECT', 'prisma', 'at /'];

/** Raw bodies of error responses gathered across the file; checked for leaks at the end. */
const errorBodies: { what: string; raw: string }[] = [];

function expectNoLeaks(what: string, raw: string): void {
  for (const text of forbiddenText) {
    expect(raw.toLowerCase(), `${what} leaks "${text}": ${raw}`).not.toContain(text.toLowerCase());
  }
}

describe('POST/GET /graphql over HTTP', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let fixtures: HttpFixtures;

  beforeAll(async () => {
    db = await createTestDatabase();
    fixtures = await seedHttpFixtures(db.pool, 'gql');
    gateway = await createTestGateway(db);
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  describe('transport', () => {
    it('answers a JSON POST with 200 and the listings from the database', async () => {
      const res = await postGraphQL(gateway, LISTINGS);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      // A POST is never kept by a proxy or a browser (only an anonymous GET of public data may be).
      expect(res.headers['cache-control']).toBe('private, no-store');
      expect(res.body.errors).toBeUndefined();
      const edges = res.body.data?.listings.edges ?? [];
      expect(edges.map((e) => Number(e.node.id)).sort((a, b) => a - b)).toEqual(fixtures.listingIds);
      expect(edges.every((e) => e.node.category.slug === fixtures.categorySlug)).toBe(true);
    });

    it('answers a GET with the apollo-require-preflight header with 200 and data', async () => {
      const res = await gateway.app.inject({
        method: 'GET',
        url: '/graphql',
        query: { query: listingsQuery },
        headers: { 'apollo-require-preflight': 'true' },
      });
      expect(res.statusCode).toBe(200);
      const body = parseJson<GraphQLBody<ResultOf<typeof LISTINGS>>>(res.body);
      expect(body.errors).toBeUndefined();
      expect(body.data?.listings.edges).toHaveLength(fixtures.listingIds.length);
    });

    it('blocks a GET without a preflight header (CSRF prevention) with 400 and a JSON body', async () => {
      const res = await gateway.app.inject({
        method: 'GET',
        url: '/graphql',
        query: { query: listingsQuery },
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/json/);
      const body = parseJson<GraphQLBody<ResultOf<typeof LISTINGS>>>(res.body);
      expect(body.data).toBeUndefined();
      expect(body.errors?.[0]?.message).toMatch(/Cross-Site Request Forgery|CSRF/i);
      errorBodies.push({ what: 'csrf GET', raw: res.body });
    });

    it('blocks a text/plain POST (CSRF prevention) with 400 and a JSON body', async () => {
      const res = await gateway.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'text/plain' },
        payload: JSON.stringify({ query: listingsQuery }),
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/json/);
      const body = parseJson<GraphQLBody<ResultOf<typeof LISTINGS>>>(res.body);
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.length).toBeGreaterThan(0);
      errorBodies.push({ what: 'csrf text/plain', raw: res.body });
    });

    it('answers malformed JSON with 400 BAD_REQUEST saying the body is not JSON', async () => {
      const res = await gateway.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json' },
        payload: '{bad',
      });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = parseJson<GraphQLBody<unknown>>(res.body);
      expect(firstCode(body)).toBe('BAD_REQUEST');
      expect(body.errors?.[0]?.message).toMatch(/JSON/);
      errorBodies.push({ what: 'malformed JSON', raw: res.body });
    });

    it('answers an unsupported content type with a 4xx JSON body', async () => {
      const res = await gateway.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `query=${encodeURIComponent(listingsQuery)}`,
      });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = parseJson<GraphQLBody<unknown>>(res.body);
      expect(firstCode(body)).toBe('BAD_REQUEST');
      errorBodies.push({ what: 'form content type', raw: res.body });
    });

    it('answers an unknown route with a 404 JSON body', async () => {
      const res = await gateway.app.inject({ method: 'GET', url: '/nope/graphql?x=1' });
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = parseJson<GraphQLBody<unknown>>(res.body);
      expect(firstCode(body)).toBe('NOT_FOUND');
      expect(body.errors?.[0]?.message).toContain('/nope/graphql');
      errorBodies.push({ what: '404', raw: res.body });
    });
  });

  describe('x-request-id', () => {
    it('puts an x-request-id on every response, including errors and other routes', async () => {
      const responses = [
        await gateway.app.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ query: '{ categories { id } }' }),
        }),
        await gateway.app.inject({ method: 'GET', url: '/healthz' }),
        await gateway.app.inject({ method: 'GET', url: '/does-not-exist' }),
        await gateway.app.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json' },
          payload: '{bad',
        }),
      ];
      const ids = responses.map((r) => r.headers['x-request-id']);
      for (const id of ids) expect(id).toMatch(uuidPattern);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('echoes a well-formed incoming x-request-id', async () => {
      const res = await gateway.app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { 'x-request-id': 'client-req_42.a:b' },
      });
      expect(res.headers['x-request-id']).toBe('client-req_42.a:b');
    });

    it.each([
      ['300 characters long', 'a'.repeat(300)],
      ['containing spaces', 'has some spaces'],
      ['containing a newline-like escape', 'a\\nb<script>'],
    ])('replaces an incoming x-request-id %s with a fresh uuid', async (_what, incoming) => {
      const res = await postGraphQL(gateway, '{ categories { id } }', {
        headers: { 'x-request-id': incoming },
      });
      const id = res.headers['x-request-id'];
      expect(id).not.toBe(incoming);
      expect(id).toMatch(uuidPattern);
    });
  });

  describe('authentication and authorization', () => {
    it('returns me = null without a token', async () => {
      const res = await postGraphQL(gateway, graphql('{ me { id handle } }'));
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data).toEqual({ me: null });
    });

    it('returns the signed-in user as me, with the token sub as id', async () => {
      const token = await gateway.token({ sub: fixtures.userId, role: 'user' });
      const res = await postGraphQL(gateway, graphql('{ me { id handle } }'), { token });
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.me).toEqual({ id: fixtures.userId, handle: fixtures.userHandle });
    });

    it('lets an admin read schemaMigrations: all applied, none pending', async () => {
      const token = await gateway.token({ sub: fixtures.adminId, role: 'admin' });
      const res = await postGraphQL(gateway, graphql('{ schemaMigrations { applied pending } }'), {
        token,
      });
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data?.schemaMigrations.applied.length).toBeGreaterThan(0);
      expect(res.body.data?.schemaMigrations.pending).toEqual([]);
    });

    it('refuses schemaMigrations to a plain user with FORBIDDEN and data null', async () => {
      const token = await gateway.token({ sub: fixtures.userId, role: 'user' });
      const res = await postGraphQL(gateway, graphql('{ schemaMigrations { applied pending } }'), {
        token,
      });
      expect(res.status).toBe(200);
      expect(res.body.data).toBeNull();
      expect(firstCode(res.body)).toBe('FORBIDDEN');
      expect(res.body.errors?.[0]?.path).toEqual(['schemaMigrations']);
      errorBodies.push({ what: 'forbidden', raw: res.raw });
    });

    it('refuses schemaMigrations to an anonymous caller with UNAUTHENTICATED', async () => {
      const res = await postGraphQL(gateway, graphql('{ schemaMigrations { applied pending } }'));
      expect(res.body.data).toBeNull();
      expect(firstCode(res.body)).toBe('UNAUTHENTICATED');
      errorBodies.push({ what: 'anonymous admin field', raw: res.raw });
    });

    const badTokens: [string, (g: TestGateway) => Promise<string>][] = [
      [
        'an expired token',
        (g) =>
          g.token({ sub: fixtures.userId, role: 'user' }, { expiresIn: Math.floor(Date.now() / 1000) - 300 }),
      ],
      [
        'a token with a bad signature',
        (g) =>
          new SignJWT({ role: 'admin' })
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject(fixtures.adminId)
            .setIssuer(g.config.auth.issuer)
            .setAudience(g.config.auth.audience)
            .setExpirationTime('1h')
            .sign(new TextEncoder().encode('not-the-gateway-secret-not-the-gateway-secret')),
      ],
      [
        'a token for another audience',
        (g) =>
          new SignJWT({ role: 'user' })
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject(fixtures.userId)
            .setIssuer(g.config.auth.issuer)
            .setAudience('another-api')
            .setExpirationTime('1h')
            .sign(new TextEncoder().encode(g.config.auth.jwtSecret ?? '')),
      ],
    ];

    it.each(badTokens)(
      'answers %s with HTTP 401, UNAUTHENTICATED and WWW-Authenticate',
      async (what, make) => {
        const token = await make(gateway);
        const res = await postGraphQL(gateway, graphql('{ me { id } }'), { token });
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(res.body.data ?? null).toBeNull();
        expect(firstCode(res.body)).toBe('UNAUTHENTICATED');
        errorBodies.push({ what, raw: res.raw });
      },
    );

    it('answers a malformed Authorization header with 401 rather than treating it as anonymous', async () => {
      const res = await postGraphQL(gateway, graphql('{ me { id } }'), {
        authorization: 'Basic dXNlcjpwdw==',
      });
      expect(res.status).toBe(401);
      expect(firstCode(res.body)).toBe('UNAUTHENTICATED');
    });
  });

  describe('error masking', () => {
    it('shows our own coded error for a bad listing id (BAD_USER_INPUT, message kept)', async () => {
      const res = await postGraphQL(gateway, graphql('{ listing(id: "abc") { id } }'));
      expect(res.status).toBe(200);
      expect(firstCode(res.body)).toBe('BAD_USER_INPUT');
      expect(res.body.errors?.[0]?.message).toContain('"abc"');
      expect(res.body.errors?.[0]?.path).toEqual(['listing']);
      errorBodies.push({ what: 'bad user input', raw: res.raw });
    });

    it('masks an unexpected database failure as "internal server error" without SQL details', async () => {
      await db.pool.query('ALTER TABLE categories RENAME COLUMN name TO name_x');
      try {
        const res = await postGraphQL(gateway, graphql('{ categories { id name } }'));
        expect(res.status).toBe(200);
        expect(res.body.data ?? null).toBeNull();
        expect(res.body.errors).toHaveLength(1);
        expect(res.body.errors?.[0]?.message).toBe('internal server error');
        expect(firstCode(res.body)).toBe('INTERNAL_SERVER_ERROR');
        expect(res.raw).not.toMatch(/name_x|does not exist|42703|P20\d\d|findMany/i);
        errorBodies.push({ what: 'masked internal error', raw: res.raw });
      } finally {
        await db.pool.query('ALTER TABLE categories RENAME COLUMN name_x TO name');
      }
      const after = await postGraphQL(gateway, graphql('{ categories { id name } }'));
      expect(after.body.errors).toBeUndefined();
      expect(after.body.data?.categories.map((c) => c.name)).toContain(fixtures.categorySlug);
    });

    it('masks validation of unknown fields without leaking internals', async () => {
      const res = await postGraphQL(gateway, '{ categories { id passwordHash } }');
      expect(res.status).toBe(400);
      expect(firstCode(res.body)).toBe('GRAPHQL_VALIDATION_FAILED');
      errorBodies.push({ what: 'validation', raw: res.raw });
    });

    it('never puts stack traces, SQL or Prisma details in any error body', () => {
      expect(errorBodies.length).toBeGreaterThanOrEqual(10);
      for (const { what, raw } of errorBodies) expectNoLeaks(what, raw);
    });
  });
});

describe('request body limit', () => {
  let db: TestDatabase;
  let gateway: TestGateway;

  beforeAll(async () => {
    db = await createTestDatabase();
    gateway = await createTestGateway(db, { BODY_LIMIT_BYTES: '2048' });
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  it('answers a body over BODY_LIMIT_BYTES with 413 PAYLOAD_TOO_LARGE as JSON', async () => {
    const padding = ' '.repeat(5 * 1024);
    const payload = JSON.stringify({ query: `{ categories { id }${padding}}` });
    expect(payload.length).toBeGreaterThan(5000);
    const res = await gateway.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = parseJson<GraphQLBody<unknown>>(res.body);
    expect(firstCode(body)).toBe('PAYLOAD_TOO_LARGE');
    expect(body.errors?.[0]?.message).toContain('2048');
    expectNoLeaks('413', res.body);
  });

  it('still accepts a body under the limit', async () => {
    const res = await postGraphQL(gateway, graphql('{ categories { id } }'));
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
  });
});

describe('database failures a client can act on', () => {
  let db: TestDatabase;
  let gateway: TestGateway;

  beforeAll(async () => {
    db = await createTestDatabase();
    gateway = await createTestGateway(db, { STATEMENT_TIMEOUT_MS: '100' });
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  it('maps a query cancelled by statement_timeout to TIMEOUT', async () => {
    // Warm the pool so the lock wait, not connection setup, is what runs into the timeout.
    const warm = await postGraphQL(gateway, graphql('{ categories { id } }'));
    expect(warm.body.errors).toBeUndefined();

    const locker = await db.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE categories IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const res = await postGraphQL(gateway, graphql('{ categories { id name } }'));
      expect(Date.now() - started).toBeLessThan(5000);
      expect(res.body.data ?? null).toBeNull();
      expect(firstCode(res.body)).toBe('TIMEOUT');
      expect(res.body.errors?.[0]?.message).toMatch(/too long/);
      expectNoLeaks('timeout', res.raw);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
  });
});

describe('an unreachable database', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await createTestGateway({ url: 'postgresql://postgres@127.0.0.1:1/nope' });
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('maps a query that cannot reach Postgres to UNAVAILABLE, not an internal error', async () => {
    const res = await postGraphQL(gateway, graphql('{ categories { id } }'));
    expect(res.body.data ?? null).toBeNull();
    expect(firstCode(res.body)).toBe('UNAVAILABLE');
    expect(res.body.errors?.[0]?.message).toMatch(/unavailable/);
    expect(res.raw).not.toMatch(/127\.0\.0\.1|reach database|P1001/);
    // Nothing was served: 503, and the client is told when to come back.
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body.errors?.[0]?.extensions?.retryAfterMs).toBe(2000);
  });
});
