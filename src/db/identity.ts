import type pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.js';
import { statementConfig, type NamedStatement } from '../platform/pool.js';
import { withTransaction } from './checkout.js';

/** Who a statement runs for: any auth/viewer.ts Viewer (typed narrowly so db/ stays below auth/). */
export interface RlsViewer {
  userId: string | null;
  role: string;
}

/** The RLS identity of a viewer: what the policies read via app_current_user_id()/app_current_role(). */
export function identityOf(viewer: RlsViewer): { userId: string; role: string } {
  return { userId: viewer.userId ?? '', role: viewer.role };
}

/** set_config(..., true) is transaction-local, so a pooled connection never carries it to the next user. */
const setIdentitySql = `SELECT set_config('lodestar.user_id', $1, true), set_config('lodestar.role', $2, true)`;

/** Runs raw SQL in one transaction under the viewer's RLS identity. */
export async function withIdentity<T>(
  pool: pg.Pool,
  viewer: RlsViewer,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return withTransaction(pool, async (client) => {
    const { userId, role } = identityOf(viewer);
    await client.query(setIdentitySql, [userId, role]);
    return fn(client);
  });
}

/**
 * One raw statement under the viewer's RLS identity. An anonymous viewer's runs as it is: an unset
 * identity is what the policies read as anonymous, so no transaction is needed (one round trip). A
 * signed-in viewer's runs in a transaction that sets the identity first.
 */
export async function queryAsViewer<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  viewer: RlsViewer,
  statement: string | NamedStatement,
  values: unknown[],
): Promise<R[]> {
  const query = statementConfig(pool, statement, values);
  const { rows } =
    viewer.role === 'anonymous'
      ? await pool.query<R>(query)
      : await withIdentity(pool, viewer, (client) => client.query<R>(query));
  return rows;
}

/** Models whose tables have row-level security keyed on the caller. */
const userDataModels = new Set([
  'Profile',
  'UserInterest',
  'Like',
  'Comment',
  'Follow',
  'IntentSignal',
  'LearningEvent',
  // Removed listings are visible only to their seller and admins (policy marketplace_listings_read).
  'Listing',
]);

/** Listings are mostly read anonymously: the anonymous identity is what an unset one reads as anyway. */
const anonymousDefaultModels = new Set(['Listing']);

/**
 * A Prisma client for one request: operations on user-data models run in a transaction that first
 * sets the viewer's identity, so RLS filters them; public models go straight through.
 */
export function scopedPrisma(prisma: PrismaClient, viewer: RlsViewer): ScopedPrisma {
  if (viewer.role !== 'anonymous') return extendWithIdentity(prisma, viewer);
  // Every anonymous viewer has the same identity: one client per process, not one per request.
  let anonymous = anonymousClients.get(prisma);
  if (!anonymous) {
    anonymous = extendWithIdentity(prisma, { userId: null, role: 'anonymous' });
    anonymousClients.set(prisma, anonymous);
  }
  return anonymous;
}

/**
 * How long a gateway request waits for a connection of its pool (src/db/database.ts). The identity's
 * transaction waits as long: Prisma's own default (2 s) gave up a second before the pool would have, and
 * a burst of 100 likes on a loaded machine failed with "Unable to start a transaction in the given time".
 */
export const GATEWAY_CONNECTION_TIMEOUT_MS = 3000;

function extendWithIdentity(prisma: PrismaClient, viewer: RlsViewer) {
  const { userId, role } = identityOf(viewer);
  return prisma.$extends({
    query: {
      $allModels: {
        async $allOperations({ model, args, query }) {
          if (!userDataModels.has(model)) return query(args);
          if (viewer.role === 'anonymous' && anonymousDefaultModels.has(model)) return query(args);
          const [, result] = await prisma.$transaction(
            [prisma.$queryRawUnsafe(setIdentitySql, userId, role), query(args)],
            { maxWait: GATEWAY_CONNECTION_TIMEOUT_MS },
          );
          return result;
        },
      },
    },
  });
}

export type ScopedPrisma = ReturnType<typeof extendWithIdentity>;

const anonymousClients = new WeakMap<PrismaClient, ScopedPrisma>();
