import http from 'node:http';
import type { Task } from './load.js';

/** A 32-bit integer hash (murmur3's finaliser): well-spread draws from consecutive request numbers. */
export function mix32(n: number): number {
  let x = (n + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export const feedQuery = (first: number) =>
  `{ suggestions(first: ${first}) { edges { node { score source listing { id title price category { name } } } } } }`;

/**
 * POST /graphql over keep-alive connections (one per worker), like a client-side connection pool.
 * A request fails on a non-200 status, a GraphQL `errors` entry, or a page shorter than asked for
 * (every bench viewer has an embedding and the catalogue is large, so pages are always full).
 */
export function createGraphqlClient(baseUrl: string, concurrency: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL('/graphql', baseUrl);

  const post = (body: string, token: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const request = http.request(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            // An empty token: an anonymous request, without the header.
            ...(token === '' ? {} : { authorization: `Bearer ${token}` }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (response.statusCode !== 200)
              reject(new Error(`HTTP ${response.statusCode}: ${text.slice(0, 300)}`));
            else resolve(text);
          });
        },
      );
      request.on('error', reject);
      request.end(body);
    });

  /**
   * A load task for `suggestions(first)`: request `index` is viewer `index mod n`'s, rotating through the
   * viewers' tokens, or with `shuffled` a viewer drawn by a hash of `index` (the same draws every run).
   */
  const feedTask = (first: number, tokens: readonly string[], options: { shuffled?: boolean } = {}): Task => {
    const body = JSON.stringify({ query: feedQuery(first) });
    // Counting edges by their `"score"` key avoids a JSON.parse per response in the load process.
    const edgeCount = (text: string) => text.split('"score":').length - 1;
    const viewerOf = options.shuffled ? (index: number) => mix32(index) : (index: number) => index;
    return async (index) => {
      const text = await post(body, tokens[viewerOf(index) % tokens.length] ?? '');
      if (text.includes('"errors"')) throw new Error(`GraphQL errors: ${text.slice(0, 300)}`);
      const edges = edgeCount(text);
      if (edges !== first) throw new Error(`expected ${first} edges, got ${edges}: ${text.slice(0, 200)}`);
    };
  };

  /**
   * A load task for any query, rotating through the viewers' tokens: fails on GraphQL `errors` or when
   * `check` (given the response text) throws.
   */
  const queryTask = (query: string, tokens: readonly string[], check: (text: string) => void): Task => {
    const body = JSON.stringify({ query });
    return async (index) => {
      const text = await post(body, tokens[index % tokens.length] ?? '');
      if (text.includes('"errors"')) throw new Error(`GraphQL errors: ${text.slice(0, 300)}`);
      check(text);
    };
  };

  return { post, feedTask, queryTask, close: () => agent.destroy() };
}
