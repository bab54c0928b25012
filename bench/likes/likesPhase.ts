import os from 'node:os';
import { signToken } from '../../src/auth/signToken.js';
import type { Config } from '../../src/config/config.js';
import { resetLearningEvents } from '../shared/database.js';
import { memorySummary, startGatewayProcess, type GatewayProcess } from '../shared/gatewayProcess.js';
import { createGraphqlClient } from '../shared/http.js';
import { countLikeModes } from './likesCount.js';
import { activeListings, cleanUpLikes, likeTotals, pickLikers, type LikesCleanup } from './likesData.js';
import { likesOverheads, type LikeRequestCount, type LikesResults, type LikesRun } from './likesReport.js';
import {
  createLiker,
  LIKE_MODES,
  likeMutation,
  likeTask,
  partition,
  type Liker,
  type LikesEnvs,
} from './likesWorkload.js';
import { runRounds, toLoadResult } from '../shared/load.js';
import { deleteKeysMatching } from '../shared/redisMonitor.js';
import { BENCH_REDIS_PREFIX, type BenchSettings } from '../shared/settings.js';

/**
 * The likes phase: `likeListing` at c=1 and c=16, each worker a user of its own and every request a
 * new like, in three modes side by side: full (idempotency key, rate limits on), no-key (rate limits
 * only) and bare (neither), so the key's and the limiter's costs are differences within one run.
 * Then each mode's SQL statements and Redis commands per request, and a clean-up that deletes every
 * like, outbox row and key the phase made. See bench/README.md.
 */

/**
 * The config's ceiling (RATE_LIMIT_LIKES_PER_MIN accepts 1–100,000). A user makes a few hundred
 * likes a minute here at most, so the limiter runs on every request (its cost is what is measured)
 * and never refuses one.
 */
const LIKES_PER_MIN = '100000';
const ROUNDS = 5;
/** The limiter's keys under the bench prefix: emptied before and after, so every run starts a fresh window. */
const RATE_LIMIT_KEYS = `${BENCH_REDIS_PREFIX}rl:*`;

/** Hands out the users in order, each once, as likers of the given listings. */
function createLikerSupply(users: Awaited<ReturnType<typeof pickLikers>>, tokens: string[]) {
  let next = 0;
  return (listings: readonly number[]): Liker => {
    const user = users[next];
    const token = tokens[next];
    next += 1;
    if (!user || !token) throw new Error('the likes phase ran out of users');
    return createLiker(user, token, listings);
  };
}

