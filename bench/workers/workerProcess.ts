import { freePort } from '../shared/gatewayProcess.js';
import { startNodeProcess } from '../shared/nodeProcess.js';

/**
 * The queue worker as production runs it (`npm run worker` without its `npm run build`): `node
 * --enable-source-maps dist/worker/main.js` in a process of its own, configured only through its
 * environment, with its /metrics on a free port of its own.
 */

/** The `worker` script's command line, minus `node`. */
export const WORKER_ARGS = ['--enable-source-maps', 'dist/worker/main.js'];

/** What one worker process's own counters say, read from its /metrics before it is stopped. */
export interface WorkerCounters {
  /** lodestar_worker_items_total{queue="events"} by outcome (claimed, succeeded, failed, lost, released). */
  items: Record<string, number>;
  /** Mean of lodestar_worker_item_duration_seconds{queue="events"}: connect, BEGIN, handler, complete, COMMIT, after-commit. */
  meanItemMs: number | null;
}

export interface WorkerProcess {
  pid: number;
  label: string;
  /** From spawn until its /metrics answered (it starts claiming just before it serves /metrics). */
  readyMs: number;
  counters: () => Promise<WorkerCounters>;
  /** SIGTERM (stop claiming, finish in-flight items), then SIGKILL after `graceMs`; resolves with how it ended. */
  stop: (graceMs?: number) => Promise<string>;
}

function parseCounters(text: string): WorkerCounters {
  const items: Record<string, number> = {};
  const itemLine = /^lodestar_worker_items_total\{queue="events",outcome="(\w+)"\} (\S+)$/gm;
  for (const [, outcome, value] of text.matchAll(itemLine)) if (outcome) items[outcome] = Number(value);
  const histogram = (suffix: string) =>
    Number(
      new RegExp(`^lodestar_worker_item_duration_seconds_${suffix}\\{queue="events"\\} (\\S+)$`, 'm').exec(
        text,
      )?.[1] ?? NaN,
    );
  const [sum, count] = [histogram('sum'), histogram('count')];
  return { items, meanItemMs: count > 0 ? Math.round((sum / count) * 1e5) / 100 : null };
}

/**
 * Starts a built worker with exactly `env` (plus PATH, HOST and a free WORKER_METRICS_PORT) and waits
 * until its /metrics answers, which it serves only once its consumers have started.
 */
export async function startWorkerProcess(env: Record<string, string>, label: string): Promise<WorkerProcess> {
  const port = await freePort();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  // Each answered scrape runs the worker's queue-depth SQL, so probe until the first answer only.
  const { pid, readyMs, stop } = await startNodeProcess({
    args: WORKER_ARGS,
    env: { ...env, HOST: '127.0.0.1', WORKER_METRICS_PORT: String(port) },
    label,
    readyUrl: metricsUrl,
    probeMs: 25,
  });

  return {
    pid,
    label,
    readyMs,
    counters: async () => parseCounters(await (await fetch(metricsUrl)).text()),
    stop,
  };
}

/** One worker process of a run, as the report shows it. */
export interface WorkerSummary extends WorkerCounters {
  label: string;
  readyMs: number;
  exit: string;
}

/** Starts `count` workers at once; if one fails to start, the others are stopped. */
export async function startWorkerProcesses(
  env: Record<string, string>,
  count: number,
  label: string,
): Promise<WorkerProcess[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => startWorkerProcess(env, `${label} ${i + 1}/${count}`)),
  );
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop(2000)] : [])));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<WorkerProcess>).value);
}

/** Reads each worker's counters, then stops them all with SIGTERM and records how each ended. */
export async function stopWorkerProcesses(workers: readonly WorkerProcess[]): Promise<WorkerSummary[]> {
  const counters = await Promise.all(
    workers.map((w) => w.counters().catch((): WorkerCounters => ({ items: {}, meanItemMs: null }))),
  );
  const exits = await Promise.all(workers.map((w) => w.stop()));
  return workers.map((w, i) => ({
    label: w.label,
    readyMs: w.readyMs,
    exit: exits[i] ?? 'unknown',
    ...(counters[i] ?? { items: {}, meanItemMs: null }),
  }));
}
