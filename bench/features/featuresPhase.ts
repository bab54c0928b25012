import os from 'node:os';
import { analyzeLearningEvents, resetLearningEvents } from '../shared/database.js';
import { countFeatureRequests } from './featuresCount.js';
import { evaluateFeatureTargets, type FeatureRequestCount, type FeaturesResults } from './featuresReport.js';
import { runInterleaved, warmPages, type ModeSpec } from './featuresRuns.js';
import {
  checkFeatures,
  checkNoFeatures,
  createEvictor,
  type Evictor,
  FEATURES_FIRST,
  featuresQuery,
  flushFeatureKeys,
  noFeaturesQuery,
} from './featuresWorkload.js';
import { memorySummary, startGatewayProcess } from '../shared/gatewayProcess.js';
import { createGraphqlClient } from '../shared/http.js';
import { startRedisMonitor } from '../shared/redisMonitor.js';
import { BENCH_REDIS_PREFIX, type BenchSettings, COUNTING_ENV } from '../shared/settings.js';
import { startStatementProxy } from '../shared/statementProxy.js';

/**
 * The features phase: `features` inside `suggestions(first: 50)` with the cache warm (cached), with
 * every key the request reads evicted just before it (uncached: MGET misses, one SQL statement per
 * kind, write-back), and with Redis unreachable (redis-down), plus the same query without features
 * for reference. Then each mode's Redis commands and SQL statements per request. See bench/README.md.
 */

/**
 * Stable pages per viewer, so a warmed page stays warm and an "uncached" request evicts exactly the
 * keys it will read: no exploration slots (ε = 0), no served-window exclusions, and no category cap
 * (share 1), since under the default cap of 40 % SIMILAR runs dry after one or two categories and
 * the rest of the page is drawn at random from POPULAR / RECENT / a random EXPLORE sample. The page
 * is then the viewer's 50 nearest listings; the feature cost depends on how many listings, not which.
 */
const STABLE_PAGES = { FEED_EPSILON: '0', FEED_SERVED_WINDOW_MINUTES: '0', FEED_CATEGORY_SHARE: '1' };
/** Nothing listens on port 1: connecting fails at once, so the gateway never waits on Redis. */
const REDIS_DOWN_URL = 'redis://127.0.0.1:1';
/** Each mode's measured seconds are split into this many interleaved slices. */
const ROUNDS = 5;
const COUNT_REQUESTS = 20;

type Envs = { withRedis: Record<string, string>; down: Record<string, string> };

/** The load runs: both gateways up side by side, the cache warmed, every mode at every concurrency. */
async function measureModes(
  settings: BenchSettings,
  envs: Envs,
  tokens: string[],
  pages: number[][],
  evictor: Evictor,
): Promise<Pick<FeaturesResults, 'runs' | 'warm' | 'gateways'>> {
  const first = FEATURES_FIRST;
  const gateways: FeaturesResults['gateways'] = {};
  const gateway = await startGatewayProcess(envs.withRedis, 'gateway (features)');
  const downGateway = await startGatewayProcess(envs.down, 'gateway (redis down)').catch(
    async (error: unknown) => {
      await gateway.stop();
      throw error;
    },
  );
  const highC = Math.max(...settings.featuresConcurrencies);
  const client = createGraphqlClient(gateway.url, highC);
  const downClient = createGraphqlClient(downGateway.url, highC);
  try {
    const warm = await warmPages(client.post, gateway.metricsUrl, tokens, first, pages);
    console.log(`features: warmed, ${warm.note}`);
    const withFeatures = client.queryTask(featuresQuery(first), tokens, checkFeatures(first));
    const specs: ModeSpec[] = [
      { mode: 'cached', metricsUrl: gateway.metricsUrl, task: withFeatures },
      { mode: 'uncached', metricsUrl: gateway.metricsUrl, task: withFeatures, evictor },
      {
        mode: 'redis-down',
        metricsUrl: downGateway.metricsUrl,
        task: downClient.queryTask(featuresQuery(first), tokens, checkFeatures(first)),
      },
      {
        mode: 'no-features',
        metricsUrl: gateway.metricsUrl,
        task: client.queryTask(noFeaturesQuery(first), tokens, checkNoFeatures(first)),
      },
    ];
    const timing = { warmupSec: settings.warmupSec, durationSec: settings.durationSec, rounds: ROUNDS };
    const runs: FeaturesResults['runs'] = [];
    for (const concurrency of settings.featuresConcurrencies) {
      // Statistics as autovacuum would keep them (it is off here): the feature SQL aggregates this table.
      await analyzeLearningEvents(settings.benchUrl);
      runs.push(...(await runInterleaved(specs, concurrency, timing)));
    }
    return { runs, warm, gateways };
  } finally {
    client.close();
    downClient.close();
    const [memory, downMemory] = [await memorySummary(gateway), await memorySummary(downGateway)];
    gateways['with Redis'] = { exit: await gateway.stop(), ...memory };
    gateways['Redis down'] = { exit: await downGateway.stop(), ...downMemory };
  }
}

