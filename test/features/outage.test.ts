import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect } from 'vitest';
import type { TestDatabase } from '../support/db.js';
import {
  expectListingFeatures,
  listingFeaturesTruth,
  metricValue,
  sleep,
  startRedisServer,
  type ListingFeaturesShown,
  type ThrowawayRedis,
} from '../support/featuresHarness.js';
import { seedFeedWorld } from '../support/feedWorld.js';
import { insertProfile } from '../support/fixtures.js';
import { createInProcess, type InProcess, type LogLine } from '../support/gateway.js';
import { graphql } from '../support/graphql.js';
import { dataOf } from '../support/graphqlResult.js';
import { it, test } from '../support/testFixtures.js';

/** The anonymous feed with features that do not move while the tests run (impressions do). */
const FEED = graphql(`
  query ($first: Int) {
    suggestions(first: $first) {
      edges {
        node {
          listing {
            id
            features {
              categorySlug
              likeCount
              commentCount
              popularity
            }
          }
        }
      }
    }
  }
`);

const PAGE = 20;
const COMMAND_TIMEOUT_MS = 100;
const BREAKER_FAILURES = 3;
const BREAKER_OPEN_MS = 300;
/** What a request may take while Redis misbehaves: one command timeout on top of the work, plus slack. */
const BUDGET_MS = COMMAND_TIMEOUT_MS + 900;

