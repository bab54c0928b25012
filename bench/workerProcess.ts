import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, killOnExit, projectRoot } from './gatewayProcess.js';

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
  const started = performance.now();
  const child = spawn(process.execPath, WORKER_ARGS, {
    cwd: projectRoot,
    // Nothing from the bench's environment leaks in (NODE_OPTIONS from tsx, a stray WORKER_*…).
    env: { PATH: process.env.PATH ?? '', ...env, HOST: '127.0.0.1', WORKER_METRICS_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${label}: could not spawn node`);
  const tail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      console.error(`${label}: ${line}`);
    });
  }
  const state: { exited: string | null } = { exited: null };
  const exit = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      state.exited = signal ? `signal ${signal}` : `exit ${code}`;
      resolve(state.exited);
    }),
  );
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;

  const stop = async (graceMs = 15_000) => {
    if (state.exited) return state.exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exit;
    } finally {
      clearTimeout(timer);
    }
  };

  // Each answered scrape runs the worker's queue-depth SQL, so probe until the first answer only.
  try {
    const deadline = started + 60_000;
    for (;;) {
      if (state.exited)
        throw new Error(`${label} ended (${state.exited}) before it was ready:\n${tail.join('\n')}`);
      const ready = await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (performance.now() > deadline) throw new Error(`${label} was not ready within 60 s`);
      await sleep(25);
    }
  } catch (error) {
    await stop(2000);
    throw error;
  }

  return {
    pid,
    label,
    readyMs: Math.round(performance.now() - started),
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
