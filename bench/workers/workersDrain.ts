import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startWorkerProcesses, stopWorkerProcesses, type WorkerSummary } from './workerProcess.js';
import type { DrainRun } from './workersReport.js';
import { restoreState } from './workersState.js';
import { enqueueItems, type createItemSource } from './workersWorkload.js';

/** How often the drain run counts done items: one SQL per poll. */
export const DRAIN_POLL_MS = 200;
/** A run that has not finished by then has stopped making progress; the phase fails. */
const DRAIN_LIMIT_MS = 20 * 60_000;

const countSql = `
SELECT count(*) FILTER (WHERE status = 'done')::int AS done,
       count(*) FILTER (WHERE status = 'error')::int AS failed
  FROM events_queue WHERE id BETWEEN $1 AND $2`;

const outcomeSql = `
SELECT (SELECT coalesce(sum(attempts), 0)::int FROM events_queue WHERE id BETWEEN $1 AND $2) AS retries,
       (SELECT count(*)::int FROM events_queue WHERE kind = 'profile.recompute' AND id > $2) AS follow_ups,
       (SELECT count(*)::int FROM events_queue WHERE kind = 'profile.recompute' AND id > $2 AND status = 'done') AS follow_ups_done`;

/**
 * One drain run: puts the state back, enqueues `items` with one INSERT, then starts `processes`
 * workers at once and counts done items every DRAIN_POLL_MS until all are done or in `error`. The
 * throughput window starts at the first poll after the slowest process was ready, so startup (2 s for
 * one process, 4–12 s for several starting together on 2 busy cores) is outside it; the wall time
 * includes it.
 */
export async function runDrain(
  url: string,
  env: Record<string, string>,
  source: ReturnType<typeof createItemSource>,
  options: { processes: number; items: number; tag: string },
): Promise<DrainRun> {
  const { processes, items, tag } = options;
  const resetStarted = performance.now();
  await restoreState(url);
  const resetSec = (performance.now() - resetStarted) / 1000;
  const client = new pg.Client({ connectionString: url, application_name: 'lodestar-bench-workers' });
  await client.connect();
  try {
    const { firstId, lastId } = await enqueueItems(client, source.take(items, tag));
    // As autovacuum would on a production server (events_queue analyzes at 2 % changed rows).
    await client.query('ANALYZE events_queue');
    const range = [firstId, lastId];

    const t0 = performance.now();
    // Set by the start's callbacks; an object so the loop's checks are not narrowed away.
    const start: { readyAt: number | null; error: Error | null } = { readyAt: null, error: null };
    const starting = startWorkerProcesses(env, processes, `worker (${processes}p)`);
    starting.then(
      () => (start.readyAt = performance.now()),
      (error: unknown) => (start.error = error instanceof Error ? error : new Error(String(error))),
    );
    let window: { at: number; finished: number } | null = null;
    let end: { at: number; done: number; failed: number } | null = null;
    let workers: WorkerSummary[];
    try {
      while (!end) {
        if (start.error) throw start.error;
        const at = performance.now();
        if (at - t0 > DRAIN_LIMIT_MS) throw new Error(`${processes}p drain did not finish in 20 minutes`);
        const { rows } = await client.query<{ done: number; failed: number }>(countSql, range);
        const { done, failed } = rows[0] ?? { done: 0, failed: 0 };
        if (window === null && start.readyAt !== null && at >= start.readyAt) {
          window = { at, finished: done + failed };
        }
        if (done + failed >= items) end = { at, done, failed };
        else await sleep(DRAIN_POLL_MS);
      }
    } finally {
      // Stopped whether or not the run finished: a failed run must not leave workers draining.
      workers = await starting.then(stopWorkerProcesses, () => []);
    }
    const { rows } = await client.query<{ retries: number; follow_ups: number; follow_ups_done: number }>(
      outcomeSql,
      range,
    );
    const o = rows[0] ?? { retries: 0, follow_ups: 0, follow_ups_done: 0 };
    // A queue drained before every process was ready: the window is then the whole run.
    const from = window ?? { at: t0, finished: 0 };
    const measuredSec = (end.at - from.at) / 1000;
    const wallSec = (end.at - t0) / 1000;
    const run: DrainRun = {
      processes,
      items,
      wallSec,
      allReadySec: ((start.readyAt ?? end.at) - t0) / 1000,
      measuredSec,
      measuredItems: end.done + end.failed - from.finished,
      itemsPerSec: Math.round((end.done + end.failed - from.finished) / measuredSec),
      itemsPerSecWithStartup: Math.round(items / wallSec),
      retries: o.retries,
      errorItems: end.failed,
      followUps: { enqueued: o.follow_ups, done: o.follow_ups_done },
      resetSec,
      workers,
    };
    console.log(
      `  ${processes} process(es): ${run.itemsPerSec} items/s over ${measuredSec.toFixed(1)} s ` +
        `(${run.itemsPerSecWithStartup} items/s over ${wallSec.toFixed(1)} s with startup, ` +
        `ready after ${run.allReadySec.toFixed(2)} s); retries ${run.retries}, errors ${run.errorItems}; ` +
        `exits ${workers.map((w) => w.exit).join(', ')}`,
    );
    return run;
  } finally {
    await client.end();
  }
}
