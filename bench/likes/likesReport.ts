import type { LikesCleanup, LikeTotals } from './likesData.js';
import type { LikeMode } from './likesWorkload.js';
import type { LoadResult } from '../shared/load.js';

type Stats = { min: number; max: number; mean: number };

/** One mode's statements and commands per request, over sequential requests. */
export interface LikeRequestCount {
  mode: LikeMode;
  requests: number;
  sql: {
    /** Every statement, BEGIN and COMMIT included. */
    statements: Stats;
    withoutTransactionControl: Stats;
    /** The first counted request's statements, in order. */
    sequence: string[];
    /** Summed over the requests: statement label → count. */
    breakdown: Record<string, number>;
  };
  redis: {
    /**
     * Round trips per request: commands the gateway sent (it pipelines none of these), not counting
     * the ones a script ran inside Redis (listed in brackets in `sequence`).
     */
    commands: Stats;
    sequence: string[];
    breakdown: Record<string, number>;
  };
}

export type LikesRun = { mode: LikeMode; key: boolean; limits: boolean } & LoadResult;

/** What one feature adds: the mode with it minus the mode without it, at one concurrency. */
export interface LikesOverhead {
  what: 'idempotency key' | 'rate limits' | 'key + limits';
  with: LikeMode;
  without: LikeMode;
  concurrency: number;
  /** Latency differences, with minus without, in ms. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
  /** req/s with / req/s without. */
  throughputRatio: number;
}

export interface LikesResults {
  date: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  settings: {
    mutation: string;
    warmupSec: number;
    durationSec: number;
    rounds: number;
    concurrencies: number[];
    /** Distinct users: one per worker per mode per concurrency, and one per mode for the count. */
    users: number;
    activeListings: number;
    /** On top of the feed phase's gateway environment. */
    gatewayEnv: { limitsOn: Record<string, string>; limitsOff: Record<string, string> };
  };
  runs: LikesRun[];
  overheads: LikesOverhead[];
  perRequest: LikeRequestCount[];
  /** Likes the phase's requests made (warm-up and counting included) and RATE_LIMITED refusals. */
  likesMade: number;
  refusedByLimiter: number;
  cleanup: {
    /** What an interrupted earlier run had left, deleted before this one started. */
    leftovers: LikesCleanup;
    after: LikesCleanup;
    totalsBefore: LikeTotals;
    totalsAfter: LikeTotals;
    restored: boolean;
  };
  gateways: Record<
    string,
    { exit: string; peakRssMb: number | null; heapUsedMb?: number; heapTotalMb?: number }
  >;
}

const OVERHEADS = [
  ['idempotency key', 'full', 'no-key'],
  ['rate limits', 'no-key', 'bare'],
  ['key + limits', 'full', 'bare'],
] as const;

export function likesOverheads(runs: readonly LikesRun[]): LikesOverhead[] {
  const round2 = (n: number) => Math.round(n * 100) / 100;
  const overheads: LikesOverhead[] = [];
  for (const concurrency of [...new Set(runs.map((r) => r.concurrency))]) {
    const find = (mode: LikeMode) => runs.find((r) => r.mode === mode && r.concurrency === concurrency);
    for (const [what, withMode, withoutMode] of OVERHEADS) {
      const a = find(withMode);
      const b = find(withoutMode);
      if (!a || !b) continue;
      overheads.push({
        what,
        with: withMode,
        without: withoutMode,
        concurrency,
        p50Ms: round2(a.latencyMs.p50 - b.latencyMs.p50),
        p95Ms: round2(a.latencyMs.p95 - b.latencyMs.p95),
        p99Ms: round2(a.latencyMs.p99 - b.latencyMs.p99),
        meanMs: round2(a.latencyMs.mean - b.latencyMs.mean),
        throughputRatio: round2(a.requestsPerSec / b.requestsPerSec),
      });
    }
  }
  return overheads;
}

const signed = (n: number) => (n > 0 ? `+${n.toFixed(2)}` : n.toFixed(2));
const mm = (s: { min: number; max: number }) => (s.min === s.max ? `${s.max}` : `${s.min}–${s.max}`);
const env = (e: Record<string, string>) =>
  Object.entries(e)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

