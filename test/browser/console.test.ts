import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/signToken.js';
import { createTokenVerifier } from '../../src/auth/verifyToken.js';
import { createApp } from '../../src/server/app.js';
import type { Services } from '../../src/services/services.js';
import { launchChromium, openPage, type Problems } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  insertCategory,
  insertDiscoveryItem,
  insertInterest,
  insertKernelSample,
  insertListing,
  insertProfile,
} from '../support/fixtures.js';
import { insertExposureRow } from '../support/flagsHarness.js';
import { createTestServices } from '../support/gateway.js';

const PAGES = ['overview', 'queues', 'latency', 'vectors', 'flags', 'experiments', 'audit'] as const;

/** The GraphQL operations the page sent, in order. */
function recordOperations(page: Page): string[] {
  const sent: string[] = [];
  page.on('request', (request) => {
    if (!request.url().endsWith('/graphql') || request.method() !== 'POST') return;
    sent.push((JSON.parse(request.postData() ?? '{}') as { operationName?: string }).operationName ?? '?');
  });
  return sent;
}

/** A page drawn from fresh data: the console marks the page it finished drawing. */
async function showPage(page: Page, name: (typeof PAGES)[number]): Promise<void> {
  await page
    .getByRole('navigation', { name: 'Console pages' })
    .getByRole('link', { exact: true, name: new RegExp(`^${name}$`, 'i') })
    .click();
  await page.locator(`#app[data-page="${name}"]`).waitFor();
}

/** Confirms the open dialog with a reason (the console refuses an empty one first). */
async function confirmWith(page: Page, reason: string): Promise<void> {
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect.poll(async () => dialog.locator('.field-error').textContent()).toContain('Give a reason');
  await dialog.getByLabel('Reason').fill(reason);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.waitFor({ state: 'detached' });
}

const noProblems = (problems: Problems) =>
  expect(problems).toEqual({ blocked: [], failed: [], httpErrors: [], console: [] });

