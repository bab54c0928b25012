import type { CacheOutcome } from './featuresWorkload.js';
import type { LoadResult } from '../shared/load.js';
import type { Target } from '../shared/target.js';

/** cached / uncached: the gateway with Redis; redis-down: one whose Redis is unreachable; no-features: reference. */
export type FeatureMode = 'cached' | 'uncached' | 'redis-down' | 'no-features';

type Stats = { min: number; max: number; mean: number };

/** One mode's commands and statements per request, counted over sequential requests. */
export interface FeatureRequestCount {
  mode: FeatureMode;
  requests: number;
  redis: {
    /** MGETs per request by feature kind (the target: 1 each). */
    mget: Record<'listing' | 'user', Stats>;
    /** Write-back pipelines (consecutive SETs of one kind from one connection) and their SETs. */
    writeBackPipelines: Record<'listing' | 'user', Stats>;
    setCommands: Record<'listing' | 'user', Stats>;
    /** Every other command, summed over the requests: name (and key family) → count. */
    other: Record<string, number>;
    /** MGETs + write-back pipelines + other commands: what the request costs in Redis round trips. */
    roundTrips: Stats;
  };
  sql: {
    /** Statements per request without BEGIN/COMMIT/ROLLBACK. */
    statements: Stats;
    /** listing_features(...) / user_features(...) statements per request. */
    featureStatements: Record<'listing' | 'user', Stats>;
    breakdown: Record<string, number>;
  };
}

export interface FeaturesResults {
  date: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  settings: {
    first: number;
    query: string;
    noFeaturesQuery: string;
    viewers: number;
    warmupSec: number;
    durationSec: number;
    rounds: number;
    concurrencies: number[];
    /** The features phase's gateway environment on top of the feed phase's. */
    gatewayEnv: Record<string, string>;
    redisDownUrl: string;
  };
  /** How the cache was warmed and how stable pages were. */
  warm: { passes: number; stablePages: number; viewers: number; secondPass: CacheOutcome; note: string };
  runs: ({
    mode: FeatureMode;
    cache: CacheOutcome;
    evicted?: { perRequest: number; asked: number };
  } & LoadResult)[];
  perRequest: FeatureRequestCount[];
  /** How each gateway ended; the measured ones' peak RSS (VmHWM) and V8 heap at the end. */
  gateways: Record<
    string,
    { exit: string; peakRssMb: number | null; heapUsedMb?: number; heapTotalMb?: number }
  >;
  targets: Target[];
}

export function evaluateFeatureTargets(perRequest: FeatureRequestCount[]): Target[] {
  const find = (mode: FeatureMode) => perRequest.find((p) => p.mode === mode);
  const targets: Target[] = [];
  for (const mode of ['cached', 'uncached'] as const) {
    const c = find(mode);
    if (!c) continue;
    const { listing, user } = c.redis.mget;
    targets.push({
      name: `Redis MGETs per feature kind per request (${mode})`,
      value: `listing ${listing.max}, user ${user.max} (max)`,
      target: '1 per kind',
      pass: listing.min === 1 && listing.max === 1 && user.min === 1 && user.max === 1,
    });
  }
  const sqlTarget = (mode: FeatureMode, want: number) => {
    const c = find(mode);
    if (!c) return;
    const { listing, user } = c.sql.featureStatements;
    targets.push({
      name: `feature SQL statements per request (${mode})`,
      value: `listing ${listing.max}, user ${user.max} (max)`,
      target: `${want} per kind`,
      pass: [listing.min, listing.max, user.min, user.max].every((n) => n === want),
    });
  };
  sqlTarget('cached', 0);
  sqlTarget('uncached', 1);
  sqlTarget('redis-down', 1);
  return targets;
}

