import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { bootstrapScript, pageStyles } from './client.js';

const require = createRequire(import.meta.url);
const gzipAsync = promisify(gzip);

const types = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
} as const;

type Source =
  { type: keyof typeof types; package: string; file: string } | { type: keyof typeof types; inline: string };

/**
 * The complete allow-list: the URL name is only ever a key into this table, never part of a path,
 * so a request cannot reach any other file. GraphiQL's CSS embeds its fonts as data: URIs and the
 * bundle fetches nothing else, so these files are everything the page loads.
 */
const sources: Record<string, Source> = {
  'react.production.min.js': { type: 'js', package: 'react', file: 'umd/react.production.min.js' },
  'react-dom.production.min.js': {
    type: 'js',
    package: 'react-dom',
    file: 'umd/react-dom.production.min.js',
  },
  'graphiql.min.js': { type: 'js', package: 'graphiql', file: 'graphiql.min.js' },
  'graphiql.min.css': { type: 'css', package: 'graphiql', file: 'graphiql.min.css' },
  // Referenced by the bundles' sourceMappingURL comments; browsers fetch them only with devtools open.
  'graphiql.min.js.map': { type: 'map', package: 'graphiql', file: 'graphiql.min.js.map' },
  'graphiql.min.css.map': { type: 'map', package: 'graphiql', file: 'graphiql.min.css.map' },
  'ide.js': { type: 'js', inline: bootstrapScript },
  'ide.css': { type: 'css', inline: pageStyles },
};

export interface Asset {
  contentType: string;
  /** Changes whenever the content can: used as a ?v= cache buster so assets can be cached forever. */
  version: string;
  body: () => Promise<Buffer>;
  gzipped: () => Promise<Buffer>;
}

/** Caches a lazy load, but forgets a failure so a transient read error is retried next time. */
export function once(load: () => Promise<Buffer>): () => Promise<Buffer> {
  let pending: Promise<Buffer> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

/**
 * React and react-dom have export maps that hide umd/, so the file is found relative to the
 * package's (exported) package.json rather than by resolving the file itself.
 */
function packageFile(name: string, file: string): { path: string; version: string } {
  const manifestPath = require.resolve(`${name}/package.json`);
  const manifest = require(manifestPath) as { version?: unknown };
  const path = join(dirname(manifestPath), file);
  if (!existsSync(path)) throw new Error(`the GraphQL IDE needs ${name}/${file}, which is not installed`);
  return { path, version: `${name}@${String(manifest.version)}` };
}

/**
 * Resolves every allow-listed file up front so a missing package fails at startup, not at the
 * first page view; the (multi-megabyte) contents are read on first request only.
 */
export function loadAssets(): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, source] of Object.entries(sources)) {
    let version: string;
    let read: () => Promise<Buffer>;
    if ('inline' in source) {
      const buffer = Buffer.from(source.inline, 'utf8');
      version = createHash('sha256').update(buffer).digest('hex').slice(0, 16);
      read = async () => buffer;
    } else {
      const file = packageFile(source.package, source.file);
      version = file.version;
      read = () => readFile(file.path);
    }
    const body = once(read);
    assets.set(name, {
      contentType: types[source.type],
      version,
      body,
      gzipped: once(async () => gzipAsync(await body())),
    });
  }
  return assets;
}

/** True when the client accepts gzip (and did not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding?.trim() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * GET `${prefix}/assets/:name` for a page's allow-listed assets (the IDE, the demo feed, the console):
 * the name only ever picks from the map, never a path; gzip when the browser takes it; cached for a year
 * (pages link them under a ?v= version).
 */
export function serveAssets(app: FastifyInstance, prefix: string, assets: ReadonlyMap<string, Asset>): void {
  app.get<{ Params: { name: string } }>(`${prefix}/assets/:name`, async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) return reply.callNotFound();
    const gzip = acceptsGzip(request.headers['accept-encoding']);
    void reply
      .type(asset.contentType)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding');
    if (gzip) void reply.header('content-encoding', 'gzip');
    return reply.send(gzip ? await asset.gzipped() : await asset.body());
  });
}
