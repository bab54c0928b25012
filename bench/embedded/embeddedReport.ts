import { median, type LatencySummary } from '../shared/load.js';
import type { EmbeddedAfter, EmbeddedDataset } from './embeddedData.js';
import type { WriteStats } from './embeddedWrites.js';

export type WorkerMode = 'idle' | 'busy';

/** One measured slice: the feed at one concurrency for a few seconds, the worker idle or busy. */
export interface EmbeddedSlice {
  mode: WorkerMode;
  concurrency: number;
  round: number;
  requests: number;
  errors: number;
  firstError: string | null;
  latencyMs: LatencySummary;
  /** Queue items the in-process worker finished during the slice (events + discovery). */
  workerItems: number;
  /** Mean time one worker item held the connection (its transaction), over the slice. */
  workerItemMeanMs: number | null;
  /** 1-minute load average when the slice began. */
  loadAverage1m: number;
  writes: WriteStats | null;
  /** Busy slices: from the end of the slice until the worker had nothing due (no item done for 2 s). */
  drainSec: number | null;
}

export interface EmbeddedSummary {
  mode: WorkerMode;
  concurrency: number;
  slices: number;
  requests: number;
  errors: number;
  /** Medians over the slices of each slice's p50 and p95. */
  medianP50Ms: number;
  medianP95Ms: number;
  /** p50 / p95 of every request of the mode pooled. */
  pooled: LatencySummary;
  requestsPerSec: number;
  workerItemsPerSec: number;
  writesPerSec: number;
  writeP95Ms: number | null;
}

