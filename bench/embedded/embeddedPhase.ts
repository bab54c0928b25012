import os from 'node:os';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { signToken } from '../../src/auth/signToken.js';
import { loadConfig } from '../../src/config/config.js';
import { freePort, GATEWAY_ARGS, startGatewayProcess } from '../shared/gatewayProcess.js';
import { createGraphqlClient } from '../shared/http.js';
import { runPhase, summarize, type Phase } from '../shared/load.js';
import { BENCH_JWT_SECRET, BENCH_REDIS_PREFIX, type BenchSettings } from '../shared/settings.js';
import { prepareEmbeddedDataset, readAfterRun } from './embeddedData.js';
import {
  embeddedMarkdown,
  summarizeSlices,
  type EmbeddedResults,
  type EmbeddedSlice,
  type WorkerMode,
} from './embeddedReport.js';
import { createWriteStream } from './embeddedWrites.js';

export { embeddedMarkdown, type EmbeddedResults };

/** The measured page, as in the feed phase. */
const FIRST = 20;
const VIEWERS = 100;
const WRITERS = 100;
/** After start: the worker's first maintenance round and the first claims run before anything is measured. */
const SETTLE_MS = 5000;
/** The worker counts as drained once no item finished for this long. */
const QUIET_MS = 2000;
const DRAIN_MAX_MS = 120_000;

/** What the in-process worker's /metrics (WORKER_METRICS_PORT) says it did so far. */
interface WorkerCounts {
  succeeded: number;
  failed: number;
  durationSum: number;
  durationCount: number;
}

async function scrape(url: string | null): Promise<WorkerCounts> {
  if (url === null) return { succeeded: 0, failed: 0, durationSum: 0, durationCount: 0 };
  const text = await (await fetch(url)).text();
  const sum = (pattern: RegExp) => [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1] ?? 0), 0);
  return {
    succeeded: sum(/^lodestar_worker_items_total\{[^}]*outcome="succeeded"[^}]*\} (\S+)$/gm),
    failed: sum(/^lodestar_worker_items_total\{[^}]*outcome="failed"[^}]*\} (\S+)$/gm),
    durationSum: sum(/^lodestar_worker_item_duration_seconds_sum\{[^}]*\} (\S+)$/gm),
    durationCount: sum(/^lodestar_worker_item_duration_seconds_count\{[^}]*\} (\S+)$/gm),
  };
}

/** Waits until no item finished for QUIET_MS (debounced recomputes due later do not count); seconds waited. */
async function drain(url: string | null): Promise<number> {
  if (url === null) return 0;
  const started = performance.now();
  let last = (await scrape(url)).succeeded;
  let quietSince = performance.now();
  while (performance.now() - started < DRAIN_MAX_MS) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = (await scrape(url)).succeeded;
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= QUIET_MS) break;
  }
  return Math.round((performance.now() - started - QUIET_MS) / 100) / 10;
}

/**
 * The embedded phase (issue #15: "feed p95 with the worker busy ≤ 1.5× without, measured"): the built
 * gateway on PGlite with the worker in its process, `suggestions(first: 20)` at c=1 and c=N with the
 * worker idle, then busy with a steady stream of writes, in interleaved slices.
 */
