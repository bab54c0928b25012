import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { sourceOf, type Operation } from './graphql.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface GatewayProcess {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exit: Promise<number | null>;
}

const children: ChildProcessWithoutNullStreams[] = [];

/**
 * Starts the real gateway process (src/main.ts) with only the given environment. `preload` is imported
 * first, as the start script imports the tracing entry; `ipc` opens a message channel to the process.
 */
export function startGatewayProcess(
  env: Record<string, string>,
  options: { preload?: string; ipc?: boolean } = {},
): GatewayProcess {
  const preload = options.preload ? ['--import', options.preload] : [];
  // One process (no tsx wrapper), so signals reach the gateway itself.
  const child = spawn(process.execPath, ['--import', 'tsx/esm', ...preload, 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: options.ipc ? ['pipe', 'pipe', 'pipe', 'ipc'] : 'pipe',
  }) as ChildProcessWithoutNullStreams;
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => output, exit };
}

/** Kills every gateway process a test file started and left running. */
export function killGatewayProcesses(): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The JSON log lines of a process whose `msg` is `message`. */
export function logLines<T = Record<string, unknown>>(started: GatewayProcess, message: string): T[] {
  const lines: T[] = [];
  for (const line of started.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as T & { msg?: string };
      if (parsed.msg === message) lines.push(parsed);
    } catch {
      // A line still being written.
    }
  }
  return lines;
}

/** Waits for a log line with this message (or the process to exit) and returns it. */
export async function waitForLogLine<T = Record<string, unknown>>(
  started: GatewayProcess,
  message: string,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [line] = logLines<T>(started, message);
    if (line) return line;
    if (started.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no "${message}" log line; the output was:\n${started.output()}`);
}

/** Waits for the "listening" log line and returns the GraphQL URL. */
export async function listeningUrl(started: GatewayProcess): Promise<string> {
  return (await waitForLogLine<{ url: string }>(started, 'Lodestar gateway is listening')).url;
}

export async function postGraphQLTo<T = Record<string, unknown>>(
  url: string,
  query: Operation<T>,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
}> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: sourceOf(query) }),
  });
  return { status: response.status, body: (await response.json()) as { data?: T } };
}
