import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

/**
 * A private PostgreSQL cluster for tests that stop and start the server (never the shared one): its own
 * data directory under /tmp, a spare loopback port, its socket inside the data directory. initdb and
 * pg_ctl refuse to run as root, so as root they run as the `postgres` OS user (runuser). pgvector's
 * extension files are system-wide, so `CREATE EXTENSION vector` works here too.
 *
 * Start it once per test run: only the outage test uses it, and it starts it once in its beforeAll.
 */
export interface OwnPostgres {
  port: number;
  /** Superuser URL of database `name` (default postgres). */
  url: (name?: string) => string;
  /** `pg_ctl stop -m immediate`: every backend dies at once, as in a crash. */
  stopImmediate: () => void;
  /** The same without blocking this process (its timers and sockets keep running meanwhile). */
  stopImmediateAsync: () => Promise<void>;
  /** Starts it again (waits until it accepts connections). */
  start: () => void;
  /** Stops it and deletes the data directory; safe to call twice. */
  destroy: () => void;
}

const binDir = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

export function ownPostgresAvailable(): boolean {
  return existsSync(join(binDir, 'initdb')) && existsSync(join(binDir, 'pg_ctl'));
}

function run(command: string, args: string[]): SpawnSyncReturns<string> {
  const asRoot = process.getuid?.() === 0;
  const result = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', join(binDir, command), ...args], { encoding: 'utf8' })
    : spawnSync(join(binDir, command), args, { encoding: 'utf8' });
  return result;
}

function check(result: SpawnSyncReturns<string>, what: string, logFile?: string): void {
  if (result.status === 0) return;
  const log = logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
  throw new Error(`${what} failed (${String(result.status)}): ${result.stderr}${result.stdout}\n${log}`);
}

/** A port nobody listens on right now (the OS picks it). */
export async function sparePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A fresh directory under /tmp that the server (the `postgres` OS user, as root) may write. */
function serverDirectory(prefix: string): { dir: string; dataDir: string; logFile: string } {
  const dir = mkdtempSync(`/tmp/${prefix}`);
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  return { dir, dataDir: join(dir, 'data'), logFile: join(dir, 'server.log') };
}

/**
 * pg_ctl for a data directory served on a loopback port (its socket in the data directory, no fsync):
 * start (waits until it accepts connections), stop at once, destroy.
 */
function serverControl(
  paths: { dir: string; dataDir: string; logFile: string },
  port: number,
  settings: string[],
  what: string,
) {
  const { dir, dataDir, logFile } = paths;
  const options = [
    `-p ${port}`,
    `-k ${dataDir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    ...settings,
  ];
  const start = () =>
    check(
      run('pg_ctl', ['-D', dataDir, '-o', options.join(' '), '-l', logFile, '-w', '-t', '60', 'start']),
      `pg_ctl start (${what})`,
      logFile,
    );
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that dies (or forgets afterAll) must not leave a server behind.
  process.once('exit', destroy);
  const stopImmediate = () =>
    check(run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']), `pg_ctl stop (${what})`, logFile);
  const stopImmediateAsync = async () => {
    const args = ['-D', dataDir, '-m', 'immediate', '-w', 'stop'];
    const pgCtl = join(binDir, 'pg_ctl');
    await (process.getuid?.() === 0
      ? promisify(execFile)('runuser', ['-u', 'postgres', '--', pgCtl, ...args])
      : promisify(execFile)(pgCtl, args));
  };
  return { start, stopImmediate, stopImmediateAsync, destroy };
}

/** Starts a server (destroying it if it fails to start) and describes it. */
function started(port: number, server: ReturnType<typeof serverControl>): OwnPostgres {
  try {
    server.start();
  } catch (error) {
    server.destroy();
    throw error;
  }
  return { port, url: (name = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${name}`, ...server };
}

/** `dirPrefix`: its directory's name under /tmp (the topology script's own, so its `down` finds them). */
export async function startOwnPostgres(options: { dirPrefix?: string } = {}): Promise<OwnPostgres> {
  const paths = serverDirectory(options.dirPrefix ?? 'lodestar-pg-');
  const port = await sparePort();
  check(
    run('initdb', ['-D', paths.dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']),
    'initdb',
  );
  const server = serverControl(paths, port, ['-c full_page_writes=off', '-c max_connections=100'], 'primary');
  return started(port, server);
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (!uid || !gid) throw new Error('no postgres OS user (needed to run initdb as root)');
  return { uid: Number(uid), gid: Number(gid) };
}

/** A streaming replica of an own cluster (startOwnReplica): an OwnPostgres that is not started again. */
export type OwnReplica = Omit<OwnPostgres, 'start'>;

/**
 * A hot-standby streaming replica of `primary`: `pg_basebackup -R` (which writes standby.signal and the
 * primary_conninfo) into its own directory under /tmp, started on another spare loopback port. Waits
 * until it accepts connections; its replay can be paused with pg_wal_replay_pause() as a superuser.
 */
export async function startOwnReplica(
  primary: Pick<OwnPostgres, 'port'>,
  options: { dirPrefix?: string } = {},
): Promise<OwnReplica> {
  const paths = serverDirectory(options.dirPrefix ?? 'lodestar-replica-');
  const port = await sparePort();
  check(
    run('pg_basebackup', [
      ...['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', paths.dataDir],
      ...['-R', '-X', 'stream', '--no-sync', '-c', 'fast'],
    ]),
    'pg_basebackup',
  );
  const server = serverControl(
    paths,
    port,
    // Replay reports its position often, and a replica's own queries never hold replay back for long.
    ['-c hot_standby=on', '-c wal_receiver_status_interval=1s', '-c max_standby_streaming_delay=1s'],
    'replica',
  );
  return started(port, server);
}
