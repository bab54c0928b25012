import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type pg from 'pg';
import { createConsumer, type Consumer, type JobHandler } from '../../src/worker/consumer.js';
import { createLeaseQueue, QUEUES, type LeasedItem, type QueueName } from '../../src/queue/leaseQueue.js';
import type { Logger } from '../../src/platform/logger.js';
import type { Queryable } from './fixtures.js';

/** Worker fixtures: queue rows, a silent logger, consumers run to a condition, the worker process. */

export const silentLogger: Logger = pino({ level: 'silent' });

export interface QueueRow {
  id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  lease_token: string | null;
  lease_expires_at: Date | null;
  run_after: Date;
  /** Seconds from now() to run_after (negative when due). */
  due_in: number;
  /** Seconds from now() to lease_expires_at. */
  lease_in: number | null;
}

export async function queueRow(q: Queryable, queue: QueueName, id: string | number): Promise<QueueRow> {
  const { rows } = await q.query<QueueRow>(
    `SELECT id::text, status, attempts, last_error, lease_token, lease_expires_at, run_after,
            extract(epoch FROM run_after - now())::float8 AS due_in,
            extract(epoch FROM lease_expires_at - now())::float8 AS lease_in
       FROM ${QUEUES[queue].table} WHERE id = $1`,
    [id],
  );
  if (!rows[0]) throw new Error(`no ${queue} item ${id}`);
  return rows[0];
}

/** Enqueues events (one statement, so one NOTIFY); returns their ids in payload order. */
export async function enqueueEvents(
  q: Queryable,
  kind: string,
  payloads: readonly Record<string, unknown>[],
): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(
    `INSERT INTO events_queue (kind, payload)
     SELECT $1, p FROM unnest($2::jsonb[]) WITH ORDINALITY AS t(p, ord) ORDER BY ord RETURNING id::text`,
    [kind, payloads.map((p) => JSON.stringify(p))],
  );
  return rows.map((r) => r.id);
}

/** Polls `check` until it returns true; fails with `what` after the timeout. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** How many of these items are in each status. */
export async function statusCounts(
  q: Queryable,
  queue: QueueName,
  ids: readonly string[],
): Promise<Record<string, number>> {
  const { rows } = await q.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM ${QUEUES[queue].table} WHERE id = ANY($1::bigint[]) GROUP BY status`,
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** A promise the test resolves: lets a handler wait at a point the test chooses. */
export function createGate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/**
 * Runs a consumer with this handler until every item in `ids` is done or error, then stops it.
 * Short polls, so a test never waits for the default interval.
 */
export async function runUntilSettled(
  pool: pg.Pool,
  queue: QueueName,
  handler: JobHandler,
  ids: readonly string[],
  options: { onOutcome?: (outcome: string, item: LeasedItem) => void } = {},
): Promise<void> {
  const consumer: Consumer = createConsumer({
    queue: createLeaseQueue(queue),
    handler,
    pool,
    logger: silentLogger,
    pollMs: 50,
    onOutcome: options.onOutcome,
  });
  await consumer.start();
  try {
    await waitUntil(async () => {
      const counts = await statusCounts(pool, queue, ids);
      return (counts.done ?? 0) + (counts.error ?? 0) === ids.length;
    }, `${ids.length} ${queue} item(s) to settle`);
  } finally {
    await consumer.stop(5000);
  }
}

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerProcess {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcessWithoutNullStreams[] = [];

/** Starts the real worker process (src/worker/main.ts) with only the given environment. */
export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  // One process (no tsx wrapper), so signals reach the worker itself.
  const child = spawn(process.execPath, ['--import', 'tsx/esm', 'src/worker/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, output: () => output, exit };
}

/** Kills every worker process a test file started and left running. */
export function killWorkerProcesses(): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Waits for a JSON log line whose msg is `message` (or the process to exit). */
export async function waitForWorkerLog(
  started: WorkerProcess,
  message: string,
  timeoutMs = 30_000,
): Promise<void> {
  await waitUntil(
    () => {
      if (started.child.exitCode !== null) throw new Error(`worker exited:\n${started.output()}`);
      return started
        .output()
        .split('\n')
        .some((line) => line.startsWith('{') && line.includes(`"msg":${JSON.stringify(message)}`));
    },
    `the worker to log "${message}"; output:\n${started.output()}`,
    timeoutMs,
    50,
  );
}
