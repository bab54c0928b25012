import type { WorkerSummary } from './workerProcess.js';
import type { WorkersState } from './workersState.js';

/** One drain run: N worker processes started on a full queue, until every item is done. */
export interface DrainRun {
  processes: number;
  items: number;
  /** From spawning the processes until a poll saw every item done (startup included). */
  wallSec: number;
  /** From spawning until the slowest process answered /metrics. */
  allReadySec: number;
  /** The measured window: from the first poll after every process was ready until all were done. */
  measuredSec: number;
  /** Items finished inside the measured window. */
  measuredItems: number;
  /** measuredItems / measuredSec: the throughput, startup excluded. */
  itemsPerSec: number;
  /** items / wallSec: startup included. */
  itemsPerSecWithStartup: number;
  /** Failed attempts (retried later) summed over the items, and items that ended in `error`. */
  retries: number;
  errorItems: number;
  /** `profile.recompute` items the like events enqueued meanwhile, and how many of them ran (due after a minute). */
  followUps: { enqueued: number; done: number };
  /** Rows put back and VACUUM before this run, in seconds. */
  resetSec: number;
  workers: WorkerSummary[];
}

export interface AgeSummary {
  p50: number;
  p95: number;
  max: number;
}

/** One reading of the runbook view vw_events_queue_health during the steady run. */
export interface ViewReading {
  atSec: number;
  p95AgeSec: number;
  oldestAgeSec: number;
  queued: number;
  leased: number;
  /** Queued but not due yet (run_after in the future): the deferred profile.recompute items. */
  deferred: number;
}

/** The steady run: one worker process, items enqueued at a fixed rate in small batches. */
export interface SteadyRun {
  ratePerSec: number;
  batchEveryMs: number;
  warmupSec: number;
  durationSec: number;
  /** Items enqueued during the measured seconds (the warm-up's are left out of the ages). */
  measuredItems: number;
  /** Measured items not done within the drain time after the last batch (should be 0). */
  unfinished: number;
  /** created_at → updated_at: until the transaction that completed it began (handler time excluded). */
  ageToStartMs: AgeSummary;
  /** created_at → the first 100 ms poll that saw it done: an upper bound of the age at completion. */
  ageSeenDoneMs: AgeSummary;
  view: ViewReading[];
  viewP95AgeSec: { median: number; max: number };
  worker: WorkerSummary;
}

export interface WorkersResults {
  date: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  settings: {
    items: number;
    kinds: Record<string, number>;
    users: number;
    listings: number;
    workerCommand: string;
    workerEnv: Record<string, string>;
    pollMs: number;
  };
  drains: DrainRun[];
  steady: SteadyRun | null;
  state: WorkersState & { restoredAfter: WorkersState['leftovers']; restored: boolean };
  phaseSec: number;
}

const fmt = (n: number) => n.toLocaleString('en-US');
const ageCells = (a: AgeSummary) => `${fmt(a.p50)} | ${fmt(a.p95)} | ${fmt(a.max)}`;
const exits = (ws: readonly WorkerSummary[]) => {
  const counts = new Map<string, number>();
  for (const w of ws) counts.set(w.exit, (counts.get(w.exit) ?? 0) + 1);
  return [...counts].map(([exit, n]) => `${n}× ${exit}`).join(', ');
};
const itemMs = (ws: readonly WorkerSummary[]) =>
  ws.map((w) => (w.meanItemMs === null ? '–' : w.meanItemMs.toFixed(1))).join(' / ');