const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((part / whole) * 100)} %` : 'n/a');
const hitRate = (o: CacheOutcome, kind: 'listing' | 'user') => {
  const l = o.lookups[kind];
  return l.bypass > 0 && l.hit + l.miss === 0 ? 'bypass' : pct(l.hit, l.hit + l.miss + l.bypass);
};
const mm = (s: Stats) => (s.min === s.max ? `${s.max}` : `${s.min}–${s.max}`);

export function featuresMarkdown(r: FeaturesResults): string {
  const s = r.settings;
  const lines = [
    `# Feature store bench, ${r.date}`,
    '',
    `- Query: \`${s.query}\` (no-features reference: \`${s.noFeaturesQuery}\`)`,
    `- ${s.viewers} viewers rotating; each concurrency: ${s.warmupSec} s warm-up per mode, then ${s.rounds} ` +
      `rounds of ${s.durationSec / s.rounds} s per mode, modes interleaved (${s.durationSec} s measured per mode)`,
    `- Gateways: ${Object.entries(s.gatewayEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}; redis-down: REDIS_URL=${s.redisDownUrl}`,
    `- Load average ${r.loadAverageAtStart.map((n) => n.toFixed(2)).join(' / ')} at the start, ` +
      `${r.loadAverageAtEnd.map((n) => n.toFixed(2)).join(' / ')} at the end`,
    `- Warm: ${r.warm.note}`,
    '',
    '| Mode | Concurrency | Requests | req/s | p50 ms | p95 ms | p99 ms | Errors | listing hits | user hits |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.runs.map(
      (run) =>
        `| ${run.mode} | ${run.concurrency} | ${run.requests.toLocaleString('en-US')} | ${run.requestsPerSec} | ` +
        `${run.latencyMs.p50} | ${run.latencyMs.p95} | ${run.latencyMs.p99} | ${run.errors} | ` +
        (run.mode === 'no-features'
          ? '– | – |'
          : `${hitRate(run.cache, 'listing')} | ${hitRate(run.cache, 'user')} |`),
    ),
    '',
    ...r.runs
      .filter((run) => run.evicted)
      .map(
        (run) =>
          `Uncached c=${run.concurrency}: on average ${run.evicted?.perRequest} of the ${run.evicted?.asked} keys a ` +
          'request reads were cached and deleted just before it (fewer: a concurrent request sharing listings had ' +
          'deleted some and not yet written them back).',
      ),
    '',
    'Per request, over sequential requests (min–max; Redis counted with MONITOR, SQL at the wire protocol):',
    '',
    '| Mode | Requests | MGET listing / user | write-back pipelines listing / user (SETs) | other Redis commands | Redis round trips | SQL statements | feature SQL listing / user |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
    ...r.perRequest.map((c) => {
      const other = Object.entries(c.redis.other).map(([k, n]) => `${k} ×${n}`);
      return (
        `| ${c.mode} | ${c.requests} | ${mm(c.redis.mget.listing)} / ${mm(c.redis.mget.user)} | ` +
        `${mm(c.redis.writeBackPipelines.listing)} / ${mm(c.redis.writeBackPipelines.user)} ` +
        `(${mm(c.redis.setCommands.listing)} / ${mm(c.redis.setCommands.user)}) | ` +
        `${other.length ? other.join(', ') : 'none'} | ${mm(c.redis.roundTrips)} | ${mm(c.sql.statements)} | ` +
        `${mm(c.sql.featureStatements.listing)} / ${mm(c.sql.featureStatements.user)} |`
      );
    }),
    '',
    '| Target | Value | Wanted | Result |',
    '| --- | --- | --- | --- |',
    ...r.targets.map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.pass ? 'PASS' : 'FAIL'} |`),
    '',
    `Gateways: ${Object.entries(r.gateways)
      .map(
        ([name, g]) =>
          `${name} ${g.exit}` +
          (g.peakRssMb === null ? '' : `, peak RSS ${g.peakRssMb} MB`) +
          (g.heapTotalMb === undefined
            ? ''
            : `, V8 heap ${g.heapUsedMb} / ${g.heapTotalMb} MB used / total at the end`),
      )
      .join('; ')}.`,
    '',
  ];
  const errors = r.runs.flatMap((run) =>
    Object.entries(run.cache.errors).map(([op, n]) => `${run.mode} c=${run.concurrency}: ${op} ×${n}`),
  );
  if (errors.length > 0) lines.push(`Feature cache errors (gateway counters): ${errors.join(', ')}.`, '');
  return lines.join('\n');
}