describe('feature store while Redis is unreachable, paused or stopped', () => {
  let db: TestDatabase;
  let prefix: string;
  let truth: Map<number, ListingFeaturesShown>;
  const servers: ThrowawayRedis[] = [];
  const clients: Redis[] = [];
  const harnesses: InProcess[] = [];

  const harness = (redisUrl: string): InProcess => {
    const h = createInProcess(
      db,
      {
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: prefix,
        LOG_LEVEL: 'warn',
        FEED_SERVED_WINDOW_MINUTES: '0',
        REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
        FEATURE_BREAKER_FAILURES: String(BREAKER_FAILURES),
        FEATURE_BREAKER_OPEN_MS: String(BREAKER_OPEN_MS),
        // The subject is the feature cache; the feed's rate limit (its own breaker and fallback budget
        // while Redis is away) is proven in test/process/rateLimitOutage.test.ts.
        RATE_LIMITS_ENABLED: 'false',
      },
      { captureLogs: true },
    );
    harnesses.push(h);
    return h;
  };
  const adminClient = async (url: string) => {
    const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  };
  const lookups = (h: InProcess, result: string) =>
    metricValue(h.metrics.featureLookups, { kind: 'listing', result });
  const mgetErrors = (h: InProcess) => metricValue(h.metrics.featureErrors, { op: 'mget' });
  const breakerGauge = (h: InProcess) => metricValue(h.metrics.featureBreakerState);
  const warnings = (h: InProcess, event: string): LogLine[] =>
    h.logs.filter((l) => l.event === event && l.level === 'warn');

  /** One feed page as an anonymous user: how long it took, after checking it is complete and correct. */
  async function feed(h: InProcess): Promise<number> {
    const started = performance.now();
    const result = await h.execute(FEED, { variables: { first: PAGE } });
    const ms = performance.now() - started;
    // Redis trouble never reaches the client as an error.
    const edges = dataOf(result).suggestions.edges;
    expect(edges).toHaveLength(PAGE);
    for (const { node } of edges)
      expectListingFeatures(node.listing.features, truth.get(Number(node.listing.id))!);
    return ms;
  }

  test.beforeAll(async ({ db: fileDb }) => {
    db = fileDb;
    const world = await seedFeedWorld(db.pool, [15, 15]);
    const fans = [await insertProfile(db.pool), await insertProfile(db.pool), await insertProfile(db.pool)];
    const ids = world.listings.flat().map((l) => l.id);
    // Different like and comment counts per listing, so a feature served for the wrong listing shows.
    for (const [i, id] of ids.entries()) {
      for (const fan of fans.slice(0, i % 4)) {
        await db.pool.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [fan, id]);
      }
      if (i % 3 === 0) {
        await db.pool.query(`INSERT INTO comments (listing_id, user_id, body) VALUES ($1, $2, 'hi')`, [
          id,
          fans[0],
        ]);
      }
    }
    truth = await listingFeaturesTruth(db.pool, ids);
    prefix = `lodestar:t:${db.name}:`;
  });

  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.close();
    for (const c of clients.splice(0)) c.disconnect();
  });

  afterAll(async () => {
    for (const s of servers) await s.kill();
  });

  it('answers from Postgres without waiting while Redis is unreachable, with a warn log and bypass metrics', async () => {
    const h = harness('redis://127.0.0.1:1');
    const timings: number[] = [];
    for (let i = 0; i < 5; i += 1) timings.push(await feed(h));
    console.log(`unreachable: per-request ms ${timings.map((t) => t.toFixed(0)).join(', ')}`);

    expect(Math.max(...timings)).toBeLessThan(BUDGET_MS);
    // Never asked, so never waited on.
    expect(await lookups(h, 'bypass')).toBe(5 * PAGE);
    expect(await lookups(h, 'hit')).toBe(0);
    expect(await mgetErrors(h)).toBe(0);
    expect(await breakerGauge(h)).toBe(0);
    // One line per 10 s, not one per request, with what was bypassed and why.
    expect(warnings(h, 'feature_cache_miss')).toEqual([
      expect.objectContaining({ keys: PAGE, reasons: { unavailable: PAGE } }),
    ]);
  });

  it('keeps answering while Redis is paused: at most one command timeout per request until the breaker opens, then none; after the pause it closes and the cache fills again', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const admin = await adminClient(server.url);
    const h = harness(server.url);
    await feed(h);
    await h.features.settled();
    const before: number[] = [];
    for (let i = 0; i < 3; i += 1) before.push(await feed(h));
    expect(await lookups(h, 'hit')).toBe(3 * PAGE);

    const PAUSE_MS = 1500;
    // ALL, not WRITE: a write pause would still answer the MGET.
    await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL');
    const pausedAt = performance.now();
    const during: { ms: number; timeouts: number; waited: boolean; openBefore: boolean }[] = [];
    while (performance.now() - pausedAt < PAUSE_MS - 300) {
      const errorsBefore = await mgetErrors(h);
      const openBefore = (await breakerGauge(h)) === 2;
      const ms = await feed(h);
      const timeouts = (await mgetErrors(h)) - errorsBefore;
      during.push({ ms, timeouts, waited: timeouts > 0, openBefore });
    }
    const pauseWindow = performance.now() - pausedAt;
    const waited = during.filter((r) => r.waited);
    const skipped = during.filter((r) => !r.waited);
    console.log(
      `paused: warm ms ${before.map((t) => t.toFixed(0)).join(', ')}; during pause ms ` +
        during.map((r) => `${r.ms.toFixed(0)}${r.waited ? '(timeout)' : ''}`).join(', '),
    );

    // The first requests each waited one command timeout until the breaker opened, after at most
    // BREAKER_FAILURES of them (a timed-out write-back counts as a failure too).
    const opened = during.findIndex((r) => r.openBefore);
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(BREAKER_FAILURES);
    expect(during.slice(0, opened).every((r) => r.waited)).toBe(true);
    // While open, only one probe per BREAKER_OPEN_MS waits on Redis; every other request skips it.
    expect(waited.length).toBeLessThanOrEqual(BREAKER_FAILURES + Math.ceil(pauseWindow / BREAKER_OPEN_MS));
    expect(skipped.length).toBeGreaterThan(waited.length);
    // Within the budget: one command timeout at most on top of the work itself, never two.
    for (const r of during) {
      expect(r.timeouts).toBeLessThanOrEqual(1);
      expect(r.ms).toBeLessThan(BUDGET_MS);
    }
    for (const r of waited) expect(r.ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS);
    // Requests that skip Redis are faster by about the timeout (relative, so a loaded machine is fine).
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    expect(median(skipped.map((r) => r.ms)) + COMMAND_TIMEOUT_MS / 2).toBeLessThan(
      median(waited.map((r) => r.ms)),
    );
    expect(await lookups(h, 'bypass')).toBe(during.length * PAGE);
    expect(await mgetErrors(h)).toBe(waited.length);
    // The first bypass is logged at once; the rest are summed into the next line, not one line each.
    const miss = warnings(h, 'feature_cache_miss');
    expect(miss.length).toBeLessThanOrEqual(2);
    expect(miss[0]).toMatchObject({ keys: PAGE, reasons: { error: PAGE } });
    expect(warnings(h, 'feature_cache_breaker')[0]).toMatchObject({ state: 'open' });

    // Redis is back: the next probe closes the breaker, and the cache fills again.
    await sleep(Math.max(0, PAUSE_MS - (performance.now() - pausedAt)) + 20);
    const resumedAt = performance.now();
    while ((await breakerGauge(h)) !== 0) {
      expect(performance.now() - resumedAt).toBeLessThan(3000);
      await feed(h);
      await sleep(50);
    }
    const closedAfter = performance.now() - resumedAt;
    console.log(
      `paused: breaker ${warnings(h, 'feature_cache_breaker')
        .map((l) => String(l.state))
        .join(' → ')}; closed ${closedAfter.toFixed(0)} ms after the pause ended`,
    );
    expect(warnings(h, 'feature_cache_breaker').at(-1)).toMatchObject({ state: 'closed' });
    // Recovery flushes the counts held back by the rate limit: every bypassed key is reported once.
    const lines = warnings(h, 'feature_cache_miss');
    expect(lines.at(-1)).toMatchObject({ recovered: true });
    expect(lines.reduce((n, l) => n + Number(l.keys), 0)).toBe(await lookups(h, 'bypass'));
    await feed(h);
    await h.features.settled();
    const hits = await lookups(h, 'hit');
    await feed(h);
    expect(await lookups(h, 'hit')).toBe(hits + PAGE);
    expect((await admin.keys(`${prefix}feat:v1:listing:*`)).length).toBeGreaterThanOrEqual(PAGE);
  });

  it('keeps answering while Redis is stopped and fills the cache again once it is back, without a restart', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const h = harness(server.url);
    await feed(h);
    await h.features.settled();
    await feed(h);
    expect(await lookups(h, 'hit')).toBe(PAGE);

    await server.kill();
    // Down for about a second, long enough for the client's reconnect backoff to grow.
    const down: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      down.push(await feed(h));
      await sleep(200);
    }
    expect(Math.max(...down)).toBeLessThan(BUDGET_MS);
    expect(await lookups(h, 'hit')).toBe(PAGE);
    expect(await lookups(h, 'bypass')).toBe(5 * PAGE);
    expect(warnings(h, 'feature_cache_miss')).toHaveLength(1);

    const restarted = await startRedisServer(server.port);
    servers.push(restarted);
    const backAt = performance.now();
    // The client reconnects on its own (backoff up to 5 s); the empty cache then fills from Postgres.
    for (let attempt = 0; ; attempt += 1) {
      expect(performance.now() - backAt, 'the cache did not fill again within 10 s').toBeLessThan(10_000);
      const hits = await lookups(h, 'hit');
      await feed(h);
      await h.features.settled();
      if ((await lookups(h, 'hit')) === hits + PAGE) break;
      await sleep(100);
    }
    const refilledAfter = performance.now() - backAt;
    console.log(
      `stopped: per-request ms while down ${down.map((t) => t.toFixed(0)).join(', ')}; ` +
        `cache serving hits again ${refilledAfter.toFixed(0)} ms after Redis came back`,
    );
    const admin = await adminClient(restarted.url);
    expect((await admin.keys(`${prefix}feat:v1:listing:*`)).length).toBeGreaterThanOrEqual(PAGE);
  });
});
