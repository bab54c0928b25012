import type { Config } from '../../src/config/config.js';
import { createEpsilonGreedyPolicy } from '../../src/feed/policies/epsilonGreedy.js';
import { createExplorationSample } from '../../src/feed/explorationSample.js';
import { KnownCandidateCaches } from '../../src/feed/candidates.js';
import { GATEWAY_ARGS, startGatewayProcess, type GatewayProcess } from '../shared/gatewayProcess.js';
import {
  cpuDelta,
  cpuMsPerRequest,
  parentPid,
  postgresProcessesCpu,
  processCpu,
  processesCpuBetween,
  redisCpu,
  type CpuReading,
} from '../shared/cpu.js';
import { createGraphqlClient } from '../shared/http.js';
import { runLoad, runRounds, toLoadResult, type LoadResult } from '../shared/load.js';
import { bareAnnTask, createRawServicePool, rawFeedTask, warmCandidateCache } from './rawSql.js';
import type { BenchResults, HeapSnapshot } from './feedReport.js';
import { analyzeLearningEvents } from '../shared/database.js';
import { createRssSampler } from '../shared/rssSampler.js';
import type { BenchSettings } from '../shared/settings.js';

const mb = (kb: number) => Math.round(kb / 1024);

/** A CPU reading: single processes and servers, and Postgres's processes by pid (see cpuBetween). */
interface CpuNow {
  single: CpuReading;
  postgres: Map<number, number>;
}

/** Before the runs, viewer i is served i mod STAGGER_PAGES pages beyond the first (see runLoadComparison). */
const STAGGER_PAGES = 12;
const STAGGER_WORKERS = 16;

function printRun(path: string, r: LoadResult): void {
  const l = r.latencyMs;
  console.log(
    `  ${path.padEnd(8)} c=${String(r.concurrency).padEnd(3)} ${String(r.requests).padStart(6)} req ` +
      `${String(r.requestsPerSec).padStart(7)} req/s  p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms` +
      `  errors ${r.errors}${r.firstError ? ` (first: ${r.firstError})` : ''}` +
      (r.slices
        ? `; median of ${r.slices.count} slices ${r.slices.requestsPerSec} req/s, p50 ${r.slices.p50} ms ` +
          `(slices: ${r.slices.requestsPerSecEach.join(', ')} req/s)`
        : ''),
  );
}

/**
 * The gateway's personal pages so far by kept-candidates outcome (hit, miss, expired, short), and the short
 * ones by what ran short (`short:POOL`, `short:budget`; a page counts under every pool that did).
 */