export interface EmbeddedResults {
  date: string;
  command: string;
  /** false: the control run, WORKER_IN_PROCESS=false (the busy slices' writes without a worker). */
  worker: boolean;
  cpus: number;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  dataset: Omit<EmbeddedDataset, 'viewers' | 'writers' | 'listings' | 'interests' | 'dataDir'> & {
    viewers: number;
    writers: number;
  };
  settings: {
    rounds: number;
    sliceSec: number;
    warmupSec: number;
    writesPerSec: number;
    first: number;
    gatewayEnv: Record<string, string>;
  };
  slices: EmbeddedSlice[];
  summaries: EmbeddedSummary[];
  /** busy / idle per concurrency: the issue's bound is p95 ≤ 1.5×. */
  ratios: { concurrency: number; medianP95: number; pooledP95: number; medianP50: number }[];
  after: EmbeddedAfter;
  exit: string;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export function summarizeSlices(
  slices: EmbeddedSlice[],
  pooled: (mode: WorkerMode, concurrency: number) => LatencySummary,
  sliceSec: number,
): { summaries: EmbeddedSummary[]; ratios: EmbeddedResults['ratios'] } {
  const concurrencies = [...new Set(slices.map((s) => s.concurrency))];
  const summaries: EmbeddedSummary[] = [];
  for (const concurrency of concurrencies) {
    for (const mode of ['idle', 'busy'] as const) {
      const of = slices.filter((s) => s.mode === mode && s.concurrency === concurrency);
      const seconds = of.length * sliceSec;
      const writes = of.flatMap((s) => (s.writes ? [s.writes] : []));
      summaries.push({
        mode,
        concurrency,
        slices: of.length,
        requests: of.reduce((n, s) => n + s.requests, 0),
        errors: of.reduce((n, s) => n + s.errors, 0),
        medianP50Ms: round2(median(of.map((s) => s.latencyMs.p50))),
        medianP95Ms: round2(median(of.map((s) => s.latencyMs.p95))),
        pooled: pooled(mode, concurrency),
        requestsPerSec: round2(of.reduce((n, s) => n + s.requests, 0) / seconds),
        workerItemsPerSec: round2(of.reduce((n, s) => n + s.workerItems, 0) / seconds),
        writesPerSec: round2(writes.reduce((n, w) => n + w.sent, 0) / seconds),
        writeP95Ms: writes.length ? round2(median(writes.map((w) => w.latencyMs.p95))) : null,
      });
    }
  }
  const ratios = concurrencies.map((concurrency) => {
    const idle = summaries.find((s) => s.mode === 'idle' && s.concurrency === concurrency);
    const busy = summaries.find((s) => s.mode === 'busy' && s.concurrency === concurrency);
    if (!idle || !busy) throw new Error('a mode is missing');
    return {
      concurrency,
      medianP95: round2(busy.medianP95Ms / idle.medianP95Ms),
      pooledP95: round2(busy.pooled.p95 / idle.pooled.p95),
      medianP50: round2(busy.medianP50Ms / idle.medianP50Ms),
    };
  });
  return { summaries, ratios };
}

export function embeddedMarkdown(r: EmbeddedResults): string {
  const rows = r.summaries.map(
    (s) =>
      `| ${s.mode} | ${s.concurrency} | ${s.slices} | ${s.requests} | ${s.requestsPerSec} | ${s.medianP50Ms} | ` +
      `${s.medianP95Ms} | ${s.pooled.p50} / ${s.pooled.p95} / ${s.pooled.max} | ${s.workerItemsPerSec} | ` +
      `${s.writesPerSec} | ${s.writeP95Ms ?? '–'} | ${s.errors} |`,
  );
  const ratios = r.ratios.map(
    (x) =>
      `- c=${x.concurrency}: p95 busy/idle **${x.medianP95}×** (medians of slices), ${x.pooledP95}× pooled; p50 ${x.medianP50}×`,
  );
  const maintenance = r.after.maintenance.map((m) => `${m.task} ${m.lastMs} ms`).join(', ');
  const drains = r.slices.flatMap((s) => (s.drainSec === null ? [] : [s.drainSec]));
  const loads = r.slices.map((s) => s.loadAverage1m);
  const title = r.worker
    ? 'the feed with the in-process worker idle vs busy'
    : 'control run without the worker (WORKER_IN_PROCESS=false): the writes alone';
  return `## Embedded default: ${title}

\`${r.command}\`, ${r.date}, ${r.cpus} CPUs, load average ${r.loadAverageAtStart.map((n) => n.toFixed(2)).join(' / ')}
at start, ${r.loadAverageAtEnd.map((n) => n.toFixed(2)).join(' / ')} at the end (1-minute load during the slices
${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}).

The gateway from \`dist/main.js\` on PGlite (no DATABASE_URL) with the worker in its process, on the
demo data set \`npm start\` seeds (${r.dataset.counts.users} users, ${r.dataset.counts.usersWithEmbedding} with
embeddings, ${r.dataset.counts.listings} listings, ${r.dataset.counts.interests} interests, ${r.dataset.counts.likes}
likes; seeded in ${r.dataset.seedSec} s). \`suggestions(first: ${r.settings.first})\` from ${r.dataset.viewers}
viewers; busy = an open-loop stream of ${r.settings.writesPerSec} writes/s (likes, unlikes, views, follows,
interest changes) from ${r.dataset.writers} other users, each enqueuing an event the worker handles on
the same connection. ${r.settings.rounds} interleaved rounds of ${r.settings.sliceSec} s per mode and
concurrency (the order alternates each round), after ${r.settings.warmupSec} s warm-up of each; after a busy
slice the worker drains (${drains.length ? `${Math.min(...drains)}–${Math.max(...drains)} s` : '–'}) before the next slice.

| worker | c | slices | requests | req/s | p50 (median) | p95 (median) | pooled p50 / p95 / max | worker items/s | writes/s | write p95 | errors |
| ------ | - | ------ | -------- | ----- | ------------ | ------------ | ---------------------- | -------------- | -------- | --------- | ------ |
${rows.join('\n')}

${ratios.join('\n')}

Worker after the run: events ${JSON.stringify(r.after.events)}, discovery ${JSON.stringify(r.after.discovery)};
done by kind ${JSON.stringify(r.after.doneByKind)}. Last run of each maintenance task (its one transaction on
the shared connection): ${maintenance}. Gateway ${r.exit}.
`;
}
