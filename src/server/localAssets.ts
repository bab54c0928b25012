import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { fromLoopback, sendLocalPage } from './ide.js';
import { once, serveAssets, type Asset } from './ide/assets.js';
import { jsonForScript } from './ide/page.js';

const gzipAsync = promisify(gzip);

const contentTypes = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
} as const;

export type LocalAsset =
  | { name: string; type: keyof typeof contentTypes; file: string }
  | { name: string; type: keyof typeof contentTypes; inline: string };

export interface LocalAssets {
  /** The asset's URL with a content hash (?v=), so it can be cached for good; "missing" when not built. */
  url: (name: string) => string;
  /** Files that are not there (not built yet): the page says so instead of failing to start. */
  missing: string[];
}

/**
 * Serves a page's own assets (the files `npm run build` makes for the demo feed and the ops console) under
 * `${prefix}/assets/`, through the IDE's asset route: an allow-list read once at startup (its content
 * hash is the ?v= version), gzipped on first request.
 */
export function registerLocalAssets(app: FastifyInstance, prefix: string, assets: LocalAsset[]): LocalAssets {
  const served = new Map<string, Asset>();
  const missing: string[] = [];
  for (const asset of assets) {
    let content: Buffer;
    if ('inline' in asset) content = Buffer.from(asset.inline, 'utf8');
    else if (existsSync(asset.file)) content = readFileSync(asset.file);
    else {
      missing.push(asset.file);
      continue;
    }
    const body = async () => content;
    served.set(asset.name, {
      contentType: contentTypes[asset.type],
      version: createHash('sha256').update(content).digest('hex').slice(0, 16),
      body,
      gzipped: once(() => gzipAsync(content)),
    });
  }
  serveAssets(app, prefix, served);
  return {
    url: (name) => `${prefix}/assets/${name}?v=${served.get(name)?.version ?? 'missing'}`,
    missing,
  };
}

/**
 * A page built by `npm run build` (the demo feed, the ops console): its header, a JSON blob of its config
 * under `configId`, its stylesheet and one module script, which draws everything into <main id="app">.
 */
export function renderBuiltPage(page: {
  title: string;
  header: string;
  /** What <main> says until the script runs: whose build is missing if it never does. */
  loading: string;
  configId: string;
  config: unknown;
  styleUrl: string;
  scriptUrl: string;
}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title}</title>
<link rel="stylesheet" href="${page.styleUrl}">
</head>
<body>
${page.header}
<main id="app">${page.loading}</main>
<script type="application/json" id="${page.configId}">${jsonForScript(page.config)}</script>
<script type="module" src="${page.scriptUrl}"></script>
</body>
</html>
`;
}

/**
 * GET `path`: the page as `render` makes it, rendered once with the development token for a browser on
 * this machine (fromLoopback) and once without it for anyone else, so a development gateway listening on
 * 0.0.0.0 hands a stranger no token.
 */
export function serveDevTokenPage(
  app: FastifyInstance,
  path: string,
  token: string | undefined,
  render: (token: string | null) => string,
): void {
  const withToken = render(token ?? null);
  const withoutToken = render(null);
  app.get(path, async (request, reply) =>
    sendLocalPage(reply, fromLoopback(request) ? withToken : withoutToken),
  );
}
