import { setTimeout as sleep } from 'node:timers/promises';
import type { FeatureMode, FeatureRequestCount } from './featuresReport.js';
import type { BeforeEach, Task } from '../shared/load.js';
import type { RedisCommand, RedisMonitor } from '../shared/redisMonitor.js';
import { labelOf, stats, transactionControl } from '../shared/statements.js';

/**
 * Commands and statements per request of each features mode, over sequential requests on a gateway
 * nothing else uses: the SQL through the wire proxy (statementProxy.ts), the Redis commands through
 * MONITOR (redisMonitor.ts). Write-backs run after the response, so each request gets SETTLE_MS
 * before its counts are taken.
 */
const SETTLE_MS = 60;

type Kind = 'listing' | 'user';
const kindOf = (key: string | undefined): Kind | null =>
  (/^feat:v\d+:(listing|user):/.exec(key ?? '')?.[1] as Kind | undefined) ?? null;

interface RedisTally {
  mget: Record<Kind, number>;
  pipelines: Record<Kind, number>;
  sets: Record<Kind, number>;
  other: Record<string, number>;
}

/**
 * One request's commands. A write-back is one pipeline of SETs, which MONITOR shows as consecutive
 * SETs of one kind from one connection; a run of them counts as one round trip.
 */
function tallyRedis(commands: RedisCommand[]): RedisTally {
  const tally: RedisTally = {
    mget: { listing: 0, user: 0 },
    pipelines: { listing: 0, user: 0 },
    sets: { listing: 0, user: 0 },
    other: {},
  };
  let previous: string | null = null;
  for (const c of commands) {
    const kind = kindOf(c.args[0]);
    if (c.name === 'mget' && kind) {
      tally.mget[kind] += 1;
      previous = null;
    } else if (c.name === 'set' && kind) {
      const group = `${c.source} ${kind}`;
      if (group !== previous) tally.pipelines[kind] += 1;
      tally.sets[kind] += 1;
      previous = group;
    } else {
      const family = kind ?? (c.args[0]?.split(':')[0] || '-');
      const label = `${c.name.toUpperCase()} ${family}`;
      tally.other[label] = (tally.other[label] ?? 0) + 1;
      previous = null;
    }
  }
  return tally;
}

export interface CountingProbes {
  statements: { take: () => string[] };
  redis: RedisMonitor;
}

/**
 * Runs `requests` requests one at a time (after one uncounted request) and counts each one's
 * commands and statements. `beforeEach` (the uncached mode's eviction) runs outside the count: its
 * connection is excluded from the monitor.
 */
export async function countFeatureRequests(
  mode: FeatureMode,
  task: Task,
  probes: CountingProbes,
  requests: number,
  beforeEach?: BeforeEach,
): Promise<FeatureRequestCount> {
  await beforeEach?.(requests);
  await task(requests, 0);
  await sleep(SETTLE_MS);
  probes.statements.take();
  probes.redis.take();
  const tallies: RedisTally[] = [];
  const sql: { plain: number; listing: number; user: number }[] = [];
  const breakdown: Record<string, number> = {};
  for (let i = 0; i < requests; i += 1) {
    await beforeEach?.(i);
    await task(i, 0);
    await sleep(SETTLE_MS);
    const texts = probes.statements.take().filter((t) => !transactionControl.test(t));
    for (const t of texts) breakdown[labelOf(t)] = (breakdown[labelOf(t)] ?? 0) + 1;
    sql.push({
      plain: texts.length,
      listing: texts.filter((t) => t.includes('listing_features(')).length,
      user: texts.filter((t) => t.includes('user_features(')).length,
    });
    tallies.push(tallyRedis(probes.redis.take()));
  }
  const perKind = (pick: (t: RedisTally) => Record<Kind, number>) => ({
    listing: stats(tallies.map((t) => pick(t).listing)),
    user: stats(tallies.map((t) => pick(t).user)),
  });
  const other: Record<string, number> = {};
  for (const t of tallies)
    for (const [label, n] of Object.entries(t.other)) other[label] = (other[label] ?? 0) + n;
  const roundTrips = tallies.map(
    (t) =>
      t.mget.listing +
      t.mget.user +
      t.pipelines.listing +
      t.pipelines.user +
      Object.values(t.other).reduce((a, b) => a + b, 0),
  );
  return {
    mode,
    requests,
    redis: {
      mget: perKind((t) => t.mget),
      writeBackPipelines: perKind((t) => t.pipelines),
      setCommands: perKind((t) => t.sets),
      other,
      roundTrips: stats(roundTrips),
    },
    sql: {
      statements: stats(sql.map((s) => s.plain)),
      featureStatements: {
        listing: stats(sql.map((s) => s.listing)),
        user: stats(sql.map((s) => s.user)),
      },
      breakdown,
    },
  };
}