async function keptOutcomes(gateway: GatewayProcess): Promise<Record<string, number>> {
  const outcomes = await gateway.counter('lodestar_feed_candidate_memory_total', 'outcome');
  const short = await gateway.counter('lodestar_feed_candidate_memory_short_total', 'pool');
  return {
    ...outcomes,
    ...Object.fromEntries(Object.entries(short).map(([pool, n]) => [`short:${pool}`, n])),
  };
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

async function heapOf(gateway: GatewayProcess): Promise<HeapSnapshot> {
  const h = await gateway.heap();
  const toMb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  return { heapUsedMb: toMb(h.heapUsed), heapTotalMb: toMb(h.heapTotal), externalMb: toMb(h.external) };
}

/**
 * Starts the built gateway as its own process (`env` is its whole configuration) and the raw-SQL pool
 * in this one, then for each concurrency runs the gateway (HTTP) and the raw SQL back to back, so both
 * see the same data and cache state. The gateway's RSS is sampled throughout; it idles during the
 * raw-SQL runs.
 */
export async function runLoadComparison(
  env: Record<string, string>,
  config: Config,
  settings: BenchSettings,
  load: {
    /** The gateway's viewers (and the bare vector search's: their profile embeddings). */
    viewers: string[];
    /**
     * The raw-SQL runs' viewers, others than the gateway's where there are enough: the raw SQL serves
     * pages too, and serving the gateway's viewers between its runs used up their cached candidates,
     * so the gateway's next run began with a burst of refills that no production gateway sees.
     */
    rawViewers: string[];
    tokens: string[];
    first: number;
  },
): Promise<{
  runs: BenchResults['runs'];
  rss: BenchResults['rss'];
  exit: string;
  candidateMemory: NonNullable<BenchResults['candidateMemory']>;
}> {
  const gateway = await startGatewayProcess(env, 'gateway');
  const raw = createRawServicePool(config, settings.benchUrl);
  const [lowC, highC] = settings.concurrencies;
  const client = createGraphqlClient(gateway.url, highC);
  const sampler = createRssSampler(gateway);
  const { viewers, rawViewers, tokens, first } = load;
  const rawOptions = {
    first,
    feed: config.feed,
    // The default policy's name: only a text column, its value does not change the insert's cost.
    policyName: createEpsilonGreedyPolicy({ epsilon: config.feed.epsilon }).name,
    viewers: rawViewers,
    exploration: createExplorationSample({
      service: raw,
      logger: { warn: (_fields, message) => console.warn(`raw pool: ${message}`) },
      refreshMs: config.feed.exploreSampleSec * 1000,
    }),
    known: new KnownCandidateCaches(),
  };
  // CPU seconds so far of the gateway, the Postgres server (its postmaster found from a backend of the
  // raw pool), the Redis server (INFO cpu) and this process (the load generator and the raw pool).
  const postmaster = parentPid(
    (await raw.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', [], 'bench_backend_pid'))[0]!.pid,
  );
  const redisPort = settings.redisUrl ? Number(new URL(settings.redisUrl).port || 6379) : null;
  const cpuNow = async (): Promise<CpuNow> => {
    const bench = process.cpuUsage();
    return {
      single: {
        gateway: processCpu(gateway.pid),
        ...(redisPort === null ? {} : { redis: await redisCpu([redisPort]) }),
        bench: (bench.user + bench.system) / 1e6,
      },
      postgres: postgresProcessesCpu(postmaster),
    };
  };
  // Gateway and Postgres first: the report's columns follow the keys' order.
  const cpuBetween = (before: CpuNow, after: CpuNow): CpuReading => {
    const single = cpuDelta(before.single, after.single);
    return {
      gateway: single.gateway ?? Number.NaN,
      postgres: processesCpuBetween(before.postgres, after.postgres),
      ...single,
    };
  };
  const rawTask = rawFeedTask(raw, rawOptions);
  // The same statement searching on every request (FEED_CANDIDATE_CACHE_SEC=0): what a cache miss costs.
  const uncachedTask = rawFeedTask(raw, { ...rawOptions, feed: { ...config.feed, candidateCacheSec: 0 } });
  const annTask = bareAnnTask(raw, { ...rawOptions, viewers });
  const runs: BenchResults['runs'] = [];
  const candidateMemory: NonNullable<BenchResults['candidateMemory']> = {};
  const timing = { durationSec: settings.durationSec, warmupSec: settings.warmupSec };
  let exit: string;
  let memory;
  try {
    const ready = { memory: await gateway.memory(), heap: await heapOf(gateway) };
    console.log(
      `load: gateway pid ${gateway.pid} at ${gateway.url} (${mb(ready.memory.rssKb)} MB RSS when ready), ` +
        `${timing.warmupSec} s warm-up + ${timing.durationSec} s per run`,
    );
    if (config.feed.candidateCacheSec > 0) {
      const ms =
        (await warmCandidateCache(raw, { ...rawOptions, viewers })) +
        (rawViewers === viewers ? 0 : await warmCandidateCache(raw, rawOptions));
      // One page per viewer through the gateway too: a process learns that a viewer's cache is usable
      // from the viewer's first page it serves (src/feed/candidates.ts, KnownCandidateCaches), as it
      // would have for a returning viewer in production.
      const started = performance.now();
      const page = client.feedTask(first, tokens);
      for (let i = 0; i < tokens.length; i += 1) await page(i, 0);
      // Then viewer i scrolls i mod 12 pages further (16 at a time). The load rotates through the
      // viewers in lockstep, so without this they would all run their cached candidates short within
      // the same second, every dozen pages: a burst of ~300 searches landing in one measured slice or
      // another (a slice of the gateway at c=16 read 105–263 req/s with nothing else changed). Spread
      // over a cache's life, the refills come at the steady rate of viewers at every depth.
      const next = tokens.map((_, i) => i);
      await Promise.all(
        Array.from({ length: STAGGER_WORKERS }, async () => {
          for (let i = next.pop(); i !== undefined; i = next.pop()) {
            for (let k = 0; k < i % STAGGER_PAGES; k += 1) await page(i, 0);
          }
        }),
      );
      console.log(
        `load: ${viewers.length} viewers' personal candidates cached in ${ms} ms (raw pool), ` +
          `their first gateway page, then 0–${STAGGER_PAGES - 1} more each, in ${Math.round(performance.now() - started)} ms`,
      );
    }
    // What autovacuum would have done by now (it is off on this server): learning_events was emptied
    // when the phase began, and the pages above filled it. Without statistics of the filled table, the
    // plans the gateway's sessions cache for it stay those made for an empty one: the served-listings
    // lookup (recently_served_listings) ran as a scan of the whole partition, so each page cost more
    // than the one before (a gateway alone: 104 → 62 req/s over 40 s; analyzed, 264–294 req/s).
    // ANALYZE invalidates those plans.
    await analyzeLearningEvents(settings.benchUrl);
    let idleHeap: HeapSnapshot | undefined;
    for (const concurrency of settings.concurrencies) {
      // The gateway and the bare vector search it is judged against alternate in rounds, so the
      // machine's drift and a burst of cache refills fall on both alike (the viewers' caches run
      // short together after the raw-SQL runs below have served them); the ratios are medians of slices.
      const phaseOf = { gateway: `gateway c=${concurrency}`, ann: `bare-ann c=${concurrency}` };
      const memoryBefore = await keptOutcomes(gateway);
      sampler.setPhase(phaseOf.gateway);
      // Each measured slice's CPU by component, so the report can say where a request's CPU goes.
      const cpu: Record<'gateway' | 'bare-ann', CpuReading[]> = { gateway: [], 'bare-ann': [] };
      let sliceStart: CpuNow | null = null;
      const interleaved = await runRounds(
        [
          // Viewers drawn at random, not in turn: in turn they stay in step, and the pages ranked from
          // kept candidates and the reads that refill them came in waves a rotation long (1 s slices
          // at c=16 swung 127–322 req/s; drawn, 208–248 once past the first seconds).
          { path: 'gateway' as const, task: client.feedTask(first, tokens, { shuffled: true }) },
          { path: 'bare-ann' as const, task: annTask },
        ],
        concurrency,
        // Each slice after 1 s of its own task: interleaved, the bare search otherwise began every slice
        // with the vector index's pages pushed out of shared buffers by the gateway's slice (269–296
        // req/s back to back in the day's runs, 173–236 interleaved without it).
        { ...timing, rounds: settings.feedRounds, sliceWarmupSec: 1 },
        {
          beforeSlice: async (t) => {
            sampler.setPhase(t.path === 'gateway' ? phaseOf.gateway : phaseOf.ann);
            sliceStart = await cpuNow();
          },
          afterSlice: async (t) => {
            if (sliceStart) cpu[t.path].push(cpuBetween(sliceStart, await cpuNow()));
          },
        },
      );
      candidateMemory[`c=${concurrency}`] = difference(await keptOutcomes(gateway), memoryBefore);
      for (const { task, warmup, measured } of interleaved) {
        const result = toLoadResult(concurrency, measured, warmup);
        const cpuPerRequest = cpuMsPerRequest(cpu[task.path], result.requests);
        runs.push({ path: task.path, ...result, cpuMsPerRequest: cpuPerRequest });
        printRun(task.path, result);
        if (cpuPerRequest) {
          console.log(
            `           CPU ms per request: ${Object.entries(cpuPerRequest)
              .map(([k, ms]) => `${k} ${ms}`)
              .join(', ')}`,
          );
        }
      }
      sampler.setPhase(`raw-sql c=${concurrency}`);
      const sql = await runLoad(rawTask, { concurrency, ...timing });
      runs.push({ path: 'raw-sql', ...sql });
      printRun('raw-sql', sql);
      sampler.setPhase(`raw-sql-uncached c=${concurrency}`);
      const uncached = await runLoad(uncachedTask, { concurrency, ...timing });
      runs.push({ path: 'raw-sql-uncached', ...uncached });
      printRun('raw-sql-uncached', uncached);
      if (concurrency === lowC) idleHeap = await heapOf(gateway);
    }
    await sampler.stop();
    const end = { memory: await gateway.memory(), heap: await heapOf(gateway) };
    memory = { ready, idleHeap, end };
  } finally {
    await sampler.stop();
    client.close();
    await raw.close();
    exit = await gateway.stop();
    console.log(`load: gateway stopped with SIGTERM (${exit})`);
  }

  const idle = `raw-sql c=${lowC}`;
  const peakByRunMb = Object.fromEntries(
    settings.concurrencies.map((c) => [`c=${c}`, mb(sampler.peakKb(`gateway c=${c}`))]),
  );
  const sampledPeakKb = Math.max(...settings.concurrencies.map((c) => sampler.peakKb(`gateway c=${c}`)));
  const peakMb = mb(Math.max(memory.end.memory.hwmKb ?? 0, sampledPeakKb));
  const idleAfterWarmupMb = mb(sampler.medianKb(idle));
  const rss: BenchResults['rss'] = {
    source: `VmRSS of the gateway process (node ${GATEWAY_ARGS.join(' ')}) from /proc/<pid>/status`,
    readyMb: mb(memory.ready.memory.rssKb),
    idleAfterWarmupMb,
    peakByRunMb,
    peakMb,
    endMb: mb(memory.end.memory.rssKb),
    heap: { ready: memory.ready.heap, idle: memory.idleHeap ?? null, end: memory.end.heap },
    samples: sampler.count(),
    note:
      `RSS of the gateway process alone (node ${GATEWAY_ARGS.join(' ')}, production settings), read every ` +
      `100 ms: ${mb(memory.ready.memory.rssKb)} MB when ready, ${idleAfterWarmupMb} MB idle after its c=${lowC} ` +
      `run (median while the raw SQL ran), peak ${peakMb} MB (VmHWM, its whole life; sampled peaks ` +
      `${Object.entries(peakByRunMb)
        .map(([k, v]) => `${v} MB at ${k}`)
        .join(', ')}), ${mb(memory.end.memory.rssKb)} MB at the end. The load generator and the raw-SQL ` +
      `pool run in the bench process and are not included.`,
  };
  return { runs, rss, exit, candidateMemory };
}
