/**
 * npm run bench:compare -- DIR [DIR …]: the feed of several built checkouts of Lodestar side by side
 * on the bench database — each DIR's `dist/main.js` started as its own gateway with the same environment
 * as the bench's, then `suggestions(first: 20)` from the same viewers, interleaved in rounds (so drift
 * of the machine falls on every build alike), at c=1 and c=16. For "what did this change cost": build
 * the other revision in a worktree (`git worktree add ../before REV && cd ../before && npm ci && npm run
 * build`) and compare it with this one (`.`). The database must exist (run `npm run bench` once) and
 * have every migration the newest build needs; each build reads it as it is (no migration, no reseed).
 * BENCH_COMPARE_QUERY='{ listings(first: 20) { … } }' compares that read instead, sent anonymously.
 */
import os from 'node:os';
import path from 'node:path';
import { signToken } from '../src/auth/signToken.js';
import { loadConfig } from '../src/config/config.js';
import { analyzeLearningEvents, pickViewers, resetLearningEvents } from './shared/database.js';
import { startGatewayProcess, type GatewayProcess } from './shared/gatewayProcess.js';
import { createGraphqlClient } from './shared/http.js';
import { runRounds, sliceMedians, type Phase } from './shared/load.js';
import { gatewayEnv, readSettings } from './shared/settings.js';

const VIEWERS = 300;
const FIRST = 20;

/** Medians over slices (sliceMedians), with the slices' requests and errors summed. */
function sliceSummary(slices: readonly Phase[]): {
  p50: number;
  rps: number;
  requests: number;
  errors: number;
} {
  const m = sliceMedians(slices);
  return {
    p50: m.p50,
    rps: m.requestsPerSec,
    requests: slices.reduce((n, s) => n + s.latencies.length, 0),
    errors: slices.reduce((n, s) => n + s.errors, 0),
  };
}

async function main(): Promise<number> {
  const dirs = process.argv.slice(2).map((dir) => path.resolve(dir));
  if (dirs.length < 1) {
    console.error('usage: npm run bench:compare -- DIR [DIR …]   (built checkouts of Lodestar)');
    return 2;
  }
  const settings = readSettings();
  const rounds = Number(process.env.BENCH_COMPARE_ROUNDS ?? 6);
  const slice = Number(process.env.BENCH_COMPARE_SLICE_SEC ?? 5);
  const query = process.env.BENCH_COMPARE_QUERY?.trim() || null;
  const env = gatewayEnv(settings);
  const config = loadConfig({ ...env, PORT: '0' });
  const viewers = await pickViewers(settings.benchUrl, VIEWERS);
  const tokens = await Promise.all(
    viewers.map((sub) => signToken(config.auth, { sub, role: 'user' }, { expiresIn: '2h' })),
  );
  // Every build starts from the same "recently served" exclusions.
  await resetLearningEvents(settings.benchUrl);
  const gateways: GatewayProcess[] = [];
  try {
    for (const [i, dir] of dirs.entries())
      gateways.push(await startGatewayProcess(env, `gateway ${i + 1}`, dir));
    if (!query) {
      // One page per viewer from each build, then what autovacuum would have done by now (it is off on
      // this server; bench/feed/loadRuns.ts): without statistics of the refilled learning_events, the
      // builds' sessions keep plans made for the emptied table.
      for (const g of gateways) {
        const client = createGraphqlClient(g.url, 1);
        const page = client.feedTask(FIRST, tokens);
        for (let i = 0; i < tokens.length; i += 1) await page(i, 0);
        client.close();
      }
      await analyzeLearningEvents(settings.benchUrl);
    }
    const load = () =>
      os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' / ');
    console.log(
      `${query ? `anonymous ${query}` : `${viewers.length} viewers, suggestions(first: ${FIRST})`}, ` +
        `${rounds} rounds of ${slice} s per build`,
    );
    console.log(`| build | c | requests | req/s (median of slices) | p50 ms (median of slices) | errors |`);
    console.log('| --- | --: | --: | --: | --: | --: |');
    for (const concurrency of [1, 16]) {
      const loadBefore = load();
      const tasks = gateways.map((g, i) => {
        const client = createGraphqlClient(g.url, concurrency);
        return {
          dir: dirs[i]!,
          // BENCH_COMPARE_QUERY: any read, sent anonymously (the reads phase's operations, for example).
          task: query ? client.queryTask(query, [''], () => {}) : client.feedTask(FIRST, tokens),
        };
      });
      const results = await runRounds(tasks, concurrency, {
        warmupSec: 3,
        durationSec: rounds * slice,
        rounds,
      });
      for (const { task, measured } of results) {
        const m = sliceSummary(measured);
        console.log(
          `| ${task.dir} | ${concurrency} | ${m.requests} | ${m.rps.toFixed(1)} | ${m.p50.toFixed(2)} | ${m.errors} |`,
        );
      }
      console.log(`load average ${loadBefore} before, ${load()} after (c=${concurrency})`);
    }
  } finally {
    for (const g of gateways) await g.stop();
  }
  return 0;
}

process.exitCode = await main();
