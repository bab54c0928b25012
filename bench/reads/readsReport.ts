/** The reads phase's results (latest.json `reads`), its ratios, targets (issue #17, target 1) and Markdown. */
import { median } from '../shared/load.js';
import type { Target } from '../shared/target.js';
import type { Side } from './readsOps.js';

/** One measured slice of one operation on one side at one concurrency. */
export interface ReadsSlice {
  operation: string;
  side: Side;
  concurrency: number;
  round: number;
  requests: number;
  errors: number;
  requestsPerSec: number;
  p50Ms: number;
}

/** Medians over an operation's slices on one side at one concurrency. */
export interface SideSummary {
  slices: number;
  requests: number;
  errors: number;
  requestsPerSec: number;
  p50Ms: number;
}

export interface ReadsRow {
  operation: string;
  concurrency: number;
  lodestar: SideSummary;
  postgraphile: SideSummary;
  /** Lodestar req/s ÷ PostGraphile req/s: above 1, Lodestar serves more. */
  throughputRatio: number;
  /** PostGraphile p50 ÷ Lodestar p50: above 1, Lodestar answers sooner (a speed ratio, like the one above). */
  latencyRatio: number;
}

export interface ReadsResults {
  date: string;
  node: string;
  cpus: number;
  loadAverage: { atStart: number[]; atEnd: number[] };
  settings: {
    rounds: number;
    warmupSec: number;
    sliceSec: number;
    concurrencies: number[];
    poolMax: number;
    peer: string;
    identity: string;
  };
  operations: { name: string; description: string; lodestar: string; postgraphile: string }[];
  slices: ReadsSlice[];
  rows: ReadsRow[];
  geomeans: { concurrency: number; throughputRatio: number; latencyRatio: number }[];
  rss: { lodestarPeakMb: number | null; postgraphilePeakMb: number | null };
  exits: { lodestar: string; postgraphile: string };
  targets: Target[];
}

/** Geometric mean of positive ratios; NaN for none or for a ratio that is not positive. */
export function geomean(values: readonly number[]): number {
  if (values.length === 0 || values.some((v) => !(v > 0))) return Number.NaN;
  return Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
}

const round2 = (n: number) => Math.round(n * 100) / 100;

function summarize(slices: readonly ReadsSlice[]): SideSummary {
  return {
    slices: slices.length,
    requests: slices.reduce((n, s) => n + s.requests, 0),
    errors: slices.reduce((n, s) => n + s.errors, 0),
    requestsPerSec: round2(median(slices.map((s) => s.requestsPerSec))),
    p50Ms: round2(median(slices.map((s) => s.p50Ms))),
  };
}

/** Per operation and concurrency (in the order first seen): both sides' medians of slices and the ratios. */
export function compareSides(slices: readonly ReadsSlice[]): ReadsRow[] {
  const keys: { operation: string; concurrency: number }[] = [];
  for (const s of slices) {
    if (!keys.some((k) => k.operation === s.operation && k.concurrency === s.concurrency)) {
      keys.push({ operation: s.operation, concurrency: s.concurrency });
    }
  }
  return keys.map(({ operation, concurrency }) => {
    const of = (side: Side) =>
      summarize(
        slices.filter((s) => s.operation === operation && s.concurrency === concurrency && s.side === side),
      );
    const lodestar = of('lodestar');
    const postgraphile = of('postgraphile');
    return {
      operation,
      concurrency,
      lodestar,
      postgraphile,
      throughputRatio: round2(lodestar.requestsPerSec / postgraphile.requestsPerSec),
      latencyRatio: round2(postgraphile.p50Ms / lodestar.p50Ms),
    };
  });
}

/** Geometric means of both ratios over the operations, per concurrency. */
export function geomeans(rows: readonly ReadsRow[]): ReadsResults['geomeans'] {
  const concurrencies = [...new Set(rows.map((r) => r.concurrency))];
  return concurrencies.map((concurrency) => {
    const of = rows.filter((r) => r.concurrency === concurrency);
    return {
      concurrency,
      throughputRatio: round2(geomean(of.map((r) => r.throughputRatio))),
      latencyRatio: round2(geomean(of.map((r) => r.latencyRatio))),
    };
  });
}

/**
 * Issue #17 target 1: at the high concurrency every operation's req/s ≥ 0.9× PostGraphile's and their
 * geometric mean ≥ 1.0×; at c=1 the same bounds on the p50 speed ratio. A failed request anywhere fails.
 */
