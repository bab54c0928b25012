import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The project folder (two up from bench/shared/): child processes start there. */
export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Child processes still running: killed whenever the bench exits, a crash or Ctrl-C included. */
const running = new Set<ChildProcess>();
let exitHooked = false;
export function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}, stopping`);
      process.exit(code); // the exit hook above kills the gateways
    });
  }
}

/** Runs `npm <args>` in `cwd` with the bench's output, killed with the bench; resolves with its exit code. */
export async function runNpm(args: string[], cwd: string): Promise<number | null> {
  const child = spawn('npm', args, { cwd, stdio: 'inherit' });
  killOnExit(child);
  return new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
}

export interface NodeProcess {
  pid: number;
  /** From spawn until `readyUrl` first answered 2xx. */
  readyMs: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended ("exit 0", "signal SIGKILL"). */
  stop: (graceMs?: number) => Promise<string>;
}

/**
 * Starts `node <args>` from the project folder (or `cwd`) with exactly `env` (plus PATH: nothing of the bench's
 * own environment leaks in, such as NODE_OPTIONS from tsx), prints its output with `label`, and waits
 * until `readyUrl` answers 2xx (at most 60 s). A process that exits first fails with its last lines.
 */
export async function startNodeProcess(options: {
  args: string[];
  env: Record<string, string>;
  label: string;
  readyUrl: string;
  /** How often readiness is probed. @default 200 */
  probeMs?: number;
  /** Folder to run in. @default the project folder */
  cwd?: string;
}): Promise<NodeProcess> {
  const { label } = options;
  const started = performance.now();
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd ?? projectRoot,
    env: { PATH: process.env.PATH ?? '', ...options.env },
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
  // Set by the exit listener; an object so the checks below are not narrowed away.
  const state: { exited: string | null } = { exited: null };
  const exit = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      state.exited = signal ? `signal ${signal}` : `exit ${code}`;
      resolve(state.exited);
    }),
  );
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

  try {
    const deadline = started + 60_000;
    for (;;) {
      if (state.exited)
        throw new Error(`${label} ended (${state.exited}) before it was ready:\n${tail.join('\n')}`);
      const ready = await fetch(options.readyUrl, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (performance.now() > deadline) throw new Error(`${label} was not ready within 60 s`);
      await sleep(options.probeMs ?? 200);
    }
  } catch (error) {
    await stop(2000);
    throw error;
  }
  return { pid, readyMs: Math.round(performance.now() - started), stop };
}
