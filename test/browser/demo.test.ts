import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/signToken.js';
import { createTokenVerifier } from '../../src/auth/verifyToken.js';
import { createApp } from '../../src/server/app.js';
import type { Services } from '../../src/services/services.js';
import { launchChromium, openPage } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  embeddingFor,
  insertCategory,
  insertInterest,
  insertListing,
  insertProfile,
  insertUserInterest,
  toVectorLiteral,
} from '../support/fixtures.js';
import { createTestServices } from '../support/gateway.js';

const require = createRequire(import.meta.url);

/** The GraphQL requests the page sent: operation, whether the document went along, idempotency key. */
interface SentRequest {
  operationName: string;
  withDocument: boolean;
  idempotencyKey: string | undefined;
  authorization: string | undefined;
}

/** The page (test/support/browser.ts) with the GraphQL requests it sends recorded in `sent`. */
async function openDemo(browser: Browser, viewport: { width: number; height: number }) {
  const opened = await openPage(browser, viewport);
  const sent: SentRequest[] = [];
  opened.page.on('request', (request) => {
    if (!request.url().endsWith('/graphql') || request.method() !== 'POST') return;
    const body = JSON.parse(request.postData() ?? '{}') as { operationName: string; query?: string };
    const headers = request.headers();
    sent.push({
      operationName: body.operationName,
      withDocument: typeof body.query === 'string',
      idempotencyKey: headers['idempotency-key'],
      authorization: headers.authorization,
    });
  });
  return { ...opened, sent };
}

/** An attribute of every card of the feed, in order. */
async function cardAttributes(page: Page, name: string): Promise<string[]> {
  const cards = await page.locator('.feed .card').all();
  return Promise.all(cards.map(async (card) => (await card.getAttribute(name)) ?? ''));
}

