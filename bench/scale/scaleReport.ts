/**
 * The scale phase's results (latest.json `scale`): recall, the per-size table, the settings that keep
 * recall, the "feed p50 at 1M ≤ 1.5× its p50 at 100k" check (issue #17, target 5) and the Markdown.
 * Everything here is pure: the phase measures, this module computes and formats.
 */
import type { Target } from '../shared/target.js';

/** Neighbours compared per query, as src/ops/vectorRecall.ts RECALL_K. */
export const SCALE_RECALL_K = 20;
/** The recall a setting must keep to be recommended. */
export const RECALL_FLOOR = 0.95;
/** Feed p50 at the largest size over its p50 at the reference size may be at most this. */
export const FEED_GROWTH_LIMIT = 1.5;

/**
 * Mean recall@k over queries: for each query, the share of the exact top k (`exact[i]`, in order) that
 * the index returned among its first k (`found[i]`). A query whose exact answer has fewer than k rows
 * counts over that many. Throws when the lists do not pair up: a silently shorter list would inflate it.
 */
export function recallAtK(
  exact: readonly (readonly number[])[],
  found: readonly (readonly number[])[],
  k: number = SCALE_RECALL_K,
): number {
  if (exact.length !== found.length) {
    throw new Error(`recall: ${exact.length} exact answers but ${found.length} index answers`);
  }
  if (exact.length === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < exact.length; i += 1) {
    const truth = (exact[i] ?? []).slice(0, k);
    if (truth.length === 0) {
      sum += 1;
      continue;
    }
    const got = new Set((found[i] ?? []).slice(0, k));
    sum += truth.filter((id) => got.has(id)).length / truth.length;
  }
  return sum / exact.length;
}

/** One index setting measured at one size: an ivfflat probes value or an HNSW ef_search value. */
export interface IndexSetting {
  size: string;
  /** Which index: `service` (the one the gateway searches: the seed's, or the phase's rebuild with pgvector's lists), `rebuild`, `hnsw`. */
  index: string;
  method: 'ivfflat' | 'hnsw';
  /** `lists=1000` / `m=16,ef_construction=64`. */
  build: string;
  /** `probes=10` / `ef_search=40`. */
  search: string;
  /** The service's own setting (the size's VECTOR_IVFFLAT_PROBES on the service index). */
  service: boolean;
  /**
   * The planner used the index. The seeded index is measured as the service gets it (the planner may
   * pick a sequential scan, exact); the others with sequential scans off, so theirs is the index's recall.
   */
  indexScan: boolean;
  recall: number;
  /** p50 of the recall queries (top 20, one at a time), ms. */
  p50Ms: number;
}

/** An index's size and build time at one size. */
export interface IndexBuild {
  size: string;
  index: string;
  method: 'ivfflat' | 'hnsw';
  build: string;
  /** Seconds the CREATE INDEX took; null when not known (built before the phase timed it). */
  buildSec: number | null;
  indexBytes: number;
  /** Where and when it was built: `this run` or the recorded date. */
  note: string;
}

/** The medians of one load task at one concurrency. */
export interface LoadCell {
  requests: number;
  errors: number;
  requestsPerSec: number;
  p50Ms: number;
}

export interface SizeRow {
  size: string;
  database: string;
  listings: number;
  users: number;
  /** How the database was made ready this run, and the recorded preparation times (seconds). */
  action: string;
  timings: {
    seedSec: number | null;
    coengagementSec: number | null;
    /** What the recorded co-engagement timing says (rows, rolled back, or why it did not finish). */
    coengagementNote: string | null;
    /** Rows in listing_coengagement during the load (0: every size runs without, as lodestar_bench). */
    coengagementRows: number;
  };
  /** firstPageP50Ms: each viewer's first page (search + cache write), one at a time before the rounds. */
  feed: { c1: LoadCell; cHigh: LoadCell; firstPageP50Ms: number | null };
  listingsPage: { c1: LoadCell; cHigh: LoadCell };
  ann: { c1: LoadCell; cHigh: LoadCell };
  tableBytes: number;
  toastBytes: number;
  /** The index the gateway uses, its size, the probes it searches and its recall at them. */
  serviceIndex: { name: string; build: string; indexBytes: number; probes: number; recall: number | null };
}

export interface ScaleResults {
  date: string;
  node: string;
  cpus: number;
  loadAverage: { atStart: number[]; atEnd: number[]; duringLoad: number[][] };
  command: string;
  settings: {
    warmupSec: number;
    durationSec: number;
    rounds: number;
    concurrencies: [number, number];
    viewers: number;
    recallSamples: number;
    recallK: number;
    feedQuery: string;
    listingsQuery: string;
    annStatement: string;
  };
  rows: SizeRow[];
  builds: IndexBuild[];
  settingsMeasured: IndexSetting[];
  /** Per size and index: the cheapest measured setting with recall ≥ RECALL_FLOOR, or null. */
  recommended: {
    size: string;
    index: string;
    search: string | null;
    recall: number | null;
    p50Ms: number | null;
  }[];
  exits: Record<string, string>;
  targets: Target[];
}

