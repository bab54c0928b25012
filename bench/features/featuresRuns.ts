import type { FeatureMode, FeaturesResults } from './featuresReport.js';
import {
  addOutcomes,
  checkFeatures,
  emptyOutcome,
  featuresQuery,
  outcomeBetween,
  pageOf,
  readFeatureCounters,
  type Evictor,
} from './featuresWorkload.js';
import { runRounds, toLoadResult, type Task } from '../shared/load.js';

export interface ModeSpec {
  mode: FeatureMode;
  /** The /metrics (METRICS_PORT) of the gateway serving this mode: its cache outcomes. */
  metricsUrl: string;
  task: Task;
  /** The uncached mode's eviction before each request. */
  evictor?: Evictor;
}

/**
 * Two sequential passes over the viewers on the gateway with Redis: the first fills the cache and
 * records each viewer's page (the keys an uncached request must evict); the second checks that pages
 * are stable (FEED_EPSILON=0 and FEED_SERVED_WINDOW_MINUTES=0) and that every read then hits.
 */
export async function warmPages(
  post: (body: string, token: string) => Promise<string>,
  metricsUrl: string,
  tokens: readonly string[],
  first: number,
  /** Filled in place: viewer i's page of listing ids. */
  pages: number[][],
): Promise<FeaturesResults['warm']> {
  const body = JSON.stringify({ query: featuresQuery(first) });
  const check = checkFeatures(first);
  const read = async (token: string) => {
    const text = await post(body, token);
    if (text.includes('"errors"')) throw new Error(`warm-up: GraphQL errors: ${text.slice(0, 300)}`);
    check(text);
    return pageOf(text);
  };
  const started = performance.now();
  pages.length = 0;
  for (const token of tokens) pages.push(await read(token));
  const firstPassSec = (performance.now() - started) / 1000;
  const before = await readFeatureCounters(metricsUrl);
  let stablePages = 0;
  for (const [i, token] of tokens.entries()) {
    const again = await read(token);
    if (again.join(',') === pages[i]?.join(',')) stablePages += 1;
    pages[i] = again;
  }
  const secondPass = outcomeBetween(before, await readFeatureCounters(metricsUrl));
  const l = secondPass.lookups;
  const note =
    `2 sequential passes over the ${tokens.length} viewers (first ${firstPassSec.toFixed(1)} s); ` +
    `${stablePages}/${tokens.length} pages identical in both; second pass hits: listing ${l.listing.hit}/` +
    `${l.listing.hit + l.listing.miss}, user ${l.user.hit}/${l.user.hit + l.user.miss}`;
  return { passes: 2, stablePages, viewers: tokens.length, secondPass, note };
}

function printRun(run: FeaturesResults['runs'][number]): void {
  const l = run.latencyMs;
  const hits = (k: 'listing' | 'user') => {
    const o = run.cache.lookups[k];
    return `${k} ${o.hit}h/${o.miss}m/${o.bypass}b`;
  };
  console.log(
    `  ${run.mode.padEnd(11)} c=${String(run.concurrency).padEnd(3)} ${String(run.requests).padStart(5)} req ` +
      `${String(run.requestsPerSec).padStart(6)} req/s  p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms  ` +
      `errors ${run.errors}  ${hits('listing')} ${hits('user')}` +
      (run.firstError ? `  (first error: ${run.firstError})` : ''),
  );
}

/**
 * All modes at one concurrency, interleaved in rounds (runRounds), with each slice's cache outcomes
 * read from the serving gateway's /metrics and the uncached mode's evictions tallied.
 */
export async function runInterleaved(
  specs: ModeSpec[],
  concurrency: number,
  timing: { warmupSec: number; durationSec: number; rounds: number },
): Promise<FeaturesResults['runs']> {
  const tasks = specs.map((spec) => ({
    spec,
    task: spec.task,
    beforeEach: spec.evictor?.beforeEach,
    before: new Map<string, number>(),
    cache: emptyOutcome(),
    evicted: { evictions: 0, keysDeleted: 0, keysAsked: 0 },
  }));
  const runs = await runRounds(tasks, concurrency, timing, {
    beforeSlice: async (s) => {
      s.spec.evictor?.takeEvicted();
      s.before = await readFeatureCounters(s.spec.metricsUrl);
    },
    afterSlice: async (s) => {
      s.cache = addOutcomes(s.cache, outcomeBetween(s.before, await readFeatureCounters(s.spec.metricsUrl)));
      const e = s.spec.evictor?.takeEvicted();
      if (e) {
        s.evicted.evictions += e.evictions;
        s.evicted.keysDeleted += e.keysDeleted;
        s.evicted.keysAsked += e.keysAsked;
      }
    },
  });
  return runs.map(({ task: s, warmup, measured }) => {
    const { evictions, keysDeleted, keysAsked } = s.evicted;
    const result: FeaturesResults['runs'][number] = {
      mode: s.spec.mode,
      cache: s.cache,
      ...(s.spec.evictor
        ? {
            evicted: {
              perRequest: Math.round((keysDeleted / Math.max(1, evictions)) * 100) / 100,
              asked: Math.round((keysAsked / Math.max(1, evictions)) * 100) / 100,
            },
          }
        : {}),
      ...toLoadResult(concurrency, measured, warmup),
    };
    printRun(result);
    return result;
  });
}
