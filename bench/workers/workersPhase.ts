import os from 'node:os';
import { BENCH_REDIS_PREFIX, redact, type BenchSettings } from '../shared/settings.js';
import { WORKER_ARGS } from './workerProcess.js';
import { DRAIN_POLL_MS, runDrain } from './workersDrain.js';
import type { DrainRun, SteadyRun, WorkersResults } from './workersReport.js';
import { dropSnapshot, stateDigest, takeSnapshot } from './workersState.js';
import { runSteady } from './workersSteady.js';
import { createItemSource, kindCounts, planWorkload } from './workersWorkload.js';

/**
 * The workers phase (issue #7): how many events_queue items a second 1, 2 and 4 worker processes
 * finish on a queue of 50,000, and how old items get when one process is fed at half its rate. See
 * bench/README.md, "Workers phase".
 */

const PROCESSES = [1, 2, 4];

/**
 * A worker's whole environment: production settings and quiet logs, the bench database, Redis under
 * the bench prefix (the handlers drop cached features there). Only the events consumer: discovery
 * items would come from `interests.changed`, which the workload leaves out, and maintenance would
 * run the runbook's jobs (GC, interest decay, ANALYZE of the listings) on the bench database in the
 * middle of a run. The config refuses NODE_ENV=production without DATABASE_URL and JWT_SECRET, which
 * the worker itself never uses, so both are set as the gateway has them.
 */
function workerEnv(gatewayEnv: Record<string, string>, settings: BenchSettings): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: settings.gatewayUrl,
    JWT_SECRET: gatewayEnv.JWT_SECRET ?? '',
    WORKER_DATABASE_URL: settings.workerUrl,
    WORKER_DISCOVERY: 'false',
    WORKER_MAINTENANCE: 'false',
    ...(settings.redisUrl ? { REDIS_URL: settings.redisUrl, REDIS_KEY_PREFIX: BENCH_REDIS_PREFIX } : {}),
  };
}

/** The environment as the report shows it: the URLs without passwords, the secret left out. */
function shownEnv(env: Record<string, string>): Record<string, string> {
  const { JWT_SECRET: _secret, ...rest } = env;
  return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, k.endsWith('URL') ? redact(v) : v]));
}

export async function runWorkersPhase(
  gatewayEnv: Record<string, string>,
  settings: BenchSettings,
): Promise<WorkersResults> {
  const started = performance.now();
  const date = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  const url = settings.benchUrl;
  const env = workerEnv(gatewayEnv, settings);
  const plan = await planWorkload(url, settings.dataset.seed);
  const users = plan.users.map((u) => u.userId);
  const listings = [...plan.listings.values()].reduce((n, l) => n + l.length, 0);
  const state = await takeSnapshot(url, plan);
  const before = await stateDigest(url, users);
  console.log(
    `workers: ${settings.workersItems.toLocaleString('en-US')} items per run for ${PROCESSES.join(', ')} ` +
      `process(es), ${users.length} users, ${listings} listings; snapshot taken` +
      (state.leftovers.items + state.leftovers.profiles > 0
        ? ` (an interrupted run's ${state.leftovers.items} items and ${state.leftovers.profiles} profiles put back)`
        : ''),
  );
  const runTag = Date.now().toString(36);
  const drains: DrainRun[] = [];
  let steady: SteadyRun;
  let restoredAfter: WorkersResults['state']['restoredAfter'];
  try {
    for (const processes of PROCESSES) {
      drains.push(
        await runDrain(url, env, createItemSource(plan), {
          processes,
          items: settings.workersItems,
          tag: `${runTag}-${processes}p`,
        }),
      );
    }
    const single = drains[0]?.itemsPerSec ?? 0;
    const ratePerSec = Math.max(1, Math.round(single / 2));
    console.log(
      `  steady: 1 process, ${ratePerSec} items/s for ${settings.warmupSec} s warm-up + ` +
        `${settings.workersSteadySec} s measured`,
    );
    steady = await runSteady(url, env, createItemSource(plan), {
      ratePerSec,
      warmupSec: settings.warmupSec,
      durationSec: settings.workersSteadySec,
      tag: `${runTag}-steady`,
    });
    const a = steady;
    console.log(
      `  steady: ${a.measuredItems} items, age p50/p95/max ${a.ageToStartMs.p50}/${a.ageToStartMs.p95}/` +
        `${a.ageToStartMs.max} ms to processing, ${a.ageSeenDoneMs.p50}/${a.ageSeenDoneMs.p95}/` +
        `${a.ageSeenDoneMs.max} ms to seen done; view p95_age_sec median ${a.viewP95AgeSec.median} s, ` +
        `max ${a.viewP95AgeSec.max} s; ${a.unfinished} unfinished; ${a.worker.exit}`,
    );
  } finally {
    console.log('workers: putting popularity, interests and profiles back, deleting the items, VACUUM');
    restoredAfter = await dropSnapshot(url);
  }
  const restored = (await stateDigest(url, users)) === before;
  console.log(`workers: state ${restored ? 'restored' : 'NOT restored'}`);
  return {
    date,
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg(),
    settings: {
      items: settings.workersItems,
      kinds: kindCounts(settings.workersItems),
      users: users.length,
      listings,
      workerCommand: `node ${WORKER_ARGS.join(' ')}`,
      workerEnv: shownEnv(env),
      pollMs: DRAIN_POLL_MS,
    },
    drains,
    steady,
    state: { ...state, restoredAfter, restored },
    phaseSec: (performance.now() - started) / 1000,
  };
}
