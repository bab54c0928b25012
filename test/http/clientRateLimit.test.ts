import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testRedisUrl } from '../support/env.js';
import { createFeedViewer, seedFeedWorld } from '../support/feedWorld.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { parseJson, type GraphQLBody } from '../support/http.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';
import { createPrefixedRedis } from '../support/socialWorld.js';

const READS = 5;
const FEED = 3;
const LISTINGS = '{ listings(first: 1) { edges { node { id } } } }';
const SEARCH = '{ interests(first: 1, search: "a") { edges { node { id } } } }';
const FEED_PAGE = '{ suggestions(first: 2) { edges { node { impressionId } } } }';

/**
 * Issue 13, item 6: reads are rate-limited per client — the user, or for anonymous callers the client
 * address, taken from X-Forwarded-For only when the socket peer is a trusted proxy.
 */
describe('per-client read budgets', () => {
  let db: TestDatabase;
  let direct: TestGateway;
  let proxied: TestGateway;
  let redis: Awaited<ReturnType<typeof createPrefixedRedis>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedFeedWorld(db.pool, [10, 10]);
    const prefix = `lodestar:t:${db.name}:`;
    redis = await createPrefixedRedis(testRedisUrl, prefix);
    const env = {
      REDIS_URL: testRedisUrl,
      REDIS_KEY_PREFIX: prefix,
      REDIS_COMMAND_TIMEOUT_MS: '1000',
      RATE_LIMIT_READS_PER_MIN: String(READS),
      RATE_LIMIT_FEED_PER_MIN: String(FEED),
    };
    direct = await createTestGateway(db, env);
    proxied = await createTestGateway(db, { ...env, TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.7' });
  });

  beforeEach(async () => {
    await awayFromWindowEdge();
  });

  afterAll(async () => {
    await direct?.close();
    await proxied?.close();
    await redis?.flush();
    redis?.close();
    await db?.drop();
  });

  /** One POST from `peer` (the socket address), with optional headers. */
  const post = async (
    gateway: TestGateway,
    query: string,
    peer: string,
    headers: Record<string, string> = {},
  ) => {
    const response = await gateway.app.inject({
      method: 'POST',
      url: '/graphql',
      remoteAddress: peer,
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify({ query }),
    });
    const body = parseJson<GraphQLBody<unknown>>(response.body);
    return { status: response.statusCode, code: body.errors?.[0]?.extensions?.code ?? 'ok' };
  };
  const statuses = async (n: number, call: () => Promise<{ status: number }>) => {
    const seen: number[] = [];
    for (let i = 0; i < n; i += 1) seen.push((await call()).status);
    return seen;
  };

  it('an anonymous client over the read budget gets 429 RATE_LIMITED, whatever the field', async () => {
    const peer = '203.0.113.5';
    expect(await statuses(READS - 1, () => post(direct, LISTINGS, peer))).toEqual([200, 200, 200, 200]);
    expect(await post(direct, SEARCH, peer)).toEqual({ status: 200, code: 'ok' });
    expect(await post(direct, SEARCH, peer)).toEqual({ status: 429, code: 'RATE_LIMITED' });
    expect(await post(direct, LISTINGS, peer)).toEqual({ status: 429, code: 'RATE_LIMITED' });
    // Another address has its own budget.
    expect(await post(direct, LISTINGS, '203.0.113.6')).toEqual({ status: 200, code: 'ok' });
  });

  it('a spoofed X-Forwarded-For from an untrusted peer does not reset the budget', async () => {
    const peer = '203.0.113.9';
    await statuses(READS, () => post(direct, LISTINGS, peer));
    for (const spoofed of ['198.51.100.1', '198.51.100.2', '10.0.0.1, 198.51.100.3']) {
      expect(await post(direct, LISTINGS, peer, { 'x-forwarded-for': spoofed })).toEqual({
        status: 429,
        code: 'RATE_LIMITED',
      });
    }
    // Not on the proxied gateway either, when the peer is not one of its proxies.
    expect(await post(proxied, LISTINGS, peer, { 'x-forwarded-for': '198.51.100.4' })).toEqual({
      status: 429,
      code: 'RATE_LIMITED',
    });
  });

  it('behind a trusted proxy each X-Forwarded-For client has its own budget', async () => {
    const proxy = '10.1.2.3';
    const from = (client: string) => () =>
      post(proxied, LISTINGS, proxy, { 'x-forwarded-for': `${client}, ${proxy}` });
    expect(await statuses(READS + 1, from('198.51.100.20'))).toEqual([200, 200, 200, 200, 200, 429]);
    expect(await statuses(READS + 1, from('198.51.100.21'))).toEqual([200, 200, 200, 200, 200, 429]);
    // A second trusted proxy (a single address) in front of the first: the client is still the one left of them.
    expect(
      await post(proxied, LISTINGS, '192.0.2.7', { 'x-forwarded-for': `198.51.100.22, ${proxy}` }),
    ).toEqual({ status: 200, code: 'ok' });
    // The spoofed left-most entry does not help: the address the trusted proxy saw decides.
    expect(
      await post(proxied, LISTINGS, proxy, { 'x-forwarded-for': '198.51.100.99, 198.51.100.20' }),
    ).toEqual({ status: 429, code: 'RATE_LIMITED' });
  });

  it('anonymous feed pages have their own, smaller budget, and log no impressions once refused', async () => {
    const peer = '203.0.113.40';
    const count = async () =>
      (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM learning_events')).rows[0]!.n;
    const before = await count();
    expect(await statuses(FEED + 2, () => post(direct, FEED_PAGE, peer))).toEqual([200, 200, 200, 429, 429]);
    expect((await count()) - before).toBe(FEED * 2);
  });

  it('a signed-in user spends their own budget, not their address’s', async () => {
    const peer = '203.0.113.50';
    const [one, two] = [await createFeedViewer(db.pool, []), await createFeedViewer(db.pool, [])];
    const auth = async (userId: string) => ({
      authorization: `Bearer ${await direct.token({ sub: userId, role: 'user' })}`,
    });
    const [a, b] = [await auth(one.userId), await auth(two.userId)];
    expect(await statuses(READS + 1, () => post(direct, LISTINGS, peer, a))).toEqual([
      200, 200, 200, 200, 200, 429,
    ]);
    expect(await post(direct, LISTINGS, peer, b)).toEqual({ status: 200, code: 'ok' });
    expect(await post(direct, LISTINGS, peer)).toEqual({ status: 200, code: 'ok' });
  });
});
