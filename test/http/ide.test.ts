import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ideContentSecurityPolicy, prefersHtml, registerIde } from '../../src/server/ide.js';
import { ideConfig, renderIdePage } from '../../src/server/ide/page.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';

const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** The src/href URLs of the page's <script> and <link> elements. */
function referencedUrls(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) =>
    (m[1] ?? '').replace(/&amp;/g, '&'),
  );
}

/** The JSON config blob as the bootstrap script reads it. */
function pageConfig(html: string): unknown {
  const match = /<script type="application\/json" id="graphiql-config">([^<]*)<\/script>/.exec(html);
  if (!match?.[1]) throw new Error('the page has no config blob');
  return JSON.parse(match[1]);
}

describe('GraphQL IDE (GraphiQL) over HTTP', () => {
  let db: TestDatabase;
  let gateway: TestGateway;

  beforeAll(async () => {
    db = await createTestDatabase();
    gateway = await createTestGateway(db);
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  it('serves an HTML page wired to /graphql, with a strict CSP and no other host in it', async () => {
    const res = await gateway.app.inject({ method: 'GET', url: '/graphiql' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(ideContentSecurityPolicy);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).not.toMatch(/https?:\/\//);
    expect(res.body).not.toMatch(/<script>/); // no inline script: the CSP would block it
    const config = pageConfig(res.body) as { endpoint: string; tabs: { query: string }[]; headers: unknown };
    expect(config.endpoint).toBe('/graphql');
    expect(config.headers).toBeNull();
    expect(config.tabs.map((tab) => /^query (\w+)/m.exec(tab.query)?.[1])).toEqual([
      'Feed',
      'Me',
      'SchemaMigrations',
    ]);
    expect(config.tabs[0]?.query).toContain('# Listings feed');
  });

  it('serves every asset the page references from this origin, with a content type and long caching', async () => {
    const page = await gateway.app.inject({ method: 'GET', url: '/graphiql' });
    const urls = referencedUrls(page.body);
    expect(urls.length).toBe(6);
    for (const url of urls) {
      expect(url).toMatch(/^\/graphiql\/assets\/[\w.-]+\?v=/);
      const res = await gateway.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      const expected = url.includes('.css?') ? /^text\/css; charset=utf-8$/ : /^text\/javascript/;
      expect(res.headers['content-type'], url).toMatch(expected);
      expect(res.headers['cache-control']).toContain('immutable');
      expect(res.rawPayload.length, url).toBeGreaterThan(50);
      // Fonts and images must be inline data: URIs, never fetched from elsewhere.
      if (url.includes('.css?')) expect(res.body).not.toMatch(/url\(\s*['"]?(?!data:)/);
    }
  });

  it('gzips assets for clients that accept it', async () => {
    const url = '/graphiql/assets/graphiql.min.css';
    const plain = await gateway.app.inject({ method: 'GET', url });
    const zipped = await gateway.app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.rawPayload.length).toBeLessThan(plain.rawPayload.length);
    expect(gunzipSync(zipped.rawPayload).equals(plain.rawPayload)).toBe(true);
    expect(plain.headers['content-encoding']).toBeUndefined();
  });

  it('answers unknown assets and traversal attempts with a JSON 404', async () => {
    for (const url of [
      '/graphiql/assets/nope.js',
      '/graphiql/assets/..%2f..%2fpackage.json',
      '/graphiql/assets/..%2F..%2Fnode_modules%2Freact%2Fpackage.json',
      '/graphiql/assets/../../package.json',
      '/graphiql/assets/__proto__',
      '/graphiql/assets/constructor',
    ]) {
      const res = await gateway.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^application\/json/);
      expect(res.body).not.toContain('"name": "lodestar"');
    }
  });

  it('redirects a browser opening /graphql to the IDE, but not GraphQL clients', async () => {
    const browser = await gateway.app.inject({
      method: 'GET',
      url: '/graphql',
      headers: { accept: browserAccept },
    });
    expect(browser.statusCode).toBe(302);
    expect(browser.headers.location).toBe('/graphiql');

    const withQuery = await gateway.app.inject({
      method: 'GET',
      url: '/graphql?query=%7B__typename%7D',
      headers: { accept: browserAccept, 'apollo-require-preflight': 'true' },
    });
    expect(withQuery.statusCode).toBe(200);
    expect(withQuery.json()).toEqual({ data: { __typename: 'Query' } });

    const client = await gateway.app.inject({
      method: 'GET',
      url: '/graphql',
      headers: { accept: 'application/json' },
    });
    expect(client.statusCode).not.toBe(302);
    expect(client.headers['content-type']).toMatch(/^application\/json/);
  });

  it('is off in production unless GRAPHQL_IDE=true', async () => {
    const production = { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' };
    const off = await createTestGateway(db, production);
    const on = await createTestGateway(db, { ...production, GRAPHQL_IDE: 'true' });
    try {
      expect((await off.app.inject({ method: 'GET', url: '/graphiql' })).statusCode).toBe(404);
      expect((await off.app.inject({ method: 'GET', url: '/graphiql/assets/ide.js' })).statusCode).toBe(404);
      const redirect = await off.app.inject({
        method: 'GET',
        url: '/graphql',
        headers: { accept: browserAccept },
      });
      expect(redirect.statusCode).not.toBe(302);
      expect((await on.app.inject({ method: 'GET', url: '/graphiql' })).statusCode).toBe(200);
    } finally {
      await Promise.all([off.close(), on.close()]);
    }
  });
});

describe('GraphQL IDE page config', () => {
  it('prefills the headers editor with the configured headers', async () => {
    const app = Fastify();
    await registerIde(app, {
      path: '/ide',
      graphqlPath: '/gql',
      headers: { authorization: 'Bearer x' },
    });
    const res = await app.inject({ method: 'GET', url: '/ide' });
    await app.close();
    expect(res.statusCode).toBe(200);
    const config = pageConfig(res.body) as { endpoint: string; headers: string };
    expect(config.endpoint).toBe('/gql');
    expect(JSON.parse(config.headers)).toEqual({ authorization: 'Bearer x' });
    expect(referencedUrls(res.body).every((url) => url.startsWith('/ide/assets/'))).toBe(true);
  });

  it('gives the starting headers (the development token) only to a browser on this machine', async () => {
    const app = Fastify();
    await registerIde(app, { path: '/ide', graphqlPath: '/gql', headers: { authorization: 'Bearer dev' } });
    try {
      const local = await app.inject({ method: 'GET', url: '/ide', remoteAddress: '::1' });
      expect(JSON.parse((pageConfig(local.body) as { headers: string }).headers)).toEqual({
        authorization: 'Bearer dev',
      });
      for (const [remoteAddress, headers] of [
        ['10.1.2.3', {}],
        ['10.1.2.3', { 'x-forwarded-for': '127.0.0.1' }],
        // Relayed by a proxy or tunnel on this machine: loopback peer, someone else's browser.
        ['127.0.0.1', { 'x-forwarded-for': '203.0.113.5' }],
      ] as const) {
        const res = await app.inject({ method: 'GET', url: '/ide', remoteAddress, headers });
        expect(res.statusCode).toBe(200);
        expect((pageConfig(res.body) as { headers: unknown }).headers, remoteAddress).toBeNull();
        expect(res.body).not.toContain('Bearer dev');
      }
    } finally {
      await app.close();
    }
  });

  it('escapes the JSON blob so a value cannot close the script element', () => {
    const html = renderIdePage(
      ideConfig({ graphqlPath: '/graphql', headers: { authorization: 'Bearer </script><script>alert(1)' } }),
      (name) => `/graphiql/assets/${name}`,
    );
    expect(html).toContain('\\u003c/script\\u003e\\u003cscript\\u003ealert(1)');
    expect(html.match(/<\/script>/g)?.length).toBe(5); // four asset scripts and the blob
    expect(JSON.parse((pageConfig(html) as { headers: string }).headers)).toEqual({
      authorization: 'Bearer </script><script>alert(1)',
    });
  });

  it('treats a browser navigation as preferring HTML and API clients as not', () => {
    expect(prefersHtml(browserAccept)).toBe(true);
    expect(prefersHtml('text/html')).toBe(true);
    expect(prefersHtml(undefined)).toBe(false);
    expect(prefersHtml('*/*')).toBe(false);
    expect(prefersHtml('application/json')).toBe(false);
    expect(prefersHtml('application/graphql-response+json, application/json;q=0.9, text/html;q=0.5')).toBe(
      false,
    );
    expect(prefersHtml('text/html;q=0, */*')).toBe(false);
  });
});
