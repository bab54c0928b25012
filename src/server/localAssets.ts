import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { acceptsGzip } from './ide/assets.js';

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
 * Serves a page's own assets under `${prefix}/assets/`: an allow-list read once at startup (the name in
 * the URL only ever picks from it, never a path), gzip when the browser takes it, cached for a year under
 * a ?v= content hash. The pages built by `npm run build` (the demo feed, the ops console) use it.
 */
export function registerLocalAssets(app: FastifyInstance, prefix: string, assets: LocalAsset[]): LocalAssets {
  const served = new Map<string, { type: string; body: Buffer; gzipped: Buffer; version: string }>();
  const missing: string[] = [];
  for (const asset of assets) {
    let body: Buffer;
    if ('inline' in asset) body = Buffer.from(asset.inline, 'utf8');
    else if (existsSync(asset.file)) body = readFileSync(asset.file);
    else {
      missing.push(asset.file);
      continue;
    }
    served.set(asset.name, {
      type: contentTypes[asset.type],
      body,
      gzipped: gzipSync(body),
      version: createHash('sha256').update(body).digest('hex').slice(0, 16),
    });
  }
  app.get<{ Params: { name: string } }>(`${prefix}/assets/:name`, async (request, reply) => {
    const asset = served.get(request.params.name);
    if (!asset) return reply.callNotFound();
    const gzip = acceptsGzip(request.headers['accept-encoding']);
    void reply
      .type(asset.type)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding');
    if (gzip) void reply.header('content-encoding', 'gzip');
    return reply.send(gzip ? asset.gzipped : asset.body);
  });
  return {
    url: (name) => `${prefix}/assets/${name}?v=${served.get(name)?.version ?? 'missing'}`,
    missing,
  };
}