/**
 * Per-request counts on gateways of their own, one at a time, whose Postgres connections go through
 * the statement proxy while a MONITOR connection watches Redis.
 */
async function countModes(
  settings: BenchSettings,
  envs: Envs,
  tokens: string[],
  evictor: Evictor,
  gateways: FeaturesResults['gateways'],
): Promise<FeatureRequestCount[]> {
  const first = FEATURES_FIRST;
  console.log(
    `features: counting Redis commands and SQL statements over ${COUNT_REQUESTS} requests per mode`,
  );
  const perRequest: FeatureRequestCount[] = [];
  const proxy = await startStatementProxy(settings.gatewayUrl);
  const monitor = await startRedisMonitor(
    settings.redisUrl ?? '',
    BENCH_REDIS_PREFIX,
    new Set([await evictor.address()]),
  );
  const probes = { statements: proxy, redis: monitor };
  // The experiment is re-read on a timer, not per request: keep that read out of the counted window.
  const counting = { DATABASE_URL: proxy.url, ...COUNTING_ENV };
  try {
    for (const [name, gatewayEnv, modes] of [
      ['counting, with Redis', envs.withRedis, ['cached', 'uncached', 'no-features']],
      ['counting, Redis down', envs.down, ['redis-down']],
    ] as const) {
      const g = await startGatewayProcess({ ...gatewayEnv, ...counting }, `gateway (features ${name})`);
      const c = createGraphqlClient(g.url, 1);
      try {
        for (const mode of modes) {
          const task =
            mode === 'no-features'
              ? c.queryTask(noFeaturesQuery(first), tokens, checkNoFeatures(first))
              : c.queryTask(featuresQuery(first), tokens, checkFeatures(first));
          const evict = mode === 'uncached' ? evictor.beforeEach : undefined;
          const count = await countFeatureRequests(mode, task, probes, COUNT_REQUESTS, evict);
          perRequest.push(count);
          const r = count.redis;
          const q = count.sql;
          console.log(
            `  ${mode.padEnd(11)} MGET listing ${r.mget.listing.max} user ${r.mget.user.max}, ` +
              `write-back pipelines ${r.writeBackPipelines.listing.max}/${r.writeBackPipelines.user.max}, ` +
              `round trips ${r.roundTrips.min}–${r.roundTrips.max}, SQL ${q.statements.min}–` +
              `${q.statements.max} (features ${q.featureStatements.listing.max}/${q.featureStatements.user.max})`,
          );
        }
      } finally {
        c.close();
        gateways[name] = { exit: await g.stop(), peakRssMb: null };
      }
    }
  } finally {
    await monitor.close();
    await proxy.close();
  }
  return perRequest;
}

export async function runFeaturesPhase(
  env: Record<string, string>,
  settings: BenchSettings,
  viewers: string[],
  tokens: string[],
): Promise<FeaturesResults> {
  const redisUrl = settings.redisUrl;
  if (!redisUrl) throw new Error('the features phase needs Redis (BENCH_REDIS_URL is off)');
  const date = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  const first = FEATURES_FIRST;
  await resetLearningEvents(settings.benchUrl);
  const flushed = await flushFeatureKeys(redisUrl, BENCH_REDIS_PREFIX);
  console.log(
    `features: ${viewers.length} viewers, suggestions(first: ${first}); learning_events emptied, ` +
      `${flushed} cached feature keys deleted`,
  );
  const withRedis = { ...env, ...STABLE_PAGES };
  const down = { ...withRedis, REDIS_URL: REDIS_DOWN_URL };
  const pages: number[][] = [];
  const evictor = createEvictor(redisUrl, BENCH_REDIS_PREFIX, viewers, pages);
  try {
    const { runs, warm, gateways } = await measureModes(
      settings,
      { withRedis, down },
      tokens,
      pages,
      evictor,
    );
    const perRequest = await countModes(settings, { withRedis, down }, tokens, evictor, gateways);
    return {
      date,
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg(),
      settings: {
        first,
        query: featuresQuery(first),
        noFeaturesQuery: noFeaturesQuery(first),
        viewers: viewers.length,
        warmupSec: settings.warmupSec,
        durationSec: settings.durationSec,
        rounds: ROUNDS,
        concurrencies: settings.featuresConcurrencies,
        gatewayEnv: STABLE_PAGES,
        redisDownUrl: REDIS_DOWN_URL,
      },
      warm,
      runs,
      perRequest,
      gateways,
      targets: evaluateFeatureTargets(perRequest),
    };
  } finally {
    evictor.close();
  }
}
