import { PrismaPg } from '@prisma/adapter-pg';
import type pg from 'pg';
import type { Config } from '../config/config.js';
import { PrismaClient } from '../generated/prisma/client.js';
import { createPool } from '../platform/pool.js';
import { GATEWAY_CONNECTION_TIMEOUT_MS } from './identity.js';
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

export function createDatabase(
  config: Pick<Config['database'], 'role' | 'statementTimeoutMs' | 'poolMax'> &
    Partial<Pick<Config['database'], 'sessionSettings' | 'ivfflatProbes'>> & {
      url: string;
      /** The embedded database is one shared session: the service path reuses the single connection. */
      embedded?: boolean;
    },
  onPoolError: (error: Error) => void,
  /**
   * Makes this a read replica's Database: reads that cannot reach it (`when`) go to `primary`'s pools
   * instead, after `onFailure` is told (src/db/replicas.ts).
   */
  replica?: { primary: Database; when: (error: unknown) => boolean; onFailure: (error: Error) => void },
): Database {
  // Every gateway connection switches to the gateway role (so RLS applies even when the login role
  // could bypass it) and gets the statement timeout that protects the pool from runaway queries.
  const pool = createPool({
    url: config.url,
    role: config.role,
    settings: { statement_timeout: config.statementTimeoutMs, ...config.sessionSettings },
    applicationName: replica ? 'lodestar-gateway-replica' : 'lodestar-gateway',
    max: config.poolMax,
    connectionTimeoutMillis: GATEWAY_CONNECTION_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    onError: onPoolError,
    prepare: config.embedded !== true,
    ...(replica
      ? { fallback: { pool: replica.primary.pool, when: replica.when, onFailure: replica.onFailure } }
      : {}),
  });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const service = createServiceDb({
    url: config.url,
    statementTimeoutMs: config.statementTimeoutMs,
    poolMax: Math.max(1, Math.ceil(config.poolMax / 2)),
    shared: config.embedded ? pool : undefined,
    ivfflatProbes: config.ivfflatProbes,
    onPoolError,
    ...(replica
      ? {
          applicationName: 'lodestar-gateway-replica-service',
          fallback: { db: replica.primary.service, when: replica.when, onFailure: replica.onFailure },
        }
      : {}),
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
  /** The login role (`session_user`): what an injected `RESET ROLE` would return to. */
  sessionUser: string;
  sessionSuperuser: boolean;
  sessionBypassRls: boolean;
  sessionOwnsTables: boolean;
  /** The gateway's roles (its own and lodestar_service) that may still create temporary objects. */
  temporaryRoles: string[];
}

/**
 * What the gateway's effective role and its login role can do: RLS only protects a role that is none
 * of superuser, BYPASSRLS or table owner, and only as long as the session cannot get back to its login.
 */
export async function checkGatewayRole(pool: pg.Pool): Promise<RoleCheck> {
  // gateway role check: superuser / BYPASSRLS / table ownership would all silently skip RLS
  const { rows } = await pool.query<{
    current_user: string;
    rolsuper: boolean;
    rolbypassrls: boolean;
    owns: boolean;
    session_user: string;
    session_super: boolean;
    session_bypassrls: boolean;
    session_owns: boolean;
    temporary_roles: string[];
  }>(
    `SELECT current_user, r.rolsuper, r.rolbypassrls,
            EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_has_role(current_user, c.relowner, 'USAGE')) AS owns,
            session_user, s.rolsuper AS session_super, s.rolbypassrls AS session_bypassrls,
            EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_has_role(session_user, c.relowner, 'USAGE')) AS session_owns,
            ARRAY(SELECT t.rolname::text FROM pg_roles t
                   WHERE t.rolname IN (current_user, 'lodestar_service')
                     AND has_database_privilege(t.oid, current_database(), 'TEMPORARY')
                   ORDER BY t.rolname) AS temporary_roles
       FROM pg_roles r, pg_roles s WHERE r.rolname = current_user AND s.rolname = session_user`,
  );
  const row = rows[0];
  if (!row) throw new Error('could not read the current database role');
  return {
    currentUser: row.current_user,
    superuser: row.rolsuper,
    bypassRls: row.rolbypassrls,
    ownsTables: row.owns,
    sessionUser: row.session_user,
    sessionSuperuser: row.session_super,
    sessionBypassRls: row.session_bypassrls,
    sessionOwnsTables: row.session_owns,
    temporaryRoles: row.temporary_roles,
  };
}
