import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with nothing that phones home. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium not found at ${chromiumPath}: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
  }
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

function isLocal(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'data:' || ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

/** Everything that would mean a page is not self-contained or not working. */
export interface Problems {
  blocked: string[];
  failed: string[];
  httpErrors: string[];
  console: string[];
}

/**
 * A fresh browser context and page that may reach only this machine (anything else is aborted and
 * reported), with failed requests, HTTP errors, console errors, CSP violations and script errors
 * collected in `problems`: a working page leaves all four empty.
 */
export async function openPage(
  browser: Browser,
  viewport: { width: number; height: number } = { width: 1400, height: 900 },
): Promise<{ context: BrowserContext; page: Page; problems: Problems }> {
  const problems: Problems = { blocked: [], failed: [], httpErrors: [], console: [] };
  const context = await browser.newContext({ viewport });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    problems.blocked.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  // Generous: the CI machine has 2 cores shared with Postgres and the other test files.
  page.setDefaultTimeout(60_000);
  page.on('requestfailed', (request) =>
    problems.failed.push(`${request.url()}: ${request.failure()?.errorText ?? '?'}`),
  );
  page.on('response', (response) => {
    if (response.status() >= 400) problems.httpErrors.push(`${response.status()} ${response.url()}`);
  });
  // CSP violations and script errors both surface here.
  page.on('console', (message) => {
    if (message.type() === 'error') problems.console.push(message.text());
  });
  page.on('pageerror', (error) => problems.console.push(error.message));
  return { context, page, problems };
}
