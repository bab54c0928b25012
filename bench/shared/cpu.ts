import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/**
 * CPU seconds spent by each part of what a bench runs (the topology's processes, the feed phase's
 * gateway, Postgres and Redis), from the kernel's own accounting (/proc/<pid>/stat: utime + stime, in
 * clock ticks of 10 ms) and from Redis' INFO cpu. Sampled before and after a run, the difference divided
 * by the run's requests is the CPU a request costs in that component.
 */

const TICKS_PER_SEC = 100;

interface Stat {
  ppid: number;
  /** utime + stime of the process (all its threads), seconds. */
  own: number;
  /** cutime + cstime: children it has waited for (a postmaster's exited backends), seconds. */
  children: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces: the fields after it start past the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(fields[i - 3]);
  return { ppid: n(4), own: (n(14) + n(15)) / TICKS_PER_SEC, children: (n(16) + n(17)) / TICKS_PER_SEC };
}

/** The parent of a process (a backend's is its postmaster); NaN when it is gone. */
export function parentPid(pid: number): number {
  return readStat(pid)?.ppid ?? Number.NaN;
}

/** CPU seconds of one process (a gateway, a worker) so far. */
export function processCpu(pid: number): number {
  return readStat(pid)?.own ?? Number.NaN;
}

/**
 * CPU seconds of a whole Postgres server so far: the postmaster, the backends and helpers it has reaped
 * (cutime/cstime), and every live child (backends, walwriter, checkpointer, walsender/walreceiver,
 * startup process replaying WAL on a replica).
 */
export function postgresCpu(postmasterPid: number): number {
  const postmaster = readStat(postmasterPid);
  if (!postmaster) return Number.NaN;
  let total = postmaster.children;
  for (const seconds of postgresProcessesCpu(postmasterPid).values()) total += seconds;
  return total;
}

/**
 * CPU seconds so far of a Postgres server's processes by pid: the postmaster (its own time only) and
 * each live child. For short slices: a backend that exits during one would otherwise bring its whole
 * life into it through the postmaster's cutime; here its last moments are lost instead (see
 * processesCpuBetween).
 */
export function postgresProcessesCpu(postmasterPid: number): Map<number, number> {
  const out = new Map<number, number>();
  const postmaster = readStat(postmasterPid);
  if (!postmaster) return out;
  out.set(postmasterPid, postmaster.own);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.ppid === postmasterPid) out.set(Number(entry), stat.own);
  }
  return out;
}

/** CPU seconds between two readings of processesCpu: growth of the live ones, all of the new ones. */
export function processesCpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  if (after.size === 0) return Number.NaN;
  let total = 0;
  for (const [pid, seconds] of after) total += Math.max(0, seconds - (before.get(pid) ?? 0));
  return total;
}

/** used_cpu_sys + used_cpu_user of every node of a Redis Cluster (or any set of servers), seconds. */
export async function redisCpu(ports: readonly number[]): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const info = await client.info('cpu');
      const value = (name: string) => Number(new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1] ?? NaN);
      total += value('used_cpu_sys') + value('used_cpu_user');
    } catch {
      // A node that is down (killed for the failover run) has no CPU to add.
    } finally {
      client.disconnect();
    }
  }
  return total;
}

/** The components the plan counts, each a CPU-seconds reading. */
export type CpuReading = Record<string, number>;

export function cpuDelta(before: CpuReading, after: CpuReading): CpuReading {
  return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? NaN) - (before[k] ?? NaN)]));
}

/**
 * CPU ms per request of each component over a run's slices (each a cpuDelta in seconds), rounded to
 * 0.01 ms; null without requests or slices.
 */
export function cpuMsPerRequest(slices: readonly CpuReading[], requests: number): CpuReading | null {
  if (requests <= 0 || slices.length === 0) return null;
  const keys = Object.keys(slices[0]!);
  return Object.fromEntries(
    keys.map((k) => [
      k,
      Math.round((slices.reduce((sum, s) => sum + (s[k] ?? NaN), 0) * 1000 * 100) / requests) / 100,
    ]),
  );
}