export function workersMarkdown(r: WorkersResults): string {
  const s = r.settings;
  const one = r.drains.find((d) => d.processes === 1);
  const st = r.steady;
  const lines = [
    `# Workers bench, ${r.date}`,
    '',
    `- ${fmt(s.items)} events_queue items per drain run: ` +
      Object.entries(s.kinds)
        .map(([kind, n]) => `${fmt(n)} \`${kind}\``)
        .join(', ') +
      `; ${fmt(s.users)} users, ${fmt(s.listings)} listings of the bench database`,
    `- Workers: \`${s.workerCommand}\`, each in its own process (${Object.entries(s.workerEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}); default concurrency 4, lease 30 s, poll 1 s; stopped with SIGTERM`,
    `- Done counted by one SQL every ${s.pollMs} ms; every run starts from the same rows (snapshot put back, VACUUM)`,
    `- Load average ${r.loadAverageAtStart.map((n) => n.toFixed(2)).join(' / ')} at the start, ` +
      `${r.loadAverageAtEnd.map((n) => n.toFixed(2)).join(' / ')} at the end; phase took ${Math.round(r.phaseSec)} s`,
    '',
    '| Processes | Items | items/s (startup excluded) | × 1 process | Measured s | Wall s (with startup) | items/s with startup | Ready s (slowest) | Retries / errors | Mean ms per item, per process | Exits |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...r.drains.map(
      (d) =>
        `| ${d.processes} | ${fmt(d.items)} | **${fmt(d.itemsPerSec)}** | ` +
        `${one ? (d.itemsPerSec / one.itemsPerSec).toFixed(2) : '–'} | ${d.measuredSec.toFixed(1)} | ` +
        `${d.wallSec.toFixed(1)} | ${fmt(d.itemsPerSecWithStartup)} | ${d.allReadySec.toFixed(2)} | ` +
        `${d.retries} / ${d.errorItems} | ${itemMs(d.workers)} | ${exits(d.workers)} |`,
    ),
    '',
    `Follow-up \`profile.recompute\` items the like events enqueued (due a minute later, not counted above): ` +
      r.drains
        .map((d) => `${d.processes}p ${fmt(d.followUps.enqueued)} (${d.followUps.done} ran)`)
        .join(', ') +
      `. Reset before each run: ${r.drains.map((d) => `${d.resetSec.toFixed(1)} s`).join(', ')}.`,
    '',
  ];
  if (st) {
    lines.push(
      `Steady rate: 1 process, ${fmt(st.ratePerSec)} items/s (half the single-process rate) in batches every ` +
        `${st.batchEveryMs} ms, ${st.warmupSec} s warm-up then ${st.durationSec} s measured: ` +
        `${fmt(st.measuredItems)} items, ${st.unfinished} unfinished.`,
      '',
      '| Queue age of the measured items | p50 ms | p95 ms | max ms |',
      '| --- | ---: | ---: | ---: |',
      `| until its completing transaction began (updated_at) | ${ageCells(st.ageToStartMs)} |`,
      `| until a poll saw it done (≤ 100 ms late) | ${ageCells(st.ageSeenDoneMs)} |`,
      '',
      `\`vw_events_queue_health.p95_age_sec\`, read every second: median ${st.viewP95AgeSec.median} s, ` +
        `max ${st.viewP95AgeSec.max} s; readings (s): ${st.view.map((v) => v.p95AgeSec).join(', ')}. ` +
        `Deferred (queued, not due) items at the end: ${st.view.at(-1)?.deferred ?? 0}.`,
      '',
      `Steady worker: ready in ${st.worker.readyMs} ms, mean ${st.worker.meanItemMs ?? '–'} ms per item, ${st.worker.exit}.`,
      '',
    );
  }
  const c = r.state;
  lines.push(
    `State: snapshot of ${fmt(c.snapshot.listings)} listings, ${fmt(c.snapshot.interests)} interests and ` +
      `${fmt(c.snapshot.profiles)} profiles; after the phase ${fmt(c.restoredAfter.listings)} listings, ` +
      `${fmt(c.restoredAfter.interests)} interests and ${fmt(c.restoredAfter.profiles)} profiles put back, ` +
      `${fmt(c.restoredAfter.items)} items deleted: ${c.restored ? 'restored' : '**not restored**'}` +
      (c.leftovers.items + c.leftovers.profiles > 0
        ? `; before it, ${fmt(c.leftovers.items)} items and ${fmt(c.leftovers.profiles)} profiles an interrupted run had left`
        : '') +
      '.',
    '',
  );
  return lines.join('\n');
}
