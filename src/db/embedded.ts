import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { vector } from '@electric-sql/pglite/vector';

/**
 * The embedded default database: PostgreSQL compiled to WebAssembly (PGlite) with pgvector, its data on
 * disk, served on a loopback port by PGlite's wire-protocol server. Everything else (the migrator, the
 * pg pool, Prisma's pg adapter, raw SQL) talks to it exactly as to a real server.
 *
 * PGlite is one backend session shared by every connection: the gateway's pool must hold a single
 * connection, and session settings (role, statement timeout) are set once on the session itself.
 */
export interface EmbeddedPostgres {
  url: string;
  dataDir: string;
  /** Switches the shared session to the gateway's role and timeout; call after migrating and seeding. */
  confineSession: (
    role: string,
    statementTimeoutMs: number,
    settings?: Record<string, string>,
  ) => Promise<void>;
  close: () => Promise<void>;
}

const roleName = /^[a-z_][a-z0-9_]{0,62}$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite has no locking of its own across processes: two gateways on one data folder would corrupt it.
 * A lock file with the owner's pid refuses the second one (a stale lock of a dead process is taken over).
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new Error(
          `the embedded database in ${dataDir} is in use by process ${pid}: stop it, or set EMBEDDED_DATA_DIR ` +
            'to another folder',
          { cause: error },
        );
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new Error(`could not lock the embedded database folder ${dataDir}`);
}

export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const absolute = path.resolve(dataDir);
  await mkdir(absolute, { recursive: true });
  const unlock = await lockDataDir(absolute);
  let db: PGlite;
  try {
    db = await PGlite.create({ dataDir: absolute, extensions: { vector } });
  } catch (error) {
    await unlock();
    throw error;
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    await unlock();
    throw error;
  }
  // The socket server does not expose its bound port; read it from the node:net server it wraps.
  const address = (
    server as unknown as { server?: { address: () => AddressInfo | string | null } }
  ).server?.address();
  if (!address || typeof address === 'string') {
    await server.stop();
    await db.close();
    await unlock();
    throw new Error('the embedded database did not bind a TCP port');
  }
  let closed = false;
  return {
    url: `postgresql://postgres@127.0.0.1:${address.port}/postgres`,
    dataDir: absolute,
    confineSession: async (role, statementTimeoutMs, settings = {}) => {
      if (!roleName.test(role)) throw new Error(`not a role name: ${role}`);
      // The socket server ignores startup options, so the pool's `-c` settings are applied here.
      for (const [key, value] of Object.entries(settings)) {
        await db.query('SELECT set_config($1, $2, false)', [key, value]);
      }
      await db.exec(`SET ROLE ${role}; SET statement_timeout = ${Math.trunc(statementTimeoutMs)}`);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await server.stop();
      await db.close();
      await unlock();
    },
  };
}