describe('the web feed page (/demo) in a real browser', () => {
  let db: TestDatabase;
  let services: Services;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  let viewerId: string;
  const handle = 'demo';

  beforeAll(async () => {
    // The page's script as `npm run build` makes it, from this checkout's clients/web.
    await promisify(execFile)(process.execPath, [
      require.resolve('typescript/bin/tsc'),
      '-p',
      'clients/web/tsconfig.json',
    ]);
    db = await createTestDatabase();
    const categories = [
      await insertCategory(db.pool, 'demo-lamps'),
      await insertCategory(db.pool, 'demo-bikes'),
      await insertCategory(db.pool, 'demo-books'),
    ];
    const seller = await insertProfile(db.pool, { handle: 'demo_seller' });
    // Enough that the tests together (each serves pages the next ones no longer get) never run the feed dry.
    for (let i = 0; i < 160; i += 1) {
      await insertListing(db.pool, {
        categoryId: categories[i % 3] ?? 0,
        sellerId: seller,
        embedding: embeddingFor(i),
        title: `Demo listing ${i}`,
      });
    }
    viewerId = await insertProfile(db.pool, { handle });
    const interest = await insertInterest(db.pool, {
      categoryId: categories[0] ?? 0,
      embedding: embeddingFor(1),
    });
    await insertUserInterest(db.pool, { userId: viewerId, interestId: interest, affinity: 1 });
    await db.pool.query(`UPDATE profiles SET embedding = $2::vector WHERE user_id = $1`, [
      viewerId,
      toVectorLiteral(embeddingFor(1)),
    ]);
    await db.pool.query('ANALYZE');

    services = await createTestServices(db);
    // As the development gateway builds it: the demo user's token for "Sign in as @demo".
    app = await createApp(services, {
      verifyToken: createTokenVerifier(services.config.auth),
      demoToken: await signToken(services.config.auth, { sub: viewerId, role: 'user' }),
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
    await mkdir('test-results', { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await services?.close();
    await db?.drop();
  });

  it(
    'signs in as the demo user, scrolls two pages without a repeat, likes, hides and dismisses',
    { timeout: 180_000 },
    async () => {
      const { context, page, problems, sent } = await openDemo(browser, { width: 1280, height: 900 });
      try {
        await page.goto(`${base}/demo`, { waitUntil: 'load' });
        await page.getByRole('button', { name: 'Sign in as @demo' }).click();
        await expect.poll(async () => page.locator('header .who').textContent()).toContain(`@${handle}`);
        await expect.poll(async () => page.locator('.feed .card').count()).toBeGreaterThanOrEqual(10);
        await page.screenshot({ path: 'test-results/demo-feed.png' });

        // Infinite scroll: the sentinel at the bottom loads the next page on its cursor.
        for (let pages = 1; pages < 3; pages += 1) {
          await page.locator('.status').scrollIntoViewIfNeeded();
          await expect
            .poll(async () => Number(await page.locator('.feed').getAttribute('data-pages')))
            .toBeGreaterThan(pages);
        }
        const ids = await cardAttributes(page, 'data-listing-id');
        expect(ids.length).toBeGreaterThanOrEqual(30);
        expect(new Set(ids).size).toBe(ids.length);
        expect(await page.locator('.tag', { hasText: 'repeat' }).count()).toBe(0);
        // Every card says where it came from (SIMILAR, EXPLORE, POPULAR, …).
        const sources = await cardAttributes(page, 'data-source');
        expect(sources.every((s) => ['SIMILAR', 'EXPLORE', 'POPULAR', 'RECENT', 'GLOBAL'].includes(s))).toBe(
          true,
        );
        expect(await page.locator('.feed .card .tag').count()).toBeGreaterThanOrEqual(ids.length);

        await page.evaluate('window.scrollTo(0, 0)');
        const [first, second, third] = ids;
        const card = (id: string | undefined) => page.locator(`.feed .card[data-listing-id="${id}"]`);
        await card(first).getByRole('button', { name: '♡ Like' }).click();
        await expect.poll(async () => card(first).getAttribute('data-liked')).toBe('true');
        await expect(card(first).getByText('1 like', { exact: true }).count()).resolves.toBe(1);
        await card(second).getByRole('button', { name: 'Hide' }).click();
        await expect.poll(async () => card(second).getAttribute('data-hidden')).toBe('true');
        await card(third).getByRole('button', { name: 'Not interested' }).click();
        await expect.poll(async () => card(third).getAttribute('data-dismissed')).toBe('true');
        await page.screenshot({ path: 'test-results/demo-actions.png' });

        // The writes reached the database, once each.
        const liked = await db.pool.query('SELECT 1 FROM likes WHERE user_id = $1 AND listing_id = $2', [
          viewerId,
          Number(first),
        ]);
        expect(liked.rowCount).toBe(1);
        const hidden = await db.pool.query(
          'SELECT 1 FROM hidden_listings WHERE user_id = $1 AND listing_id = $2',
          [viewerId, Number(second)],
        );
        expect(hidden.rowCount).toBe(1);

        // How it spoke: every write with its own idempotency key, everything with the token, and each
        // operation's document sent at most once (afterwards its id alone: persisted queries).
        // A write the gateway does not know by id yet is sent again with its document, under the same key.
        const writes = sent.filter((s) =>
          ['LikeListing', 'HideListing', 'RecordFeedback'].includes(s.operationName),
        );
        expect(writes.every((w) => /^[0-9a-f-]{36}$/.test(w.idempotencyKey ?? ''))).toBe(true);
        const keysByOperation = new Map<string, Set<string | undefined>>();
        for (const w of writes) {
          keysByOperation.set(
            w.operationName,
            (keysByOperation.get(w.operationName) ?? new Set()).add(w.idempotencyKey),
          );
        }
        expect([...keysByOperation.values()].map((keys) => keys.size)).toEqual([1, 1, 1]);
        expect(new Set(writes.map((w) => w.idempotencyKey)).size).toBe(3);
        expect(sent.every((s) => s.authorization?.startsWith('Bearer '))).toBe(true);
        const feedRequests = sent.filter((s) => s.operationName === 'FeedPage');
        expect(feedRequests.length).toBeGreaterThanOrEqual(4);
        expect(feedRequests.filter((s) => s.withDocument).length).toBeLessThanOrEqual(1);

        expect(problems).toEqual({ blocked: [], failed: [], httpErrors: [], console: [] });
      } finally {
        await context.close();
      }
    },
  );

  it('works at phone width, keeps the sign-in for the tab, and signs out', { timeout: 120_000 }, async () => {
    const { context, page, problems } = await openPage(browser, { width: 390, height: 844 });
    try {
      await page.goto(`${base}/demo`, { waitUntil: 'load' });
      await page.screenshot({ path: 'test-results/demo-signin.png' });
      await page.getByRole('button', { name: 'Sign in as @demo' }).click();
      await expect.poll(async () => page.locator('.feed .card').count()).toBeGreaterThanOrEqual(1);
      // No horizontal scrolling at 390 pixels.
      expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
      await page.screenshot({ path: 'test-results/demo-mobile.png' });
      await page.reload({ waitUntil: 'load' });
      await expect.poll(async () => page.locator('header .who').textContent()).toContain(`@${handle}`);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await expect(page.getByRole('button', { name: 'Sign in as @demo' }).count()).resolves.toBe(1);
      expect(await page.evaluate("sessionStorage.getItem('lodestar-demo-token')")).toBeNull();
      expect(problems).toEqual({ blocked: [], failed: [], httpErrors: [], console: [] });
    } finally {
      await context.close();
    }
  });

  it(
    'a failing page stops the scrolling and offers Retry; a refused token goes back to sign-in',
    { timeout: 120_000 },
    async () => {
      const { context, page, sent } = await openDemo(browser, { width: 1280, height: 900 });
      try {
        await page.goto(`${base}/demo`, { waitUntil: 'load' });
        await page.getByRole('button', { name: 'Sign in as @demo' }).click();
        await expect.poll(async () => page.locator('.feed .card').count()).toBeGreaterThanOrEqual(10);
        // From now on every feed page fails on the server.
        let failWith = 'INTERNAL_SERVER_ERROR';
        await page.route('**/graphql', async (route) => {
          const body = JSON.parse(route.request().postData() ?? '{}') as { operationName?: string };
          if (body.operationName !== 'FeedPage') return route.continue();
          return route.fulfill({
            status: 200,
            contentType: 'application/json',
            body: JSON.stringify({
              errors: [{ message: 'the feed is down', extensions: { code: failWith } }],
            }),
          });
        });
        const before = sent.filter((s) => s.operationName === 'FeedPage').length;
        await page.locator('.status').scrollIntoViewIfNeeded();
        await expect.poll(async () => page.getByRole('button', { name: 'Retry' }).count()).toBe(1);
        // The sentinel stays in view, and still no second request: no loop against the error.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        expect(sent.filter((s) => s.operationName === 'FeedPage').length - before).toBe(1);
        expect(await page.locator('.status').textContent()).toContain('INTERNAL_SERVER_ERROR');

        // Retry with the feed back: the next page loads.
        await page.unroute('**/graphql');
        await page.getByRole('button', { name: 'Retry' }).click();
        await expect
          .poll(async () => Number(await page.locator('.feed').getAttribute('data-pages')))
          .toBeGreaterThanOrEqual(2);

        // A token the gateway refuses (expired, say): back to the sign-in screen, saying why, once.
        failWith = 'UNAUTHENTICATED';
        await page.route('**/graphql', async (route) => {
          const body = JSON.parse(route.request().postData() ?? '{}') as { operationName?: string };
          if (body.operationName !== 'FeedPage') return route.continue();
          return route.fulfill({
            status: 401,
            contentType: 'application/json',
            body: JSON.stringify({
              errors: [{ message: 'the token expired', extensions: { code: failWith } }],
            }),
          });
        });
        await page.locator('.status').scrollIntoViewIfNeeded();
        await expect.poll(async () => page.getByRole('button', { name: 'Sign in as @demo' }).count()).toBe(1);
        await expect.poll(async () => page.getByRole('alert').textContent()).toContain('UNAUTHENTICATED');
        const feedRequests = sent.filter((s) => s.operationName === 'FeedPage').length;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(sent.filter((s) => s.operationName === 'FeedPage').length).toBe(feedRequests);
      } finally {
        await context.close();
      }
    },
  );

  it('serves the page under a strict CSP with the token never cached, and a pasted bad token is refused clearly', async () => {
    const response = await fetch(`${base}/demo`);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).toMatch(/<script type="module" src="\/demo\/assets\/demo\.js\?v=[0-9a-f]{16}">/);
    const script = await fetch(`${base}${/src="(\/demo\/assets\/demo\.js[^"]+)"/.exec(html)?.[1] ?? ''}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('text/javascript');

    const { context, page } = await openPage(browser, { width: 1280, height: 900 });
    try {
      await page.goto(`${base}/demo`, { waitUntil: 'load' });
      await page.getByRole('textbox', { name: 'Bearer token' }).fill('Bearer not-a-token');
      await page.getByRole('button', { name: 'Sign in with this token' }).click();
      await expect.poll(async () => page.getByRole('alert').textContent()).toContain('UNAUTHENTICATED');
      await expect(page.getByRole('button', { name: 'Sign in with this token' }).count()).resolves.toBe(1);
    } finally {
      await context.close();
    }
  });
});
