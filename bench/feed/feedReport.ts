/** The feed phase's results (the top of latest.json), its targets and its Markdown section. */
import type { DatasetInfo } from '../shared/database.js';
import type { CpuReading } from '../shared/cpu.js';
import type { LoadResult } from '../shared/load.js';
import type { StatementCount } from '../shared/statements.js';
import type { Target } from '../shared/target.js';

export interface HeapSnapshot {
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

export interface BenchResults {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  /** 1/5/15-minute load averages when the bench started: the machine is shared. */
  loadAverageAtStart: number[];
  dataset: DatasetInfo & { dimensions: number };
  settings: {
    durationSec: number;
    warmupSec: number;
    /** Rounds the gateway and the bare vector search alternated in (absent in results before 2026-12-05). */
    rounds?: number;
    viewers: number;
    first: number;
    query: string;
    gatewayPoolMax: number;
    servicePoolMax: number;
  };
  /** How the gateway ran: its own process, built from this tree. */
  gateway: {
    command: string;
    /** `npm run build` time, or why it was skipped. */
    build: string;
    redis: string;
    /** How each gateway process ended on SIGTERM (the measured one, then the counting one). */
    exits: { load: string; counting: string };
  };
  runs: ({
    path: 'gateway' | 'raw-sql' | 'raw-sql-uncached' | 'bare-ann';
    /**
     * The interleaved runs (gateway, bare-ann): CPU ms per request of the gateway, Postgres, Redis and
     * the bench process (load generator, raw pool) over their measured slices (bench/shared/cpu.ts).
     */
    cpuMsPerRequest?: CpuReading | null;
  } & LoadResult)[];
  ratios: {
    p50GatewayOverRawAtC1: number;
    throughputGatewayOverRawAtHighC: number;
    /**
     * Issue #17, target 2: the feed against the vector search it rests on (bench/feed/rawSql.ts
     * bareAnnSql), measured in alternating slices: medians of the slices' p50 and req/s.
     */
    p50GatewayOverAnnAtC1: number;
    throughputGatewayOverAnnAtHighC: number;
  };
  statements: StatementCount[];
  /**
   * The gateway's personal pages by kept-candidates outcome (lodestar_feed_candidate_memory_total: hit =
   * ranked from the viewer's kept candidates, miss / expired / short = read them) over each interleaved
   * run, warm-ups included ("c=1", "c=16"); absent in results before 2026-12-06.
   */
  candidateMemory?: Record<string, Record<string, number>>;
  /** The gateway process's memory (the bench process is not in it). */
  rss: {
    source: string;
    /** After /readyz, before any request. */
    readyMb: number;
    /** Median while the gateway idled during the raw-SQL c=1 run, after its own c=1 run. */
    idleAfterWarmupMb: number;
    /** Highest sample during each gateway run ("c=1", "c=16"). */
    peakByRunMb: Record<string, number>;
    /** VmHWM at the end: the highest RSS over the process's whole life. */
    peakMb: number;
    /** After all runs, before SIGTERM. */
    endMb: number;
    /** From the gateway's /metrics (prom-client defaults) when ready, idle after c=1, and at the end. */
    heap: { ready: HeapSnapshot; idle: HeapSnapshot | null; end: HeapSnapshot };
    samples: number;
    note: string;
  };
  targets: Target[];
}

export function evaluateTargets(r: Omit<BenchResults, 'targets'>, highC: number): Target[] {
  const maxStatements = Math.max(...r.statements.map((s) => s.perRequest.max));
  const perFirst = r.statements.map((s) => `${s.perRequest.max} (first ${s.first})`).join(', ');
  const counted = r.statements.filter((s) => s.data && s.apart);
  const maxData = Math.max(...counted.map((s) => s.data!.max));
  const maxApart = Math.max(...counted.map((s) => s.apart!.max));
  return [
    {
      name: 'SQL statements per feed request (max over requests)',
      value: perFirst,
      target: '≤ 4 whatever `first` is',
      pass: maxStatements <= 4,
    },
    ...(counted.length === 0
      ? []
      : [
          {
            name: 'data statements per feed page, the role lookup apart (max)',
            value: `${maxData} (role lookups ≤ ${maxApart})`,
            target: '≤ 2, role lookup ≤ 1 (issue #17)',
            pass: maxData <= 2 && maxApart <= 1,
          },
        ]),
    {
      name: 'gateway p50 / raw-SQL p50 at c=1',
      value: `${r.ratios.p50GatewayOverRawAtC1.toFixed(2)}×`,
      target: '≤ 1.5×',
      pass: r.ratios.p50GatewayOverRawAtC1 <= 1.5,
    },
    {
      name: `gateway / raw-SQL throughput at c=${highC}`,
      value: `${(r.ratios.throughputGatewayOverRawAtHighC * 100).toFixed(0)} %`,
      target: '≥ 50 %',
      pass: r.ratios.throughputGatewayOverRawAtHighC >= 0.5,
    },
    {
      name: 'gateway p50 / bare vector search p50 at c=1',
      value: `${r.ratios.p50GatewayOverAnnAtC1.toFixed(2)}×`,
      target: '≤ 1.5× (issue #17)',
      pass: r.ratios.p50GatewayOverAnnAtC1 <= 1.5,
    },
    {
      name: `gateway / bare vector search throughput at c=${highC}`,
      value: `${r.ratios.throughputGatewayOverAnnAtHighC.toFixed(2)}×`,
      target: '≥ 0.7× (issue #17)',
      pass: r.ratios.throughputGatewayOverAnnAtHighC >= 0.7,
    },
    {
      name: 'gateway process RSS, peak over its life (VmHWM)',
      value: `${r.rss.peakMb} MB`,
      target: '< 200 MB (issue #17)',
      pass: r.rss.peakMb < 200,
    },
  ];
}

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * Where a request's CPU goes, for the runs that measured it: with n cores the throughput is bounded by
 * n × 1000 ms ÷ the total, so the split says which process a lever has to make cheaper.
 */
function cpuTable(r: BenchResults): string[] {
  const measured = r.runs.filter((run) => run.cpuMsPerRequest);
  if (measured.length === 0) return [];
  const parts = Object.keys(measured[0]!.cpuMsPerRequest!);
  return [
    `| CPU ms per request (measured slices, /proc) | ${parts.join(' | ')} | total | req/s with all ${r.cpus} cores busy |`,
    `| --- |${parts.map(() => ' ---: |').join('')} ---: | ---: |`,
    ...measured.map((run) => {
      const use = run.cpuMsPerRequest!;
      const total = parts.reduce((sum, part) => sum + (use[part] ?? NaN), 0);
      return (
        `| ${run.path} c=${run.concurrency} | ${parts.map((part) => (use[part] ?? NaN).toFixed(2)).join(' | ')} | ` +
        `${total.toFixed(2)} | ${Math.round((r.cpus * 1000) / total)} |`
      );
    }),
    '',
    '`bench` is the bench process: the load generator, and for bare-ann the client that sends the ' +
      'statement. Redis is the whole server (INFO cpu), the other parts their processes.',
    '',
  ];
}

/** Pages ranked from kept candidates per gateway run (src/feed/candidateMemory.ts). */
function keptTable(r: BenchResults): string[] {
  const runs = Object.entries(r.candidateMemory ?? {});
  if (runs.length === 0) return [];
  const outcomes = ['hit', 'miss', 'expired', 'short'];
  // What ran short (keptOutcomes' `short:…` keys): a page may count under several pools.
  const shortOf = (counts: Record<string, number>) =>
    Object.entries(counts)
      .filter(([k, n]) => k.startsWith('short:') && n > 0)
      .map(([k, n]) => `${k.slice('short:'.length)} ${fmt(n)}`)
      .join(', ') || '–';
  return [
    '| Kept candidates (pages, warm-ups included) | ' + outcomes.join(' | ') + ' | hit share | short of |',
    '| --- |' + outcomes.map(() => ' ---: |').join('') + ' ---: | --- |',
    ...runs.map(([run, counts]) => {
      const total = outcomes.reduce((a, o) => a + (counts[o] ?? 0), 0);
      const share = total > 0 ? `${Math.round((100 * (counts.hit ?? 0)) / total)} %` : 'n/a';
      return `| gateway ${run} | ${outcomes.map((o) => fmt(counts[o] ?? 0)).join(' | ')} | ${share} | ${shortOf(counts)} |`;
    }),
    '',
  ];
}

export function toMarkdown(r: BenchResults): string {
  const d = r.dataset;
  const s = r.settings;
  const m = r.rss;
  const heap = (h: HeapSnapshot | null) =>
    h ? `${h.heapUsedMb} / ${h.heapTotalMb} / ${h.externalMb}` : 'n/a';
  const lines = [
    `# Feed bench, ${r.date}`,
    '',
    `- Dataset: ${fmt(d.listings)} listings × ${d.dimensions} dims, ${fmt(d.users)} users ` +
      `(${fmt(d.usersWithEmbedding)} with profile embeddings), ${fmt(d.interests)} interests; database ${d.action}`,
    `- Machine: Node ${r.node}, ${r.cpus} CPUs (${r.cpuModel}), load average at start ` +
      r.loadAverageAtStart.map((n) => n.toFixed(2)).join(' / '),
    `- Each run: ${s.warmupSec} s warm-up, then ${s.durationSec} s measured` +
      (s.rounds
        ? ` (the gateway and the bare vector search alternating in ${s.rounds} rounds of ` +
          `${s.durationSec / s.rounds} s slices, forwards then backwards, each slice after 1 s of ` +
          `unmeasured warm-up of its own; their ratios are medians of slices)`
        : '') +
      `; ${s.viewers} viewers (drawn at random per gateway request, in turn for the raw SQL); ` +
      `\`suggestions(first: ${s.first})\`; pools: gateway ${s.gatewayPoolMax} + service ${s.servicePoolMax}, ` +
      `raw SQL ${s.servicePoolMax} (same settings as the service pool)`,
    `- Gateway: \`${r.gateway.command}\` in its own process (NODE_ENV=production, ${r.gateway.redis}); ` +
      `${r.gateway.build}; stopped with SIGTERM: ${r.gateway.exits.load} (counting instance: ${r.gateway.exits.counting})`,
    '',
    '| Path | Concurrency | Requests | req/s | p50 ms | p95 ms | p99 ms | Errors | slices: median req/s, p50 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.runs.map(
      (run) =>
        `| ${run.path} | ${run.concurrency} | ${fmt(run.requests)} | ${run.requestsPerSec} | ` +
        `${run.latencyMs.p50} | ${run.latencyMs.p95} | ${run.latencyMs.p99} | ${run.errors} | ` +
        `${run.slices ? `${run.slices.requestsPerSec}, ${run.slices.p50} (${run.slices.count})` : '–'} |`,
    ),
    '',
    '| SQL per feed request (max / mean) | ' +
      r.statements.map((c) => `first = ${c.first}`).join(' | ') +
      ' |',
    '| --- |' + r.statements.map(() => ' ---: |').join(''),
    '| statements (no BEGIN/COMMIT/ROLLBACK) | ' +
      r.statements.map((c) => `${c.perRequest.max} / ${c.perRequest.mean}`).join(' | ') +
      ' |',
    '| all statements, BEGIN/COMMIT included | ' +
      r.statements
        .map((c) => `${c.withTransactionControl.max} / ${c.withTransactionControl.mean}`)
        .join(' | ') +
      ' |',
    '',
    `Statements seen: ${Object.keys(r.statements[0]?.breakdown ?? {})
      .map((label) => `\`${label.slice(0, 60)}\``)
      .join(', ')}.`,
    '',
    ...keptTable(r),
    ...cpuTable(r),
    '| Target | Value | Wanted | Result |',
    '| --- | --- | --- | --- |',
    ...r.targets.map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.pass ? 'PASS' : 'FAIL'} |`),
    '',
    '| Gateway process memory | RSS MB | V8 heap used / total / external MB |',
    '| --- | ---: | ---: |',
    `| ready, before any request | ${m.readyMb} | ${heap(m.heap.ready)} |`,
    `| idle after its c=1 run | ${m.idleAfterWarmupMb} | ${heap(m.heap.idle)} |`,
    ...Object.entries(m.peakByRunMb).map(([run, v]) => `| peak sampled during the ${run} run | ${v} | |`),
    `| peak over its life (VmHWM) | ${m.peakMb} | |`,
    `| end, after all runs | ${m.endMb} | ${heap(m.heap.end)} |`,
    '',
    `RSS: ${m.note}`,
    '',
  ];
  return lines.join('\n');
}
