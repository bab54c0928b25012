import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The directories the topology's servers live in (under /tmp and os.tmpdir()), apart from the tests' own. */
export const TOPOLOGY_DIRS = {
  primary: 'lodestar-topology-pg-',
  replica: 'lodestar-topology-replica-',
  redis: 'lodestar-topology-redis-',
} as const;

const binDir = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

const pids = () => readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));

/** A file of /proc/<pid>, or '' once the process is gone. */
function procRead(pid: string, what: 'cmdline' | 'cwd'): string {
  try {
    return what === 'cwd'
      ? readlinkSync(`/proc/${pid}/cwd`)
      : readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Another `npm run topology` still running (its servers are not leftovers). */
function runningTopology(): string | null {
  for (const pid of pids()) {
    if (Number(pid) === process.pid || Number(pid) === process.ppid) continue;
    const cmdline = procRead(pid, 'cmdline');
    if (cmdline.includes('bench/topology.ts') && !/\bdown\b/.test(cmdline)) return pid;
  }
  return null;
}

function pgCtl(args: string[]): number | null {
  const pgCtlPath = path.join(binDir, 'pg_ctl');
  return (
    process.getuid?.() === 0
      ? spawnSync('runuser', ['-u', 'postgres', '--', pgCtlPath, ...args])
      : spawnSync(pgCtlPath, args)
  ).status;
}

/**
 * `npm run topology -- down`: what an `up` or `bench` that was killed before it could clean up left
 * behind — Postgres servers stopped (`pg_ctl -m immediate`), redis-servers killed (found by their working
 * directory: Redis renames its process title), their directories deleted. Only the topology's own
 * directories (TOPOLOGY_DIRS), never a test run's, and nothing while another topology is running.
 */
export function takeDownLeftovers(): string[] {
  const other = runningTopology();
  if (other) return [`a topology is running (process ${other}): stop it with Ctrl-C instead`];
  const done: string[] = [];
  const roots = [...new Set(['/tmp', os.tmpdir()])];
  for (const root of roots) {
    const names = readdirSync(root).filter((n) => Object.values(TOPOLOGY_DIRS).some((p) => n.startsWith(p)));
    for (const name of names) {
      const dir = path.join(root, name);
      if (name.startsWith(TOPOLOGY_DIRS.redis)) {
        for (const pid of pids()) {
          if (procRead(pid, 'cmdline').startsWith('redis-server') && procRead(pid, 'cwd') === dir) {
            process.kill(Number(pid), 'SIGKILL');
            done.push(`killed redis-server ${pid}`);
          }
        }
      } else {
        const dataDir = path.join(dir, 'data');
        // pg_ctl status: 0 running, 3 not running; stop it first, and keep a directory it could not stop.
        if (
          pgCtl(['-D', dataDir, 'status']) === 0 &&
          pgCtl(['-D', dataDir, '-m', 'immediate', '-w', 'stop']) !== 0
        ) {
          done.push(`could not stop the server in ${dir}: left as it is`);
          continue;
        }
        done.push(`stopped ${dir}`);
      }
      rmSync(dir, { recursive: true, force: true });
      done.push(`removed ${dir}`);
    }
  }
  return done;
}