/** `lodestar_rate_limited_total{action="like"}` from a gateway's /metrics (0 when never refused). */
async function likesRefused(g: GatewayProcess): Promise<number> {
  const text = await (await fetch(g.metricsUrl)).text();
  return Number(/^lodestar_rate_limited_total\{action="like"\} (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** The load runs: both gateways up side by side, the three modes interleaved at each concurrency. */
async function measureModes(
  settings: BenchSettings,
  envs: LikesEnvs,
  likerFor: (listings: readonly number[]) => Liker,
  listings: readonly number[],
  options: { runTag: string; made: { likes: number } },
): Promise<{ runs: LikesRun[]; refused: number; gateways: LikesResults['gateways'] }> {
  const gateways: LikesResults['gateways'] = {};
  const on = await startGatewayProcess(envs.limitsOn, 'gateway (likes, limits on)');
  const off = await startGatewayProcess(envs.limitsOff, 'gateway (likes, limits off)').catch(
    async (error: unknown) => {
      await on.stop();
      throw error;
    },
  );
  const highC = Math.max(...settings.likesConcurrencies);
  const clients = { on: createGraphqlClient(on.url, highC), off: createGraphqlClient(off.url, highC) };
  try {
    const timing = { warmupSec: settings.warmupSec, durationSec: settings.durationSec, rounds: ROUNDS };
    const runs: LikesRun[] = [];
    for (const concurrency of settings.likesConcurrencies) {
      // Every mode's workers like the same disjoint ranges, each as a user of its own.
      const ranges = partition(listings, concurrency);
      const tasks = LIKE_MODES.map((m) => ({
        ...m,
        task: likeTask((m.limits ? clients.on : clients.off).post, ranges.map(likerFor), {
          withKey: m.key,
          ...options,
        }),
      }));
      for (const { task: m, warmup, measured } of await runRounds(tasks, concurrency, timing)) {
        const run: LikesRun = {
          mode: m.mode,
          key: m.key,
          limits: m.limits,
          ...toLoadResult(concurrency, measured, warmup),
        };
        const l = run.latencyMs;
        console.log(
          `  ${run.mode.padEnd(6)} c=${String(concurrency).padEnd(3)} ${String(run.requests).padStart(5)} req ` +
            `${String(run.requestsPerSec).padStart(6)} req/s  p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms  ` +
            `errors ${run.errors}` +
            (run.firstError ? `  (first error: ${run.firstError})` : ''),
        );
        runs.push(run);
      }
    }
    return { runs, refused: await likesRefused(on), gateways };
  } finally {
    clients.on.close();
    clients.off.close();
    const [onMemory, offMemory] = [await memorySummary(on), await memorySummary(off)];
    gateways['limits on'] = { exit: await on.stop(), ...onMemory };
    gateways['limits off'] = { exit: await off.stop(), ...offMemory };
  }
}

export async function runLikesPhase(
  env: Record<string, string>,
  settings: BenchSettings,
  config: Config,
): Promise<LikesResults> {
  const redisUrl = settings.redisUrl;
  if (!redisUrl)
    throw new Error('the likes phase needs Redis (BENCH_REDIS_URL is off): the limiter lives there');
  const url = settings.benchUrl;
  const date = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  // No impressions: a like then rewards none, and the likes_reward trigger stays a single lookup.
  await resetLearningEvents(url);
  const leftovers: LikesCleanup = await cleanUpLikes(url);
  await deleteKeysMatching(redisUrl, RATE_LIMIT_KEYS);
  const totalsBefore = await likeTotals(url);
  const listings = await activeListings(url, settings.dataset.seed);
  const perMode = settings.likesConcurrencies.reduce((a, b) => a + b, 0) + 1;
  const users = await pickLikers(url, LIKE_MODES.length * perMode);
  const tokens = await Promise.all(
    users.map((u) => signToken(config.auth, { sub: u.userId, role: 'user' }, { expiresIn: '2h' })),
  );
  console.log(
    `likes: ${users.length} users, ${listings.length} active listings; learning_events emptied` +
      (leftovers.likes > 0 ? `, ${leftovers.likes} likes left by an interrupted run deleted` : ''),
  );
  const envs: LikesEnvs = {
    limitsOn: { ...env, RATE_LIMIT_LIKES_PER_MIN: LIKES_PER_MIN },
    limitsOff: { ...env, RATE_LIMITS_ENABLED: 'false' },
  };
  const likerFor = createLikerSupply(users, tokens);
  const options = { runTag: Date.now().toString(36), made: { likes: 0 } };

  let measured: Awaited<ReturnType<typeof measureModes>>;
  let perRequest: LikeRequestCount[];
  let after: LikesCleanup;
  try {
    measured = await measureModes(settings, envs, likerFor, listings, options);
    perRequest = await countLikeModes(settings, envs, likerFor, listings, options, measured.gateways);
  } finally {
    console.log('likes: deleting the phase’s likes, outbox rows and idempotency keys, then VACUUM');
    after = await cleanUpLikes(url);
    await deleteKeysMatching(redisUrl, RATE_LIMIT_KEYS);
  }
  const totalsAfter = await likeTotals(url);
  const restored = JSON.stringify(totalsAfter) === JSON.stringify(totalsBefore);
  console.log(
    `likes: ${options.made.likes} likes made, ${after.likes} deleted (VACUUM ${after.vacuumSec} s); ` +
      `totals ${restored ? 'restored' : 'NOT restored'}`,
  );
  return {
    date,
    loadAverageAtStart,
    loadAverageAtEnd: os.loadavg(),
    settings: {
      mutation: likeMutation,
      warmupSec: settings.warmupSec,
      durationSec: settings.durationSec,
      rounds: ROUNDS,
      concurrencies: settings.likesConcurrencies,
      users: users.length,
      activeListings: listings.length,
      gatewayEnv: {
        limitsOn: { RATE_LIMIT_LIKES_PER_MIN: LIKES_PER_MIN },
        limitsOff: { RATE_LIMITS_ENABLED: 'false' },
      },
    },
    runs: measured.runs,
    overheads: likesOverheads(measured.runs),
    perRequest,
    likesMade: options.made.likes,
    refusedByLimiter: measured.refused,
    cleanup: { leftovers, after, totalsBefore, totalsAfter, restored },
    gateways: measured.gateways,
  };
}