export function evaluateReadsTargets(
  rows: readonly ReadsRow[],
  means: ReadsResults['geomeans'],
  lowC: number,
  highC: number,
): Target[] {
  const ratioList = (of: readonly ReadsRow[], pick: (r: ReadsRow) => number) =>
    of.map((r) => `${r.operation} ${pick(r).toFixed(2)}×`).join(', ');
  const high = rows.filter((r) => r.concurrency === highC);
  const low = rows.filter((r) => r.concurrency === lowC);
  const highMean = means.find((m) => m.concurrency === highC)?.throughputRatio ?? Number.NaN;
  const lowMean = means.find((m) => m.concurrency === lowC)?.latencyRatio ?? Number.NaN;
  const errors = rows.reduce((n, r) => n + r.lodestar.errors + r.postgraphile.errors, 0);
  const worst = (of: readonly ReadsRow[], pick: (r: ReadsRow) => number) =>
    of.length > 0 && of.every((r) => pick(r) >= 0.9);
  return [
    {
      name: `every operation: Lodestar req/s ÷ PostGraphile req/s at c=${highC}`,
      value: ratioList(high, (r) => r.throughputRatio),
      target: '≥ 0.9× each',
      pass: worst(high, (r) => r.throughputRatio),
    },
    {
      name: `geometric mean of the req/s ratios at c=${highC}`,
      value: `${highMean.toFixed(2)}×`,
      target: '≥ 1.0×',
      pass: highMean >= 1,
    },
    {
      name: `every operation: PostGraphile p50 ÷ Lodestar p50 at c=${lowC}`,
      value: ratioList(low, (r) => r.latencyRatio),
      target: '≥ 0.9× each',
      pass: worst(low, (r) => r.latencyRatio),
    },
    {
      name: `geometric mean of the p50 speed ratios at c=${lowC}`,
      value: `${lowMean.toFixed(2)}×`,
      target: '≥ 1.0×',
      pass: lowMean >= 1,
    },
    { name: 'failed requests, both sides', value: String(errors), target: '0', pass: errors === 0 },
  ];
}

const fmt = (n: number) => n.toLocaleString('en-US');
const loads = (l: number[]) => l.map((n) => n.toFixed(2)).join(' / ');

export function readsMarkdown(r: ReadsResults): string {
  const s = r.settings;
  const [lowC, highC] = [Math.min(...s.concurrencies), Math.max(...s.concurrencies)];
  const row = (operation: string, c: number) =>
    r.rows.find((x) => x.operation === operation && x.concurrency === c);
  const mb = (v: number | null) => (v === null ? 'n/a' : `${v} MB`);
  const lines = [
    `# Reads bench (Lodestar vs PostGraphile), ${r.date}`,
    '',
    `- Machine: Node ${r.node}, ${r.cpus} CPUs; load average at start ${loads(r.loadAverage.atStart)}, ` +
      `at end ${loads(r.loadAverage.atEnd)} (1 / 5 / 15 min; a shared machine)`,
    `- Each concurrency: a warm-up of ${s.warmupSec} s per operation and side, then ${s.rounds} rounds in which ` +
      `every operation runs ${s.sliceSec} s on each side in turn; medians of the slices`,
    `- Both: ${s.poolMax} connections, the same login and role, ${s.identity}; peer: ${s.peer}`,
    '',
    `| Operation | Lodestar req/s c=${highC} | PostGraphile req/s c=${highC} | ratio | ` +
      `Lodestar p50 c=${lowC} | PostGraphile p50 c=${lowC} | speed ratio |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.operations.map(({ name }) => {
      const high = row(name, highC);
      const low = row(name, lowC);
      return (
        `| ${name} | ${high ? fmt(high.lodestar.requestsPerSec) : 'n/a'} | ` +
        `${high ? fmt(high.postgraphile.requestsPerSec) : 'n/a'} | ${high ? `${high.throughputRatio.toFixed(2)}×` : 'n/a'} | ` +
        `${low ? `${low.lodestar.p50Ms} ms` : 'n/a'} | ${low ? `${low.postgraphile.p50Ms} ms` : 'n/a'} | ` +
        `${low ? `${low.latencyRatio.toFixed(2)}×` : 'n/a'} |`
      );
    }),
    `| **geometric mean** | | | **${(r.geomeans.find((g) => g.concurrency === highC)?.throughputRatio ?? NaN).toFixed(2)}×** | | | ` +
      `**${(r.geomeans.find((g) => g.concurrency === lowC)?.latencyRatio ?? NaN).toFixed(2)}×** |`,
    '',
    `Ratio: Lodestar req/s ÷ PostGraphile req/s. Speed ratio: PostGraphile p50 ÷ Lodestar p50 (above 1, ` +
      `Lodestar is faster). Peak RSS (VmHWM): Lodestar ${mb(r.rss.lodestarPeakMb)}, PostGraphile ` +
      `${mb(r.rss.postgraphilePeakMb)}. Stopped with SIGTERM: Lodestar ${r.exits.lodestar}, PostGraphile ${r.exits.postgraphile}.`,
    '',
    '| Target | Value | Wanted | Result |',
    '| --- | --- | --- | --- |',
    ...r.targets.map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.pass ? 'PASS' : 'FAIL'} |`),
    '',
    '| Operation | What is read |',
    '| --- | --- |',
    ...r.operations.map((o) => `| ${o.name} | ${o.description} |`),
    '',
  ];
  return lines.join('\n');
}