export async function runEmbeddedPhase(settings: BenchSettings): Promise<EmbeddedResults> {
  const { rounds, sliceSec, writesPerSec, concurrency: highC, worker } = settings.embedded;
  const date = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  console.log('embedded: seeding a fresh PGlite folder with the demo data set (as npm start does)');
  const dataset = await prepareEmbeddedDataset({ viewers: VIEWERS, writers: WRITERS });
  console.log(
    `embedded: ${dataset.counts.users} users, ${dataset.counts.listings} listings, seeded in ${dataset.seedSec} s`,
  );
  const workerMetricsPort = await freePort();
  const env: Record<string, string> = {
    // Development: production refuses to start without DATABASE_URL (the embedded default is for it).
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    EMBEDDED_DATA_DIR: dataset.dataDir,
    JWT_SECRET: BENCH_JWT_SECRET,
    GRAPHQL_IDE: 'false',
    WORKER_IN_PROCESS: String(worker),
    WORKER_METRICS_PORT: String(workerMetricsPort),
    // One address and a few hundred users: the budgets at their ceiling so they never refuse.
    RATE_LIMIT_READS_PER_MIN: '1000000',
    RATE_LIMIT_FEED_PER_MIN: '100000',
    RATE_LIMIT_LIKES_PER_MIN: '100000',
    RATE_LIMIT_FOLLOWS_PER_MIN: '100000',
    RATE_LIMIT_INTERESTS_PER_MIN: '100000',
    RATE_LIMIT_SIGNALS_PER_MIN: '100000',
    // Seeded users may be near the default cap of 50; the writers add two at most.
    MAX_INTERESTS: '100',
    ...(settings.redisUrl ? { REDIS_URL: settings.redisUrl, REDIS_KEY_PREFIX: BENCH_REDIS_PREFIX } : {}),
  };
  const config = loadConfig({ ...env, PORT: '0' });
  const sign = (sub: string) => signToken(config.auth, { sub, role: 'user' }, { expiresIn: '2h' });
  const viewerTokens = await Promise.all(dataset.viewers.map(sign));
  const writers = await Promise.all(dataset.writers.map(async (id) => ({ id, token: await sign(id) })));

  const gateway = await startGatewayProcess(env, 'gateway (embedded)');
  const metricsUrl = worker ? `http://127.0.0.1:${workerMetricsPort}/metrics` : null;
  const client = createGraphqlClient(gateway.url, highC);
  const writes = createWriteStream(
    client.post,
    { writers, listings: dataset.listings, interests: dataset.interests, users: dataset.viewers },
    42,
  );
  const feed = client.feedTask(FIRST, viewerTokens);
  const slices: EmbeddedSlice[] = [];
  const phases = new Map<string, Phase[]>();
  let exit: string;
  try {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await drain(metricsUrl);
    const counter = { next: 0 };
    for (const concurrency of [1, highC]) {
      // Warm-up of both modes (JIT, PGlite's caches, the writers' first likes), then drained.
      await runPhase(feed, concurrency, settings.warmupSec * 1000, counter);
      writes.start(writesPerSec);
      await runPhase(feed, concurrency, settings.warmupSec * 1000, counter);
      await writes.stop();
      await drain(metricsUrl);
      for (let round = 0; round < rounds; round += 1) {
        const order: WorkerMode[] = round % 2 === 0 ? ['idle', 'busy'] : ['busy', 'idle'];
        for (const mode of order) {
          const loadAverage1m = os.loadavg()[0] ?? NaN;
          const before = await scrape(metricsUrl);
          if (mode === 'busy') writes.start(writesPerSec);
          const phase = await runPhase(feed, concurrency, sliceSec * 1000, counter);
          const after = await scrape(metricsUrl);
          const writeStats = mode === 'busy' ? await writes.stop() : null;
          const drainSec = mode === 'busy' ? await drain(metricsUrl) : null;
          const key = `${mode}:${concurrency}`;
          phases.set(key, [...(phases.get(key) ?? []), phase]);
          const items = after.durationCount - before.durationCount;
          const slice: EmbeddedSlice = {
            mode,
            concurrency,
            round,
            requests: phase.latencies.length,
            errors: phase.errors,
            firstError: phase.firstError,
            latencyMs: summarize(phase.latencies),
            workerItems: after.succeeded - before.succeeded,
            workerItemMeanMs:
              items > 0 ? Math.round(((after.durationSum - before.durationSum) / items) * 10_000) / 10 : null,
            loadAverage1m,
            writes: writeStats,
            drainSec,
          };
          slices.push(slice);
          console.log(
            `  ${mode} c=${concurrency} round ${round}: ${slice.requests} req, p50 ${slice.latencyMs.p50} ms, ` +
              `p95 ${slice.latencyMs.p95} ms, worker ${slice.workerItems} items (mean ${slice.workerItemMeanMs ?? '–'} ms)` +
              (writeStats
                ? `, ${writeStats.sent} writes (p95 ${writeStats.latencyMs.p95} ms, ${writeStats.errors} errors)` +
                  `, drained in ${drainSec} s`
                : '') +
              `, load ${loadAverage1m.toFixed(2)}` +
              (slice.firstError ? ` first error: ${slice.firstError}` : ''),
          );
        }
      }
    }
  } finally {
    client.close();
    exit = await gateway.stop();
  }
  const after = await readAfterRun(dataset.dataDir);
  await rm(path.dirname(dataset.dataDir), { recursive: true, force: true });
  const pooled = (mode: WorkerMode, c: number) =>
    summarize((phases.get(`${mode}:${c}`) ?? []).flatMap((p) => p.latencies));
  const { summaries, ratios } = summarizeSlices(slices, pooled, sliceSec);
  const results: EmbeddedResults = {
    date,
    command: `${worker ? '' : 'BENCH_EMBEDDED_WORKER=false '}BENCH_PHASES=embedded npm run bench`,
    worker,
    cpus: os.cpus().length,
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg(),
    dataset: {
      seed: dataset.seed,
      seedSec: dataset.seedSec,
      counts: dataset.counts,
      viewers: dataset.viewers.length,
      writers: dataset.writers.length,
    },
    settings: {
      rounds,
      sliceSec,
      warmupSec: settings.warmupSec,
      writesPerSec,
      first: FIRST,
      gatewayEnv: Object.fromEntries(
        Object.entries(env).filter(([k]) => !['JWT_SECRET', 'EMBEDDED_DATA_DIR'].includes(k)),
      ),
    },
    slices,
    summaries,
    ratios,
    after,
    exit: `${exit} (node ${GATEWAY_ARGS.join(' ')})`,
  };
  return results;
}
