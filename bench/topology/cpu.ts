import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/**
 * CPU seconds spent by each part of the topology, from the kernel's own accounting (/proc/<pid>/stat:
 * utime + stime, in clock ticks of 10 ms) and from Redis' INFO cpu. Sampled before and after a run, the
 * difference divided by the run's requests is the CPU a request costs in that component.
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
  let total = postmaster.own + postmaster.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.ppid === postmasterPid) total += stat.own;
  }
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