describe('the ops console (/console) in a real browser', () => {
  let db: TestDatabase;
  let services: Services;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  let adminToken: string;
  let userToken: string;

  /** An admin mutation through the API, as setup (a flag, an experiment). */
  const asAdmin = async (query: string, variables: Record<string, unknown> = {}) => {
    const response = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      payload: { query, variables },
    });
    const body = response.json<{ errors?: unknown[] }>();
    expect(body.errors, response.body).toBeUndefined();
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const adminId = await insertProfile(db.pool, { handle: 'admin', role: 'admin' });
    const userId = await insertProfile(db.pool, { handle: 'plain_user' });
    services = await createTestServices(db);
    adminToken = await signToken(services.config.auth, { sub: adminId, role: 'admin' });
    userToken = await signToken(services.config.auth, { sub: userId, role: 'user' });
    // As the development gateway builds it: the seeded admin's token for "Sign in as @admin".
    app = await createApp(services, {
      verifyToken: createTokenVerifier(services.config.auth),
      demoAdminToken: adminToken,
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });

    // A firing alert: discovery_high_retry (more than 10 unfinished items at 3+ attempts).
    const categoryId = await insertCategory(db.pool, 'console-lamps');
    const interestId = await insertInterest(db.pool, { categoryId });
    for (let i = 0; i < 12; i += 1) {
      await insertDiscoveryItem(db.pool, {
        status: 'error',
        attempts: 3,
        interestId,
        lastError: `timeout ${i}`,
      });
    }
    // An hour of history for the charts, as the worker snapshots it (one row per series and minute).
    await db.pool.query(`
      INSERT INTO ops_history (metric, subject, taken_at, value)
      SELECT m.metric, q.subject, date_trunc('minute', now()) - make_interval(mins => g), (60 - g) * m.scale + q.offset_
      FROM generate_series(0, 59) g,
           (VALUES ('queue.queued', 1.0), ('queue.in_flight', 0.2), ('queue.error', 0.1),
                   ('queue.p95_age_sec', 2.0), ('queue.oldest_age_sec', 3.0)) m(metric, scale),
           (VALUES ('events', 0), ('discovery', 5)) q(subject, offset_)`);
    for (let i = 0; i < 40; i += 1) {
      await insertKernelSample(db.pool, {
        kernel: 'feed',
        durationMs: 20 + i,
        ago: `${i} minutes`,
        ok: i % 13 !== 0,
      });
      await insertKernelSample(db.pool, { kernel: 'listings', durationMs: 5 + (i % 7), ago: `${i} minutes` });
    }
    await asAdmin(
      `mutation { saveFlag(key: "new-checkout", description: "The one-page checkout") { flag { key } } }`,
    );
    await asAdmin(
      `mutation { setRollout(key: "new-checkout", rolloutPct: 25, reason: "first cohort") { changed } }`,
    );
    for (let i = 0; i < 30; i += 1) {
      for (const variant of ['on', 'off'] as const) {
        await insertExposureRow(db.pool, {
          flag: 'new-checkout',
          variant,
          requests: 40,
          errors: variant === 'on' ? i % 4 : 0,
          ms: variant === 'on' ? 60 : 35,
          ago: `${i} minutes`,
        });
      }
    }
    await asAdmin(`mutation {
      saveExperiment(input: { key: "feed-policy", active: true, description: "ε-greedy against Thompson",
        arms: [{ name: "egreedy", policy: EPSILON_GREEDY, epsilon: 0.1, weight: 50 },
               { name: "thompson", policy: THOMPSON, weight: 50 }] }, reason: "start the test") { key }
    }`);
    // Logged impressions of both arms (some rewarded) for the CTR and off-policy charts.
    const listingId = await insertListing(db.pool, { categoryId, sellerId: userId, title: 'Console lamp' });
    await db.pool.query(
      `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, reward, context)
       SELECT $1, $2, a.policy, s.source, s.propensity, g % 10, CASE WHEN g % a.every = 0 THEN 1 END,
              jsonb_build_object('experiment', 'feed-policy', 'arm', a.arm)
       FROM generate_series(1, 300) g,
            (VALUES ('egreedy', 'epsilon_greedy', 9), ('thompson', 'thompson', 6)) a(arm, policy, every),
            (VALUES ('SIMILAR', 0.9), ('POPULAR', 0.1)) s(source, propensity)`,
      [userId, listingId],
    );
    browser = await launchChromium();
    await mkdir('test-results', { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await services?.close();
    await db?.drop();
  });

  it(
    'an admin signs in, sees the firing alert first, runs its remedy with a reason, rolls a flag back, and finds both in the audit log',
    { timeout: 180_000 },
    async () => {
      const { context, page, problems } = await openPage(browser, { width: 1280, height: 900 });
      const sent = recordOperations(page);
      try {
        await page.goto(`${base}/console`, { waitUntil: 'load' });
        await page.getByRole('button', { name: 'Sign in as @admin (development)' }).click();
        await page.locator('#app[data-page="overview"]').waitFor();
        await expect.poll(async () => page.locator('#who').textContent()).toBe('@admin');

        // Firing first, with the runbook action and its remedy as a button.
        const first = page.locator('.alerts > li').first();
        expect(await first.getAttribute('data-rule')).toBe('discovery_high_retry');
        expect(await first.locator('.state').textContent()).toBe('FIRING');
        expect(await first.textContent()).toContain('requeueDiscoveryErrors');
        expect(await page.locator('.summary').textContent()).toMatch(/of \d+ alerts firing/);
        await page.screenshot({ path: 'test-results/console-overview.png', fullPage: true });

        await first.getByRole('button', { name: 'requeueDiscoveryErrors' }).click();
        await confirmWith(page, 'the upstream timeout is fixed');
        await expect
          .poll(async () => page.locator('.notice.ok').textContent())
          .toContain('12 item(s) requeued');
        const requeued = await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM marketplace_discovery_queue WHERE status = 'queued'`,
        );
        expect(requeued.rows[0]?.n).toBe(12);
        // Drawn again from fresh data: the alert is quiet now.
        await expect
          .poll(async () =>
            page.locator('.alerts > li[data-rule="discovery_high_retry"] .state').textContent(),
          )
          .toBe('OK');

        // Every page draws, charts included; a screenshot of each.
        for (const name of PAGES.slice(1)) {
          await showPage(page, name);
          if (name === 'queues' || name === 'latency' || name === 'flags') {
            await expect
              .poll(async () => page.locator('figure.chart canvas').count())
              .toBeGreaterThanOrEqual(2);
          }
          if (name === 'experiments') {
            await expect
              .poll(async () => page.locator('.interval-row .dot').count())
              .toBeGreaterThanOrEqual(2);
          }
          await page.screenshot({ path: `test-results/console-${name}.png`, fullPage: true });
        }

        // Flags: roll new-checkout back.
        await showPage(page, 'flags');
        const flag = page.locator('[data-flag="new-checkout"]');
        expect(await flag.locator('.badge').textContent()).toBe('ROLLING');
        await flag.getByRole('button', { name: 'Roll back' }).click();
        await confirmWith(page, 'checkout errors on Android');
        await expect
          .poll(async () => page.locator('.notice.ok').textContent())
          .toContain('rolled back: now 0% ROLLED_BACK');
        const stored = await db.pool.query<{ rollout_pct: number; state: string }>(
          `SELECT rollout_pct, state FROM feature_flags WHERE key = 'new-checkout'`,
        );
        expect(stored.rows[0]).toEqual({ rollout_pct: 0, state: 'rolled_back' });
        expect(await page.locator('[data-flag="new-checkout"] .badge').textContent()).toBe('ROLLED_BACK');

        // Audit: the rollback, by @admin, with its reason; filtered by action.
        await showPage(page, 'audit');
        await page.getByLabel('Action').fill('rollback');
        await page.getByRole('button', { name: 'Filter' }).click();
        await expect.poll(async () => page.locator('table[aria-label="audit log"] tbody tr').count()).toBe(1);
        const row = page.locator('table[aria-label="audit log"] tbody tr').first();
        expect(await row.textContent()).toContain('@admin');
        expect(await row.textContent()).toContain('checkout errors on Android');
        await page.screenshot({ path: 'test-results/console-audit-filtered.png', fullPage: true });
        // The remedy is there too.
        await page.getByLabel('Action').fill('requeueDiscoveryErrors');
        await page.getByRole('button', { name: 'Filter' }).click();
        await expect
          .poll(async () => page.locator('table[aria-label="audit log"] tbody').textContent())
          .toContain('the upstream timeout is fixed');

        // The page works through the public API only, with the admin's token, by manifest id.
        expect(new Set(sent).size).toBeGreaterThan(8);
        expect(sent.every((name) => name.startsWith('Console'))).toBe(true);
        noProblems(problems);
      } finally {
        await context.close();
      }
    },
  );

  it('refuses a normal user’s token and a bad one, and shows no ops data', { timeout: 120_000 }, async () => {
    const { context, page, problems } = await openPage(browser, { width: 1280, height: 900 });
    const sent = recordOperations(page);
    try {
      await page.goto(`${base}/console`, { waitUntil: 'load' });
      await page.getByLabel('Admin token').fill(userToken);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expect
        .poll(async () => page.locator('.notice.error').textContent())
        .toContain('@plain_user is a user, not an admin');
      await page.getByLabel('Admin token').fill('not-a-token');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expect.poll(async () => page.locator('.notice.error').textContent()).toContain('Sign-in failed');
      await page.screenshot({ path: 'test-results/console-refused.png' });
      expect(Number(await page.evaluate('sessionStorage.length'))).toBe(0);
      expect(await page.locator('.alerts, table').count()).toBe(0);
      expect(sent).toEqual(['ConsoleMe', 'ConsoleMe']);
      expect(problems.blocked).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it(
    'works at 390 px: pages fit the screen width, and a reload keeps the session',
    { timeout: 120_000 },
    async () => {
      const { context, page, problems } = await openPage(browser, { width: 390, height: 844 });
      try {
        await page.goto(`${base}/console`, { waitUntil: 'load' });
        await page.getByLabel('Admin token').fill(adminToken);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.locator('#app[data-page="overview"]').waitFor();
        await page.reload({ waitUntil: 'load' });
        await page.locator('#app[data-page="overview"]').waitFor();
        for (const name of ['overview', 'queues', 'flags'] as const) {
          if (name !== 'overview') await showPage(page, name);
          if (name !== 'overview') {
            await expect
              .poll(async () => page.locator('figure.chart canvas').count())
              .toBeGreaterThanOrEqual(2);
          }
          // Nothing wider than the screen but the tables' own scrolling boxes.
          expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(
            390,
          );
          await page.screenshot({ path: `test-results/console-${name}-390.png`, fullPage: true });
        }
        noProblems(problems);
      } finally {
        await context.close();
      }
    },
  );
});
