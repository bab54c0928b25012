import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { Config } from '../config/config.js';
import { PrismaClient } from '../generated/prisma/client.js';
import { createServiceDb, type ServiceDb } from './service.js';

export interface Database {
  /** One pool shared by Prisma and the raw SQL, so both count against one connection budget. */
  pool: pg.Pool;
  /** Unscoped client: public catalog data only. User data goes through `scopedPrisma`. */
  prisma: PrismaClient;
  /** The service path (lodestar_service): feed candidates and learning events. */
  service: ServiceDb;
  close: () => Promise<void>;
}

/**
 * Every gateway connection switches to the gateway role (so RLS applies even when the login role
 * could bypass it) and gets the statement timeout that protects the pool from runaway queries.
 */
export function connectionOptions(
  config: Pick<Config['database'], 'role' | 'statementTimeoutMs'> &
    Partial<Pick<Config['database'], 'sessionSettings'>>,
  url: string,
): string {
  const existing = new URL(url).searchParams.get('options') ?? '';
  const ours = [
    `-c statement_timeout=${config.statementTimeoutMs}`,
    `-c role=${config.role}`,
    ...Object.entries(config.sessionSettings ?? {}).map(([key, value]) => `-c ${key}=${value}`),
  ];
  return [existing, ...ours].filter(Boolean).join(' ');
}

export function createDatabase(
  config: Pick<Config['database'], 'role' | 'statementTimeoutMs' | 'poolMax'> &
    Partial<Pick<Config['database'], 'sessionSettings'>> & {
      url: string;
      /** The embedded database is one shared session: the service path reuses the single connection. */
      embedded?: boolean;
    },
  onPoolError: (error: Error) => void,
): Database {
  const pool = new pg.Pool({
    connectionString: config.url,
    options: connectionOptions(config, config.url),
    max: config.poolMax,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    application_name: 'lodestar-gateway',
  });
  // An idle client losing its server connection must not crash the process.
  pool.on('error', onPoolError);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const service = createServiceDb({
    url: config.url,
    statementTimeoutMs: config.statementTimeoutMs,
    poolMax: Math.max(1, Math.ceil(config.poolMax / 2)),
    shared: config.embedded ? pool : undefined,
    onPoolError,
  });
  let closed = false;
  return {
    pool,
    prisma,
    service,
    close: async () => {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await service.close();
      await pool.end();
    },
  };
}

export interface RoleCheck {
  currentUser: string;
  superuser: boolean;
  bypassRls: boolean;
  ownsTables: boolean;
}

/** What the gateway's effective role can do: RLS only protects a role that is none of these. */
export async function checkGatewayRole(pool: pg.Pool): Promise<RoleCheck> {
  // gateway role check: superuser / BYPASSRLS / table ownership would all silently skip RLS
  const { rows } = await pool.query<{
    current_user: string;
    rolsuper: boolean;
    rolbypassrls: boolean;
    owns: boolean;
  }>(
    `SELECT current_user, r.rolsuper, r.rolbypassrls,
            EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_has_role(current_user, c.relowner, 'USAGE')) AS owns
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const row = rows[0];
  if (!row) throw new Error('could not read the current database role');
  return {
    currentUser: row.current_user,
    superuser: row.rolsuper,
    bypassRls: row.rolbypassrls,
    ownsTables: row.owns,
  };
}