/**
 * Per size and index, the measured setting with recall ≥ floor and the lowest p50 (ties: the higher
 * recall); search null when none reaches it.
 */
export function recommend(
  measured: readonly IndexSetting[],
  floor: number = RECALL_FLOOR,
): ScaleResults['recommended'] {
  const groups = new Map<string, IndexSetting[]>();
  for (const m of measured) {
    const key = `${m.size}\u0000${m.index}`;
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0] as IndexSetting;
    const best = group
      .filter((m) => m.recall >= floor && m.indexScan)
      .sort((a, b) => a.p50Ms - b.p50Ms || b.recall - a.recall)[0];
    return {
      size: first.size,
      index: first.index,
      search: best?.search ?? null,
      recall: best?.recall ?? null,
      p50Ms: best?.p50Ms ?? null,
    };
  });
}

/**
 * Issue #17 target 5: the feed's p50 (c=1) at `large` ≤ FEED_GROWTH_LIMIT × its p50 at `reference`.
 * Unmeasured when either size is missing or its feed run had errors.
 */
export function feedGrowthTarget(rows: readonly SizeRow[], reference = '100k', large = '1m'): Target {
  const name = `feed p50 at ${large} ≤ ${FEED_GROWTH_LIMIT}× its p50 at ${reference}`;
  const ref = rows.find((r) => r.size === reference);
  const big = rows.find((r) => r.size === large);
  if (!ref || !big) {
    return {
      name,
      value: 'not measured (a size is missing)',
      target: `≤ ${FEED_GROWTH_LIMIT}×`,
      pass: false,
    };
  }
  if (
    ref.feed.c1.errors > 0 ||
    big.feed.c1.errors > 0 ||
    ref.feed.c1.requests === 0 ||
    big.feed.c1.requests === 0
  ) {
    return { name, value: 'feed runs failed', target: `≤ ${FEED_GROWTH_LIMIT}×`, pass: false };
  }
  const ratio = big.feed.c1.p50Ms / ref.feed.c1.p50Ms;
  return {
    name,
    value: `${ratio.toFixed(2)}× (${big.feed.c1.p50Ms} ms vs ${ref.feed.c1.p50Ms} ms)`,
    target: `≤ ${FEED_GROWTH_LIMIT}×`,
    pass: ratio <= FEED_GROWTH_LIMIT,
  };
}

/** Recall targets: the service's own index and probes keeps recall ≥ the floor, per size. */
export function recallTargets(rows: readonly SizeRow[], floor: number = RECALL_FLOOR): Target[] {
  return rows.flatMap((r) =>
    r.serviceIndex.recall === null
      ? []
      : [
          {
            name: `recall@${SCALE_RECALL_K} of the service's index (${r.serviceIndex.build}) at its probes, ${r.size}`,
            value: r.serviceIndex.recall.toFixed(3),
            target: `≥ ${floor}`,
            pass: r.serviceIndex.recall >= floor,
          },
        ],
  );
}

/** 1234567 → "1.2 MB"-style sizes, powers of 1024. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

const sec = (s: number | null) => (s === null ? '–' : `${s.toFixed(s >= 100 ? 0 : 1)} s`);
const cell = (c: LoadCell, what: 'p50' | 'rps') =>
  c.errors > 0
    ? `${what === 'p50' ? c.p50Ms : c.requestsPerSec} (${c.errors} errors)`
    : String(what === 'p50' ? c.p50Ms : c.requestsPerSec);

/** The per-size table (one row per size, the columns the issue asks for). */
export function sizeTable(results: Pick<ScaleResults, 'rows' | 'builds' | 'settings'>): string {
  const high = results.settings.concurrencies[1];
  const head =
    `| size | listings | feed first page p50 (ms) | feed p50 c=1 (ms) | feed req/s c=${high} | listings p50 c=1 (ms) | listings req/s c=${high} ` +
    `| bare ANN p50 c=1 (ms) | bare ANN tps c=${high} | service index | index size | table (TOAST) | index build ` +
    `| probes | recall@${SCALE_RECALL_K} at those probes |`;
  const lines = [head, `|${' --- |'.repeat(15)}`];
  for (const r of results.rows) {
    const build = results.builds.find((b) => b.size === r.size && b.index === 'service');
    lines.push(
      `| ${r.size} | ${r.listings.toLocaleString('en-US')} | ${r.feed.firstPageP50Ms ?? '–'} | ${cell(r.feed.c1, 'p50')} | ${cell(r.feed.cHigh, 'rps')} ` +
        `| ${cell(r.listingsPage.c1, 'p50')} | ${cell(r.listingsPage.cHigh, 'rps')} | ${cell(r.ann.c1, 'p50')} ` +
        `| ${cell(r.ann.cHigh, 'rps')} | ivfflat ${r.serviceIndex.build} | ${formatBytes(r.serviceIndex.indexBytes)} ` +
        `| ${formatBytes(r.tableBytes)} (${formatBytes(r.toastBytes)}) | ${sec(build?.buildSec ?? null)} ` +
        `| ${r.serviceIndex.probes} | ${r.serviceIndex.recall === null ? '–' : r.serviceIndex.recall.toFixed(3)} |`,
    );
  }
  return lines.join('\n');
}

