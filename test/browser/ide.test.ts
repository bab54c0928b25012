import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/auth/verifyToken.js';
import { createApp } from '../../src/server/app.js';
import type { Services } from '../../src/services/services.js';
import { launchChromium, openPage } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertCategory, insertListing, insertProfile } from '../support/fixtures.js';
import { createTestGateway, createTestServices, type TestGateway } from '../support/gateway.js';

const screenshotPath = 'test-results/graphiql.png';
const titles = ['Lantern in brass', 'Walnut side table', 'Folding bicycle'];

/** Runs the active tab and waits until the response pane shows data containing `expected`. */
async function runActiveTab(page: Page, expected: string): Promise<string> {
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.graphiql-response .result-window');
  await expect
    .poll(async () => (await result.textContent()) ?? '', { timeout: 60_000, interval: 250 })
    .toContain(expected);
  const text = (await result.textContent()) ?? '';
  expect(text).toContain('"data"');
  return text;
}

describe('GraphQL IDE in a real browser', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let devApp: FastifyInstance | undefined;
  let devServices: Services | undefined;
  let browser: Browser;
  let sellerId: string;
  const sellerHandle = 'ide_seller';

  beforeAll(async () => {
    db = await createTestDatabase();
    const categoryId = await insertCategory(db.pool, 'ide-lamps');
    sellerId = await insertProfile(db.pool, { handle: sellerHandle, displayName: 'IDE Seller' });
    for (const title of titles) await insertListing(db.pool, { categoryId, sellerId, title });
    gateway = await createTestGateway(db);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await devApp?.close();
    await devServices?.close();
    await gateway?.close();
    await db?.drop();
  });

  it(
    'opens from /graphql, loads only local assets and runs the Feed example',
    { timeout: 120_000 },
    async () => {
      const base = await gateway.app.listen({ host: '127.0.0.1', port: 0 });
      const { context, page, problems } = await openPage(browser);
      try {
        // A browser navigating to the endpoint is redirected to the IDE.
        await page.goto(`${base}/graphql`, { waitUntil: 'load' });
        expect(new URL(page.url()).pathname).toBe('/graphiql');

        const editor = page.locator('.graphiql-query-editor .CodeMirror');
        await editor.waitFor({ state: 'visible', timeout: 60_000 });
        await expect.poll(async () => (await editor.textContent()) ?? '').toContain('query Feed(');
        const tabs = await page.locator('.graphiql-tab-button').allTextContents();
        expect(tabs.map((tab) => tab.trim())).toEqual(['Feed', 'Me', 'SchemaMigrations']);
        expect((await page.locator('.graphiql-tab-active').textContent()) ?? '').toContain('Feed');

        const text = await runActiveTab(page, titles[2]!);
        expect(text).toContain(sellerHandle);
        await mkdir('test-results', { recursive: true });
        await page.screenshot({ path: screenshotPath });

        expect(problems).toEqual({ blocked: [], failed: [], httpErrors: [], console: [] });
      } finally {
        await context.close();
      }
    },
  );

  it('starts with the configured Authorization header and sends it', { timeout: 120_000 }, async () => {
    // createTestGateway passes no IDE headers, so this app is built as the development gateway does.
    const config = gateway.config;
    devServices = await createTestServices(db);
    devApp = await createApp(devServices, {
      verifyToken: createTokenVerifier(config.auth),
      ideHeaders: { authorization: `Bearer ${await gateway.token({ sub: sellerId, role: 'user' })}` },
    });
    const base = await devApp.listen({ host: '127.0.0.1', port: 0 });
    const { context, page, problems } = await openPage(browser);
    try {
      await page.goto(`${base}/graphiql`, { waitUntil: 'load' });
      await page.locator('.graphiql-tab-button', { hasText: 'Me' }).click();
      const queryEditor = page.locator('.graphiql-query-editor .CodeMirror');
      await expect.poll(async () => (await queryEditor.textContent()) ?? '').toContain('query Me');
      // The headers editor is open because headers were given.
      const headersText =
        (await page.locator('.graphiql-editor-tool .CodeMirror').last().textContent()) ?? '';
      expect(headersText).toContain('"authorization": "Bearer ey');

      const text = await runActiveTab(page, sellerHandle);
      expect(text).toContain('"role": "USER"');
      expect(problems).toEqual({ blocked: [], failed: [], httpErrors: [], console: [] });
    } finally {
      await context.close();
    }
  });
});
