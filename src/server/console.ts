import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../platform/logger.js';
import { fromLoopback, sendLocalPage } from './ide.js';
import { jsonForScript } from './ide/page.js';
import { registerLocalAssets } from './localAssets.js';

/** Where `npm run build` (build:console, esbuild) writes the console's bundle. */
const BUILT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

export interface ConsolePageConfig {
  endpoint: string;
  /** Development: the seeded admin's token, for "Sign in as @admin"; null without one. */
  demoAdminToken: string | null;
}

function renderPage(config: ConsolePageConfig, scriptUrl: string, styleUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lodestar console</title>
<link rel="stylesheet" href="${styleUrl}">
</head>
<body>
<header>
<p class="brand">Lodestar ops console</p>
<nav id="nav" aria-label="Console pages"></nav>
<div class="session"><span id="who"></span><button type="button" id="sign-out">Sign out</button></div>
</header>
<main id="app"><p>Loading… (if this stays, the console is not built: run <code>npm run build</code>)</p></main>
<script type="application/json" id="console-config">${jsonForScript(config)}</script>
<script type="module" src="${scriptUrl}"></script>
</body>
</html>
`;
}

/**
 * The ops console (docs/console.md): the runbook as pages — alerts, queues, latency, vectors, flags,
 * experiments, audit — drawn in the browser from the public GraphQL API with an admin's token. The page
 * holds no data and no secret (outside development, where a browser on this machine gets the demo
 * admin's token), so serving it is safe; every request it makes is refused to anyone but an admin.
 */
export function registerConsole(
  app: FastifyInstance,
  options: { path: string; graphqlPath: string; demoAdminToken?: string | undefined; logger: Logger },
): void {
  const assets = registerLocalAssets(app, options.path, [
    { name: 'console.js', type: 'js', file: `${BUILT}console.js` },
    { name: 'console.css', type: 'css', file: `${BUILT}console.css` },
    // Named by the bundles' sourceMappingURL comments; fetched only with developer tools open.
    { name: 'console.js.map', type: 'map', file: `${BUILT}console.js.map` },
    { name: 'console.css.map', type: 'map', file: `${BUILT}console.css.map` },
  ]);
  if (assets.missing.length > 0) {
    options.logger.warn({ files: assets.missing }, 'the ops console is not built: run npm run build');
  }
  const page = (demoAdminToken: string | null) =>
    renderPage(
      { endpoint: options.graphqlPath, demoAdminToken },
      assets.url('console.js'),
      assets.url('console.css'),
    );
  const withToken = page(options.demoAdminToken ?? null);
  const withoutToken = page(null);
  // The demo admin's token only to this machine's own browser (see fromLoopback).
  app.get(options.path, async (request, reply) =>
    sendLocalPage(reply, fromLoopback(request) ? withToken : withoutToken),
  );
}