export function likesMarkdown(r: LikesResults): string {
  const s = r.settings;
  const c = r.cleanup;
  const t = (x: LikeTotals) =>
    `${x.likes.toLocaleString('en-US')} likes, like_count sum ${x.likeCountSum.toLocaleString('en-US')}, ` +
    `${x.outboxRows} outbox rows, ${x.idempotencyKeys} idempotency keys`;
  const lines = [
    `# Likes bench, ${r.date}`,
    '',
    `- Mutation: \`${s.mutation}\`, every request a new like (\`changed: true\` checked) of an active listing`,
    `- ${s.users} distinct users (one per worker, mode and concurrency); concurrent workers like disjoint ` +
      `ranges of the ${s.activeListings.toLocaleString('en-US')} active listings (shuffled)`,
    `- Each concurrency: ${s.warmupSec} s warm-up per mode, then ${s.rounds} rounds of ` +
      `${s.durationSec / s.rounds} s per mode, modes interleaved (${s.durationSec} s measured per mode)`,
    `- Gateways: limits on (${env(s.gatewayEnv.limitsOn)}) serves full and no-key; limits off ` +
      `(${env(s.gatewayEnv.limitsOff)}) serves bare`,
    `- Load average ${r.loadAverageAtStart.map((n) => n.toFixed(2)).join(' / ')} at the start, ` +
      `${r.loadAverageAtEnd.map((n) => n.toFixed(2)).join(' / ')} at the end`,
    '',
    '| Mode | Idempotency key | Rate limits | Concurrency | Requests | req/s | p50 ms | p95 ms | p99 ms | Errors |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.runs.map(
      (run) =>
        `| ${run.mode} | ${run.key ? 'yes' : 'no'} | ${run.limits ? 'on' : 'off'} | ${run.concurrency} | ` +
        `${run.requests.toLocaleString('en-US')} | ${run.requestsPerSec} | ${run.latencyMs.p50} | ` +
        `${run.latencyMs.p95} | ${run.latencyMs.p99} | ${run.errors} |`,
    ),
    '',
    '| Overhead (with − without) | Concurrency | Δp50 ms | Δp95 ms | Δp99 ms | Δmean ms | req/s with / without |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.overheads.map(
      (o) =>
        `| ${o.what} (${o.with} − ${o.without}) | ${o.concurrency} | ${signed(o.p50Ms)} | ${signed(o.p95Ms)} | ` +
        `${signed(o.p99Ms)} | ${signed(o.meanMs)} | ${o.throughputRatio.toFixed(2)} |`,
    ),
    '',
    'Per request, over sequential requests (min–max; SQL at the wire protocol, Redis with MONITOR):',
    '',
    '| Mode | Requests | SQL statements | without BEGIN/COMMIT | Redis round trips | Redis commands (a script’s in brackets) |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...r.perRequest.map(
      (p) =>
        `| ${p.mode} | ${p.requests} | ${mm(p.sql.statements)} | ${mm(p.sql.withoutTransactionControl)} | ` +
        `${mm(p.redis.commands)} | ${p.redis.sequence.map((x) => `\`${x}\``).join(', ') || 'none'} |`,
    ),
    '',
    ...r.perRequest.flatMap((p) => [
      `SQL of one ${p.mode} like, in order: ${p.sql.sequence.map((x) => `\`${x.slice(0, 70)}\``).join(', ')}.`,
      '',
    ]),
    `Likes made: ${r.likesMade.toLocaleString('en-US')}; refused by the rate limiter: ${r.refusedByLimiter}.`,
    '',
    `Clean-up: deleted ${c.after.likes.toLocaleString('en-US')} likes, ` +
      `${c.after.outboxRows.toLocaleString('en-US')} outbox rows and ` +
      `${c.after.idempotencyKeys.toLocaleString('en-US')} idempotency keys, then VACUUM (${c.after.vacuumSec} s)` +
      (c.leftovers.likes + c.leftovers.outboxRows + c.leftovers.idempotencyKeys > 0
        ? `; before the run, ${c.leftovers.likes} likes, ${c.leftovers.outboxRows} outbox rows and ` +
          `${c.leftovers.idempotencyKeys} keys an interrupted run had left`
        : '') +
      `. Before: ${t(c.totalsBefore)}; after: ${t(c.totalsAfter)}: ` +
      (c.restored ? 'restored.' : '**not restored**.'),
    '',
    `Gateways: ${Object.entries(r.gateways)
      .map(
        ([name, g]) =>
          `${name} ${g.exit}` +
          (g.peakRssMb === null ? '' : `, peak RSS ${g.peakRssMb} MB`) +
          (g.heapTotalMb === undefined ? '' : `, V8 heap ${g.heapUsedMb} / ${g.heapTotalMb} MB at the end`),
      )
      .join('; ')}.`,
    '',
  ];
  return lines.join('\n');
}
