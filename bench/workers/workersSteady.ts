import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { percentile } from '../shared/load.js';
import {
  startWorkerProcesses,
  stopWorkerProcesses,
  type WorkerProcess,
  type WorkerSummary,
} from './workerProcess.js';
import type { AgeSummary, SteadyRun, ViewReading } from './workersReport.js';
import { restoreState } from './workersState.js';
import { enqueueItems, type createItemSource } from './workersWorkload.js';

/** Batches as a busy gateway's writes would arrive: small, often, each its own statement and NOTIFY. */
const BATCH_EVERY_MS = 100;
/** How often the bench looks for newly done items (their ids), and reads the runbook view. */
const DONE_POLL_MS = 100;
const VIEW_EVERY_MS = 1000;
/** Time after the last batch for the measured items to finish. */
const DRAIN_MS = 30_000;

const doneSql = `
SELECT id::text, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms,
       (extract(epoch FROM updated_at) * 1000)::float8 AS started_ms,
       (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS seen_ms
  FROM events_queue WHERE id = ANY($1::bigint[]) AND status = 'done'`;

const viewSql = `
SELECT p95_age_sec, oldest_age_sec, queued_ct::int AS queued, leased_ct::int AS leased,
       (SELECT count(*)::int FROM events_queue WHERE status = 'queued' AND run_after > now()) AS deferred
  FROM vw_events_queue_health`;

const connect = async (url: string) => {
  const client = new pg.Client({ connectionString: url, application_name: 'lodestar-bench-workers' });
  await client.connect();
  return client;
};

function summary(values: number[]): AgeSummary {
  const sorted = values.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n);
  return {
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    max: round(sorted.at(-1) ?? NaN),
  };
}

/**
 * One worker process, ready before the first item (its startup is not in any age); then `ratePerSec`
 * items a second in a batch every BATCH_EVERY_MS for the warm-up and the measured seconds. A second
 * connection looks up every still-pending item every DONE_POLL_MS by id (a primary-key lookup of the
 * few in the queue) and keeps when it first saw each done; a third reads vw_events_queue_health
 * every second.
 */
export async function runSteady(
  url: string,
  env: Record<string, string>,
  source: ReturnType<typeof createItemSource>,
  options: { ratePerSec: number; warmupSec: number; durationSec: number; tag: string },
): Promise<SteadyRun> {
  const { ratePerSec, warmupSec, durationSec, tag } = options;
  await restoreState(url);
  const [enqueuer, poller, viewer] = await Promise.all([connect(url), connect(url), connect(url)]);
  const pending = new Map<string, boolean>(); // id → measured (enqueued after the warm-up)
  const measured = new Map<string, { created: number; started: number; seen: number }>();
  const view: ViewReading[] = [];
  let measuredItems = 0;
  // An object so the loops below see the writes made after they started.
  const run = { enqueuing: true, aborted: false, t0: performance.now() };
  const since = () => (performance.now() - run.t0) / 1000;
  const going = () =>
    !run.aborted &&
    (run.enqueuing || (pending.size > 0 && since() < warmupSec + durationSec + DRAIN_MS / 1000));
  let loops: Promise<unknown> = Promise.resolve();
  let worker: WorkerSummary | undefined;
  let started: WorkerProcess | undefined;
  try {
    [started] = await startWorkerProcesses(env, 1, 'worker (steady)');
    if (!started) throw new Error('the steady worker did not start');
    run.t0 = performance.now();
    const poll = async () => {
      while (going()) {
        const ids = [...pending.keys()];
        if (ids.length > 0) {
          const { rows } = await poller.query<
            Record<'id', string> & Record<'created_ms' | 'started_ms' | 'seen_ms', number>
          >(doneSql, [ids]);
          for (const r of rows) {
            if (pending.get(r.id))
              measured.set(r.id, { created: r.created_ms, started: r.started_ms, seen: r.seen_ms });
            pending.delete(r.id);
          }
        }
        await sleep(DONE_POLL_MS);
      }
    };
    const sample = async () => {
      while (going()) {
        const at = since();
        const { rows } =
          await viewer.query<
            Record<'p95_age_sec' | 'oldest_age_sec' | 'queued' | 'leased' | 'deferred', number>
          >(viewSql);
        const r = rows[0];
        const round = (n: number) => Math.round(n * 100) / 100;
        if (r)
          view.push({
            atSec: round(at),
            p95AgeSec: round(r.p95_age_sec),
            oldestAgeSec: round(r.oldest_age_sec),
            queued: r.queued,
            leased: r.leased,
            deferred: r.deferred,
          });
        await sleep(VIEW_EVERY_MS);
      }
    };
    loops = Promise.all([poll(), sample()]);
    loops.catch(() => undefined); // awaited below; this only keeps a failure handled meanwhile

    let enqueued = 0;
    const total = Math.round(ratePerSec * (warmupSec + durationSec));
    for (let tick = 1; enqueued < total; tick += 1) {
      // Catches up after a slow insert instead of drifting below the rate.
      const due = Math.min(total, Math.floor((ratePerSec * (performance.now() - run.t0)) / 1000)) - enqueued;
      if (due > 0) {
        const isMeasured = since() >= warmupSec;
        const { firstId, count } = await enqueueItems(enqueuer, source.take(due, tag));
        for (let i = 0; i < count; i += 1) pending.set(String(Number(firstId) + i), isMeasured);
        if (isMeasured) measuredItems += count;
        enqueued += count;
      }
      await sleep(Math.max(0, run.t0 + tick * BATCH_EVERY_MS - performance.now()));
    }
    run.enqueuing = false;
    await loops;
  } finally {
    run.aborted = run.enqueuing;
    run.enqueuing = false;
    await loops.catch(() => undefined);
    await Promise.all([enqueuer.end(), poller.end(), viewer.end()]);
    [worker] = started ? await stopWorkerProcesses([started]) : [];
  }
  const items = [...measured.values()];
  const p95s = view.map((v) => v.p95AgeSec).sort((a, b) => a - b);
  return {
    ratePerSec,
    batchEveryMs: BATCH_EVERY_MS,
    warmupSec,
    durationSec,
    measuredItems,
    unfinished: measuredItems - items.length,
    ageToStartMs: summary(items.map((i) => i.started - i.created)),
    ageSeenDoneMs: summary(items.map((i) => i.seen - i.created)),
    view,
    viewP95AgeSec: { median: percentile(p95s, 50), max: p95s.at(-1) ?? 0 },
    worker: worker ?? { label: 'worker (steady)', readyMs: 0, exit: 'unknown', items: {}, meanItemMs: null },
  };
}
