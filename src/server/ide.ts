import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { loadAssets, serveAssets } from './ide/assets.js';
import { ideConfig, renderIdePage } from './ide/page.js';

export interface IdeOptions {
  /** Where the IDE page is served, e.g. /graphiql */
  path: string;
  /** The GraphQL endpoint the IDE talks to, e.g. /graphql */
  graphqlPath: string;
  /** Headers the IDE starts with (development: the demo user's bearer token). */
  headers?: Record<string, string> | undefined;
}

/**
 * Everything comes from this origin. Styles are same-origin files too; CodeMirror and React set
 * inline styles through the CSSOM, which style-src does not restrict.
 */
export const ideContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * A page of the gateway's own (the IDE, the demo feed): never stored by a cache (it may hold a demo
 * token), everything it loads from this origin (the CSP above), no MIME sniffing, no Referer.
 */
export function sendLocalPage(reply: FastifyReply, html: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', ideContentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(html);
}

/** Headers a proxy adds: a request that carries any of them was relayed, whatever its TCP peer. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'];

/**
 * Whether the request comes from a browser on this machine: the TCP peer is loopback (not a
 * forwarded-for header a caller could write) and nothing says it was relayed. A reverse proxy, tunnel or
 * ngrok on the same host connects from loopback for every visitor, so a request with a forwarding header
 * never counts, TRUSTED_PROXIES or not. Development pages hand out the demo accounts' tokens only to
 * such requests, so a development gateway on 0.0.0.0 or behind a proxy gives a stranger no token.
 */
export function fromLoopback(request: FastifyRequest): boolean {
  const address = request.socket.remoteAddress ?? '';
  const loopback = address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
  return loopback && FORWARDING_HEADERS.every((name) => request.headers[name] === undefined);
}

/** The q-value the Accept header gives a media type (most specific matching range wins). */
function quality(accept: string, type: string): number {
  const [major] = type.split('/');
  let best = { specificity: -1, q: 0 };
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().toLowerCase().split(';');
    const specificity = range === type ? 2 : range === `${major}/*` ? 1 : range === '*/*' ? 0 : -1;
    if (specificity <= best.specificity) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    best = { specificity, q: q === undefined ? 1 : Number(q.slice(2)) || 0 };
  }
  return best.q;
}

/** A browser navigating to the endpoint, as opposed to a GraphQL client (which prefers JSON). */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = quality(accept, 'text/html');
  const json = Math.max(
    quality(accept, 'application/json'),
    quality(accept, 'application/graphql-response+json'),
  );
  return html > 0 && html > json;
}

function hasQueryParameter(request: FastifyRequest): boolean {
  const search = request.url.indexOf('?');
  return search >= 0 && new URLSearchParams(request.url.slice(search + 1)).has('query');
}

/** Serves the in-browser GraphQL IDE with every asset from installed packages (no CDN). */
export async function registerIde(app: FastifyInstance, options: IdeOptions): Promise<void> {
  const assets = loadAssets();
  const assetUrl = (name: string): string => {
    const asset = assets.get(name);
    if (!asset) throw new Error(`unknown IDE asset ${name}`);
    return `${options.path}/assets/${name}?v=${encodeURIComponent(asset.version)}`;
  };
  // Rendered once with the starting headers (development: the demo user's token) for a browser on this
  // machine, once without them for anyone else (fromLoopback); never cached.
  const withHeaders = renderIdePage(ideConfig(options), assetUrl);
  const withoutHeaders = renderIdePage(ideConfig({ ...options, headers: undefined }), assetUrl);

  app.get(options.path, async (request, reply) =>
    sendLocalPage(reply, fromLoopback(request) ? withHeaders : withoutHeaders),
  );

  serveAssets(app, options.path, assets);

  // The /graphql route is added after this, so the redirect is a hook that checks the matched route.
  app.addHook('onRequest', async (request, reply) => {
    if (
      request.method === 'GET' &&
      request.routeOptions.url === options.graphqlPath &&
      prefersHtml(request.headers.accept) &&
      !hasQueryParameter(request)
    ) {
      return reply.redirect(options.path, 302);
    }
  });
}
