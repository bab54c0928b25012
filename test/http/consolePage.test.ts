import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConsole } from '../../src/server/console.js';
import { ideContentSecurityPolicy } from '../../src/server/ide.js';

/** The page's JSON config blob, as the console's script reads it. */
function pageConfig(html: string): unknown {
  const match = /<script type="application\/json" id="console-config">([^<]*)<\/script>/.exec(html);
  if (!match?.[1]) throw new Error('the page has no config blob');
  return JSON.parse(match[1]);
}

const referencedUrls = (html: string): string[] =>
  [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');

describe('the ops console page (/console) over HTTP', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    // dist/web/console.* as `npm run build` makes them: test/support/globalSetup.ts builds them first.
    app = Fastify();
    registerConsole(app, {
      path: '/console',
      graphqlPath: '/graphql',
      demoAdminToken: undefined,
      logger: pino({ level: 'silent' }),
    });
    await app.ready();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  it('serves a page with no data and no secret in it, under the strict CSP, never cached', async () => {
    const res = await app.inject({ method: 'GET', url: '/console' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBe(ideContentSecurityPolicy);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).not.toMatch(/https?:\/\//);
    expect(res.body).not.toMatch(/<script>/);
    expect(pageConfig(res.body)).toEqual({ endpoint: '/graphql', demoAdminToken: null });
    expect(referencedUrls(res.body)).toEqual([
      expect.stringMatching(/^\/console\/assets\/console\.css\?v=[0-9a-f]{16}$/),
      expect.stringMatching(/^\/console\/assets\/console\.js\?v=[0-9a-f]{16}$/),
    ]);
  });

  it('serves its built assets gzipped when asked, cached for good under their content hash', async () => {
    const page = await app.inject({ method: 'GET', url: '/console' });
    for (const url of referencedUrls(page.body)) {
      const plain = await app.inject({ method: 'GET', url });
      expect(plain.statusCode, url).toBe(200);
      expect(plain.headers['content-type']).toMatch(url.includes('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(plain.headers['content-encoding']).toBeUndefined();
      const zipped = await app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip, br' } });
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(zipped.rawPayload).equals(plain.rawPayload)).toBe(true);
      expect(zipped.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
    }
    // uPlot is bundled in, so the page needs nothing from anywhere else.
    const script = await app.inject({ method: 'GET', url: referencedUrls(page.body)[1] ?? '' });
    expect(script.body).toContain('uplot');
  });

  it('gives the development admin token only to a browser on this machine', async () => {
    const dev = Fastify();
    registerConsole(dev, {
      path: '/console',
      graphqlPath: '/graphql',
      demoAdminToken: 'dev-admin-token',
      logger: pino({ level: 'silent' }),
    });
    try {
      for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
        const local = await dev.inject({ method: 'GET', url: '/console', remoteAddress });
        expect(pageConfig(local.body), remoteAddress).toMatchObject({ demoAdminToken: 'dev-admin-token' });
      }
      // A development gateway on 0.0.0.0: another machine gets the page without it, whatever it claims.
      const remote = await dev.inject({
        method: 'GET',
        url: '/console',
        remoteAddress: '10.1.2.3',
        headers: { 'x-forwarded-for': '127.0.0.1' },
      });
      expect(pageConfig(remote.body)).toEqual({ endpoint: '/graphql', demoAdminToken: null });
      expect(remote.body).not.toContain('dev-admin-token');
      // A reverse proxy, tunnel or ngrok on this machine connects from loopback for every visitor: a
      // relayed request gets no token either.
      for (const headers of [
        { 'x-forwarded-for': '203.0.113.5' },
        { forwarded: 'for=203.0.113.5' },
        { 'x-real-ip': '203.0.113.5' },
        { via: '1.1 proxy' },
      ]) {
        const relayed = await dev.inject({
          method: 'GET',
          url: '/console',
          remoteAddress: '127.0.0.1',
          headers,
        });
        expect(relayed.body, JSON.stringify(headers)).not.toContain('dev-admin-token');
      }
    } finally {
      await dev.close();
    }
  });

  it('serves nothing but its allow-list', async () => {
    for (const url of [
      '/console/assets/main.ts',
      '/console/assets/..%2F..%2Fpackage.json',
      '/console/assets/%2E%2E%2Fdemo.js',
      '/console/assets/',
    ]) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    }
  });
});
