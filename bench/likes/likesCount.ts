import { setTimeout as sleep } from 'node:timers/promises';
import { startGatewayProcess } from '../shared/gatewayProcess.js';
import { createGraphqlClient } from '../shared/http.js';
import type { LikeRequestCount, LikesResults } from './likesReport.js';
import { LIKE_MODES, likeTask, type LikeMode, type Liker, type LikesEnvs } from './likesWorkload.js';
import type { Task } from '../shared/load.js';
import {
  SCRIPT_SOURCE,
  startRedisMonitor,
  type RedisCommand,
  type RedisMonitor,
} from '../shared/redisMonitor.js';
import { BENCH_REDIS_PREFIX, type BenchSettings, COUNTING_ENV } from '../shared/settings.js';
import { startStatementProxy } from '../shared/statementProxy.js';
import { labelOf, stats, transactionControl } from '../shared/statements.js';

/**
 * The likes phase's statements and commands per request: sequential likes on a gateway nothing else
 * uses, its SQL counted at the wire protocol (statementProxy.ts), its Redis commands through MONITOR
 * (redisMonitor.ts).
 */

const COUNT_REQUESTS = 20;

/** The keys a command names: EVAL/EVALSHA say how many, DEL/MGET take only keys, the rest one. */
function keysOf(c: RedisCommand): string[] {
  if (c.name === 'evalsha' || c.name === 'eval') return c.args.slice(2, 2 + Number(c.args[1] ?? 0));
  if (['del', 'unlink', 'mget', 'exists'].includes(c.name)) return c.args;
  return c.args.slice(0, 1);
}

/** `EVALSHA rl:v1:like`, `DEL feat:v1:user ×2 + feat:v1:listing`: the name and its keys' families. */
function redisLabel(c: RedisCommand): string {
  const families = new Map<string, number>();
  for (const key of keysOf(c)) {
    const family = key.split(':').slice(0, -1).join(':') || key;
    families.set(family, (families.get(family) ?? 0) + 1);
  }
  const keys = [...families].map(([family, n]) => (n > 1 ? `${family} ×${n}` : family)).join(' + ');
  return `${c.name.toUpperCase()} ${keys}`.trim();
}

/**
 * One label per round trip: the commands a script ran (MONITOR shows them after its EVALSHA, from
 * `lua`) go in brackets after it, e.g. `EVALSHA rl:v1:like [SET INCRBY PTTL]`.
 */
function roundTrips(commands: readonly RedisCommand[]): string[] {
  const trips: { label: string; inside: string[] }[] = [];
  for (const c of commands) {
    const last = trips.at(-1);
    if (c.source === SCRIPT_SOURCE && last) last.inside.push(c.name.toUpperCase());
    else trips.push({ label: redisLabel(c), inside: [] });
  }
  return trips.map((t) => (t.inside.length ? `${t.label} [${t.inside.join(' ')}]` : t.label));
}

/** A statement sent or a command issued after the response still counts for its request. */
const SETTLE_MS = 25;

/**
 * Runs `requests` likes one at a time (after one uncounted one: connecting, loading the limiter's
 * script) on a gateway nothing else uses, and counts each one's statements at the wire proxy and
 * its Redis commands through MONITOR.
 */
async function countLikeRequests(
  mode: LikeMode,
  task: Task,
  probes: { statements: { take: () => string[] }; redis: RedisMonitor },
  requests: number,
): Promise<LikeRequestCount> {
  await task(requests, 0);
  await sleep(SETTLE_MS);
  probes.statements.take();
  probes.redis.take();
  const all: number[] = [];
  const plain: number[] = [];
  const commands: number[] = [];
  const sql = { sequence: [] as string[], breakdown: {} as Record<string, number> };
  const redis = { sequence: [] as string[], breakdown: {} as Record<string, number> };
  for (let i = 0; i < requests; i += 1) {
    await task(i, 0);
    await sleep(SETTLE_MS);
    const texts = probes.statements.take().map(labelOf);
    const issued = roundTrips(probes.redis.take());
    all.push(texts.length);
    plain.push(texts.filter((t) => !transactionControl.test(t)).length);
    commands.push(issued.length);
    if (i === 0) {
      sql.sequence = texts;
      redis.sequence = issued;
    }
    for (const t of texts) sql.breakdown[t] = (sql.breakdown[t] ?? 0) + 1;
    for (const c of issued) redis.breakdown[c] = (redis.breakdown[c] ?? 0) + 1;
  }
  return {
    mode,
    requests,
    sql: { statements: stats(all), withoutTransactionControl: stats(plain), ...sql },
    redis: { commands: stats(commands), ...redis },
  };
}

/**
 * Per-request counts on gateways of their own, one at a time, whose Postgres connections go through
 * the statement proxy while a MONITOR connection watches Redis.
 */
export async function countLikeModes(
  settings: BenchSettings,
  envs: LikesEnvs,
  likerFor: (listings: readonly number[]) => Liker,
  listings: readonly number[],
  options: { runTag: string; made: { likes: number } },
  gateways: LikesResults['gateways'],
): Promise<LikeRequestCount[]> {
  console.log(`likes: counting SQL statements and Redis commands over ${COUNT_REQUESTS} likes per mode`);
  const proxy = await startStatementProxy(settings.gatewayUrl);
  const monitor = await startRedisMonitor(settings.redisUrl ?? '', BENCH_REDIS_PREFIX, new Set());
  const probes = { statements: proxy, redis: monitor };
  // The experiment is re-read on a timer, not per request: keep that read out of the counted window.
  const counting = { DATABASE_URL: proxy.url, ...COUNTING_ENV };
  const perRequest: LikeRequestCount[] = [];
  try {
    for (const [name, env, limits] of [
      ['counting, limits on', envs.limitsOn, true],
      ['counting, limits off', envs.limitsOff, false],
    ] as const) {
      const g = await startGatewayProcess({ ...env, ...counting }, `gateway (likes ${name})`);
      const client = createGraphqlClient(g.url, 1);
      try {
        for (const m of LIKE_MODES.filter((mode) => mode.limits === limits)) {
          const task = likeTask(client.post, [likerFor(listings)], { withKey: m.key, ...options });
          const count = await countLikeRequests(m.mode, task, probes, COUNT_REQUESTS);
          perRequest.push(count);
          console.log(
            `  ${m.mode.padEnd(6)} SQL ${count.sql.statements.min}–${count.sql.statements.max} ` +
              `(${count.sql.withoutTransactionControl.max} without BEGIN/COMMIT), Redis ` +
              `${count.redis.commands.min}–${count.redis.commands.max}: ${count.redis.sequence.join(', ')}`,
          );
        }
      } finally {
        client.close();
        gateways[name] = { exit: await g.stop(), peakRssMb: null };
      }
    }
  } finally {
    await monitor.close();
    await proxy.close();
  }
  return perRequest;
}