/** Recall vs latency per measured setting, with its index's size and build time. */
export function settingsTable(results: Pick<ScaleResults, 'settingsMeasured' | 'builds'>): string {
  const lines = [
    `| size | index | build | search | recall@${SCALE_RECALL_K} | p50 top-20 (ms) | ≥ ${RECALL_FLOOR} | index size | build time |`,
    `|${' --- |'.repeat(9)}`,
  ];
  for (const m of results.settingsMeasured) {
    const b = results.builds.find((x) => x.size === m.size && x.index === m.index);
    lines.push(
      `| ${m.size} | ${m.index} (${m.method}) | ${m.build} | ${m.search}${m.service ? ' (service)' : ''}` +
        `${m.indexScan ? '' : ' (seq scan)'} ` +
        `| ${m.recall.toFixed(3)} | ${m.p50Ms} | ${m.recall >= RECALL_FLOOR ? 'yes' : 'no'} ` +
        `| ${b ? formatBytes(b.indexBytes) : '–'} | ${sec(b?.buildSec ?? null)} |`,
    );
  }
  return lines.join('\n');
}

const loadText = (l: number[]) => l.map((n) => n.toFixed(2)).join(' / ');

export function scaleMarkdown(r: ScaleResults): string {
  const targets = r.targets
    .map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.pass ? 'PASS' : 'FAIL'} |`)
    .join('\n');
  const recommended = r.recommended
    .map(
      (x) =>
        `| ${x.size} | ${x.index} | ${x.search ?? `none measured reaches ${RECALL_FLOOR}`} | ${x.recall === null ? '–' : x.recall.toFixed(3)} | ${x.p50Ms ?? '–'} |`,
    )
    .join('\n');
  const prep = r.rows
    .map(
      (x) =>
        `| ${x.size} | ${x.database} | ${x.listings.toLocaleString('en-US')} | ${x.users.toLocaleString('en-US')} ` +
        `| ${sec(x.timings.seedSec)} | ${sec(x.timings.coengagementSec)}: ${x.timings.coengagementNote ?? '–'} ` +
        `| ${x.timings.coengagementRows.toLocaleString('en-US')} | ${x.action} |`,
    )
    .join('\n');
  const builds = r.builds
    .map(
      (b) =>
        `| ${b.size} | ${b.index} (${b.method}) | ${b.build} | ${formatBytes(b.indexBytes)} | ${sec(b.buildSec)} | ${b.note} |`,
    )
    .join('\n');
  return `## Scale phase (cost curve, issue #17 target 5)

${r.date}, Node ${r.node}, ${r.cpus} CPUs; load average ${loadText(r.loadAverage.atStart)} at the start, ${loadText(r.loadAverage.atEnd)} at the end.
Command: \`${r.command}\`. Each size's gateway (production settings, its own database) and the bare ANN statement
ran interleaved: ${r.settings.warmupSec} s warm-up per task, then ${r.settings.rounds} rounds of ${r.settings.durationSec / r.settings.rounds} s slices; p50 and req/s pooled over the slices.

${sizeTable(r)}

| check | measured | limit | result |
| --- | --- | --- | --- |
${targets}

Recall@${r.settings.recallK} against exact search (index scans off) over ${r.settings.recallSamples} sampled viewers' profile embeddings:

${settingsTable(r)}

Cheapest measured setting with recall ≥ ${RECALL_FLOOR}:

| size | index | setting | recall | p50 (ms) |
| --- | --- | --- | --- | --- |
${recommended}

Index builds:

| size | index | build | size | build time | note |
| --- | --- | --- | --- | --- | --- |
${builds}

Databases (preparation times as recorded when each was made):

| size | database | listings | users | seed | co-engagement rebuild | co-engagement rows in the runs | this run |
| --- | --- | --- | --- | --- | --- | --- | --- |
${prep}
`;
}
