import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../platform/logger.js';
import { registerLocalAssets, renderBuiltPage, serveDevTokenPage } from './localAssets.js';

/** The project folder (src/server or dist/server are two levels below it). */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The page's script, compiled from clients/web/ by `npm run build` (tsc -p clients/web). */
const SCRIPT_FILE = `${projectRoot}dist/web/demo.js`;
/** The example client's trusted-documents manifest: the page sends these operations, by id. */
const MANIFEST_FILE = `${projectRoot}clients/example/manifest.json`;

/** The example client's operations the page runs (clients/example/operations/*.graphql). */
export const DEMO_OPERATIONS = [
  'Me',
  'FeedPage',
  'LikeListing',
  'UnlikeListing',
  'HideListing',
  'RecordFeedback',
] as const;

export interface DemoPageConfig {
  endpoint: string;
  /** Development: the seeded demo user's token, for "Sign in as @demo"; null without one. */
  demoToken: string | null;
  operations: Record<(typeof DEMO_OPERATIONS)[number], { id: string; body: string }>;
}

interface Manifest {
  operations?: { id: string; name: string; body: string }[];
}

function demoOperations(): DemoPageConfig['operations'] {
  const manifest = JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')) as Manifest;
  const byName = new Map((manifest.operations ?? []).map((op) => [op.name, op]));
  const entries = DEMO_OPERATIONS.map((name) => {
    const op = byName.get(name);
    if (!op)
      throw new Error(`clients/example/manifest.json has no ${name} operation (npm run client:generate)`);
    return [name, { id: op.id, body: op.body }] as const;
  });
  return Object.fromEntries(entries) as DemoPageConfig['operations'];
}

const styles = `*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f4f5f8; }
header { position: sticky; top: 0; z-index: 1; display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center;
  padding: .75rem 1rem; background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 1.05rem; font-weight: 600; }
header .who { margin-left: auto; font-size: .9rem; opacity: .9; }
button { font: inherit; cursor: pointer; border-radius: 6px; border: 1px solid #c9cdd8; background: #fff; padding: .3rem .7rem; }
button:disabled { cursor: default; opacity: .55; }
header button { border-color: #4b5468; background: #2c3447; color: #fff; }
main { max-width: 760px; margin: 0 auto; padding: 1rem; }
.notice { margin: 0 0 1rem; padding: .6rem .8rem; border-radius: 6px; background: #fff8e1; border: 1px solid #f0d98c; }
.error { background: #fdecec; border-color: #f3b4b4; }
.signin { display: grid; gap: .75rem; padding: 1rem; background: #fff; border-radius: 8px; border: 1px solid #dde0e8; }
.signin textarea { width: 100%; min-height: 4.5rem; font: 12px ui-monospace, monospace; }
.feed { list-style: none; margin: 0; padding: 0; display: grid; gap: .75rem; }
.card { display: grid; gap: .35rem; padding: .8rem 1rem; background: #fff; border-radius: 8px; border: 1px solid #dde0e8; }
.card h2 { margin: 0; font-size: 1rem; }
.meta { color: #5b6376; font-size: .85rem; }
.tags { display: flex; gap: .35rem; flex-wrap: wrap; }
.tag { font-size: .72rem; text-transform: lowercase; letter-spacing: .02em; padding: .05rem .45rem; border-radius: 999px;
  background: #e8ebf3; color: #39415a; }
.tag.explore { background: #fde7c8; color: #7a4300; }
.tag.fallback { background: #e5e0fa; color: #45337f; }
.tag.similar { background: #d9f2e3; color: #1d5a36; }
.actions { display: flex; gap: .5rem; flex-wrap: wrap; }
.actions .liked { background: #ffe3e8; border-color: #f3a3b3; }
.card.hidden-item, .card.dismissed { opacity: .55; }
.status { margin: 1rem 0; text-align: center; color: #5b6376; font-size: .9rem; }
@media (max-width: 480px) { main { padding: .6rem; } header .who { margin-left: 0; width: 100%; } }
`;

/**
 * The web feed page (development; DEMO_PAGE): the personalised feed with infinite scroll on cursors,
 * like / hide / "not interested" sending the example client's operations by id with idempotency keys.
 * Same-origin assets only, under the IDE's Content-Security-Policy.
 */
export function registerDemo(
  app: FastifyInstance,
  options: { path: string; graphqlPath: string; demoToken?: string | undefined; logger: Logger },
): void {
  const operations = demoOperations();
  // Read once: a rebuilt script is picked up at the next start (the ?v= version changes with it).
  const assets = registerLocalAssets(app, options.path, [
    { name: 'demo.js', type: 'js', file: SCRIPT_FILE },
    { name: 'demo.css', type: 'css', inline: styles },
  ]);
  if (assets.missing.length > 0)
    options.logger.warn({ file: SCRIPT_FILE }, 'the demo page script is not built: run npm run build');
  serveDevTokenPage(app, options.path, options.demoToken, (demoToken) =>
    renderBuiltPage({
      title: 'Lodestar · demo feed',
      header: '<header><h1>Lodestar demo feed</h1></header>',
      loading:
        '<p class="status">Loading… (if this stays, the page\'s script is not built: run <code>npm run build</code>)</p>',
      configId: 'demo-config',
      config: { endpoint: options.graphqlPath, demoToken, operations } satisfies DemoPageConfig,
      styleUrl: assets.url('demo.css'),
      scriptUrl: assets.url('demo.js'),
    }),
  );
}
