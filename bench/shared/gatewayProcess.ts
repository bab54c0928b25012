import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import { projectRoot, runNpm, startNodeProcess } from './nodeProcess.js';

const TRACING_ENTRY = './dist/telemetry/register.js';

/**
 * The gateway as production runs it: `npm run build`, then `node --heap-growing-percent=30
 * --max-semi-space-size=8 --enable-source-maps dist/main.js` (package.json `start`) in a process of its own, configured only through its environment. Its RSS
 * is then its own, without the load generator, the raw-SQL pool or tsx.
 */

/** The `start` script's command line, minus `node` (test/bench/gatewayArgs.test.ts keeps them equal). */
export const GATEWAY_ARGS = [
  // OpenTelemetry's entry: does nothing unless an OTEL_* variable turns tracing on (docs/clients.md#traces).
  `--import=${TRACING_ENTRY}`,
  '--heap-growing-percent=30',
  '--max-semi-space-size=8',
  '--enable-source-maps',
  'dist/main.js',
];

/** `npm run build` (tsc -p tsconfig.build.json into dist/); returns the seconds it took. */
export async function buildGateway(): Promise<number> {
  const started = performance.now();
  const code = await runNpm(['run', '--silent', 'build'], projectRoot);
  if (code !== 0) throw new Error(`npm run build failed (exit ${code}); the gateway cannot start from dist/`);
  return (performance.now() - started) / 1000;
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * `count` distinct free ports: every listener stays open until all are taken (two freePort calls in a row
 * can get the same port back, which stopped a bench run: METRICS_PORT must differ from PORT).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    // A server whose listen failed is not listening: close reports that, and it is nothing to wait for.
    await Promise.all(
      servers.map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))),
    );
  }
}

export interface ProcessMemory {
  rssKb: number;
  /** Peak RSS over the process's life (VmHWM); null where only `ps` could be read. */
  hwmKb: number | null;
}

export interface GatewayProcess {
  pid: number;
  url: string;
  /** GET /metrics on the gateway's METRICS_PORT (production serves no metrics on the public port). */
  metricsUrl: string;
  memory: () => Promise<ProcessMemory>;
  /** Selected Node memory gauges from the gateway's own /metrics, in bytes. */
  heap: () => Promise<Record<'heapUsed' | 'heapTotal' | 'external', number>>;
  /** A labelled counter from the gateway's /metrics, by the value of `label` (absent series: none). */
  counter: (name: string, label: string) => Promise<Record<string, number>>;
  /** SIGTERM (graceful drain), then SIGKILL after `graceMs`; resolves with how it ended. */
  stop: (graceMs?: number) => Promise<string>;
}

/**
 * A labelled counter's values in Prometheus text (`name{…label="v"…} n`), summed by the label's value;
 * other metrics, and names that merely begin with `name`, are not read.
 */
export function countersByLabel(text: string, name: string, label: string): Record<string, number> {
  const series = new RegExp(`^${name}\\{(?:[^}]*,)?${label}="([^"]*)"[^}]*\\} (\\S+)$`, 'gm');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(series)) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  return out;
}

/**
 * Starts the built gateway with exactly `env` (plus PATH, a free PORT and a free METRICS_PORT) and
 * waits for /readyz. `cwd` runs another checkout's build (its dist/main.js) instead of this one's.
 */
export async function startGatewayProcess(
  env: Record<string, string>,
  label: string,
  cwd?: string,
): Promise<GatewayProcess> {
  const [port, metricsPort] = (await freePorts(2)) as [number, number];
  const url = `http://127.0.0.1:${port}`;
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  // Another checkout's build from before tracing existed has no entry to import.
  const args =
    cwd !== undefined && !existsSync(path.join(cwd, TRACING_ENTRY))
      ? GATEWAY_ARGS.filter((arg) => arg !== `--import=${TRACING_ENTRY}`)
      : GATEWAY_ARGS;
  const { pid, stop } = await startNodeProcess({
    args,
    env: { ...env, PORT: String(port), METRICS_PORT: String(metricsPort) },
    label,
    readyUrl: `${url}/readyz`,
    ...(cwd === undefined ? {} : { cwd }),
  });

  return {
    pid,
    url,
    metricsUrl,
    memory: () => readMemory(pid),
    heap: async () => {
      const text = await (await fetch(metricsUrl)).text();
      const gauge = (name: string) => Number(new RegExp(`^lodestar_${name} (\\S+)$`, 'm').exec(text)?.[1]);
      return {
        heapUsed: gauge('nodejs_heap_size_used_bytes'),
        heapTotal: gauge('nodejs_heap_size_total_bytes'),
        external: gauge('nodejs_external_memory_bytes'),
      };
    },
    counter: async (name, label) => countersByLabel(await (await fetch(metricsUrl)).text(), name, label),
    stop,
  };
}

/** Peak RSS (VmHWM) and V8 heap of a measured gateway, before it is stopped; what could not be read is left out. */
export async function memorySummary(
  g: GatewayProcess,
): Promise<{ peakRssMb: number | null; heapUsedMb?: number; heapTotalMb?: number }> {
  const toMb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  const { hwmKb } = await g.memory().catch(() => ({ hwmKb: null }));
  const heap = await g.heap().catch(() => null);
  return {
    peakRssMb: hwmKb === null ? null : Math.round(hwmKb / 1024),
    ...(heap ? { heapUsedMb: toMb(heap.heapUsed), heapTotalMb: toMb(heap.heapTotal) } : {}),
  };
}

/** VmRSS and VmHWM from /proc/<pid>/status (Linux), else RSS from `ps -o rss=`. */
export async function readMemory(pid: number): Promise<ProcessMemory> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    const { stdout } = await promisify(execFile)('ps', ['-o', 'rss=', '-p', String(pid)]);
    return { rssKb: Number(stdout.trim()), hwmKb: null };
  }
}
