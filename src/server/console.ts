import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../platform/logger.js';
import { registerLocalAssets, renderBuiltPage, serveDevTokenPage } from './localAssets.js';

/** Where `npm run build` (build:console, esbuild) writes the console's bundle. */
const BUILT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

/** The console's script fills the navigation and the signed-in admin. */
const HEADER = `<header>
<p class="brand">Lodestar ops console</p>
<nav id="nav" aria-label="Console pages"></nav>
<div class="session"><span id="who"></span><button type="button" id="sign-out">Sign out</button></div>
</header>`;

export interface ConsolePageConfig {
  endpoint: string;
  /** Development: the seeded admin's token, for "Sign in as @admin"; null without one. */
  demoAdminToken: string | null;
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
  serveDevTokenPage(app, options.path, options.demoAdminToken, (demoAdminToken) =>
    renderBuiltPage({
      title: 'Lodestar console',
      header: HEADER,
      loading: '<p>Loading… (if this stays, the console is not built: run <code>npm run build</code>)</p>',
      configId: 'console-config',
      config: { endpoint: options.graphqlPath, demoAdminToken } satisfies ConsolePageConfig,
      styleUrl: assets.url('console.css'),
      scriptUrl: assets.url('console.js'),
    }),
  );
}
