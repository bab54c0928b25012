import { GraphQLError } from 'graphql';
import type { ServiceDb } from '../db/service.js';
import { setBounded } from '../platform/boundedMap.js';
import { toPublicDatabaseError } from '../errors/databaseErrors.js';
import { createUnauthenticatedError, createUnavailableError } from '../errors/errors.js';
import type { TokenIdentity } from './verifyToken.js';
import type { Viewer } from './viewer.js';

/**
 * A person's role as profiles.role says; null when no profile has that id (deleted or never existed) or
 * the account is being erased (an open erasure request: docs/privacy.md#erasure).
 */
export type PersonRole = 'user' | 'admin' | null;

/** Reads the roles of many users in one statement: user id → profiles.role, absent ids left out. */
export type RoleLookup = (userIds: string[]) => Promise<Map<string, string>>;

/**
 * One statement for a whole batch of users, on the service path (lodestar_service with the 'service'
 * identity, which may read every profile's role; RLS would hide other people's profiles from the app role).
 */
export const profileRolesSql = `SELECT p.user_id::text AS user_id, p.role FROM profiles p WHERE p.user_id = ANY($1::uuid[])
  AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.user_id = p.user_id)`;

/**
 * The same for one user, the usual case (a request's viewer alone in its tick). PostgreSQL keeps a generic
 * plan for `user_id = $1` after five executions; for `= ANY($1)` it plans every call afresh, because a
 * generic plan must assume an array of any length (0.2 ms of planning against 0.05 ms of execution).
 */
export const profileRoleSql = `SELECT p.user_id::text AS user_id, p.role FROM profiles p WHERE p.user_id = $1::uuid
  AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.user_id = p.user_id)`;

export function serviceRoleLookup(service: Pick<ServiceDb, 'query'>): RoleLookup {
  return async (userIds) => {
    // Named: prepared once per session (a signed-in request that misses the role cache runs it).
    const rows =
      userIds.length === 1
        ? await service.query<{ user_id: string; role: string }>(profileRoleSql, userIds, 'profile_role')
        : await service.query<{ user_id: string; role: string }>(profileRolesSql, [userIds], 'profile_roles');
    return new Map(rows.map((row) => [row.user_id, row.role]));
  };
}

export interface RoleResolver {
  /** The viewer a verified token stands for, with the role from the database (see `effectiveViewer`). */
  effectiveViewer: (identity: TokenIdentity) => Promise<Viewer>;
  /** One person's role (cached for `cacheMs`, batched with every other lookup of the same tick). */
  roleOf: (userId: string) => Promise<PersonRole>;
  /** Drops what this process remembers of a person (their account is being erased): read afresh next time. */
  forget: (userId: string) => void;
}

/** Most distinct users whose roles are kept; beyond that the oldest entries go first. */
const MAX_CACHED = 50_000;
/** Most users asked for in one statement. */
const MAX_BATCH = 500;

/**
 * The effective role of a person comes from profiles.role, never from the token: an admin claim for an
 * ordinary user is an ordinary user, a token for an id without a profile is UNAUTHENTICATED, and a
 * promotion or demotion applies within `cacheMs` (per process). Lookups are batched: every user asked for
 * in the same tick of the event loop is read by one statement, and concurrent lookups of one user share it.
 * A lookup that cannot reach Postgres is UNAVAILABLE (the caller retries); nothing is cached then.
 */
export function createRoleResolver(options: {
  lookup: RoleLookup;
  cacheMs: number;
  /** Called once per statement, with how many users it read (metrics, tests). */
  onQuery?: (users: number) => void;
  now?: () => number;
}): RoleResolver {
  const { lookup, cacheMs } = options;
  const now = options.now ?? (() => performance.now());
  const cache = new Map<string, { role: PersonRole; until: number }>();
  const inFlight = new Map<string, Promise<PersonRole>>();
  let queued = new Map<string, { resolve: (role: PersonRole) => void; reject: (error: unknown) => void }>();
  let scheduled = false;

  const remember = (userId: string, role: PersonRole) => {
    if (cacheMs <= 0) return;
    setBounded(cache, userId, { role, until: now() + cacheMs }, MAX_CACHED);
  };

  const flush = async () => {
    scheduled = false;
    const batch = queued;
    queued = new Map();
    const ids = [...batch.keys()];
    for (let start = 0; start < ids.length; start += MAX_BATCH) {
      const chunk = ids.slice(start, start + MAX_BATCH);
      try {
        options.onQuery?.(chunk.length);
        const roles = await lookup(chunk);
        for (const id of chunk) {
          const stored = roles.get(id);
          // profiles.role may say 'service' (a backend's own profile); a person token never carries it.
          const role: PersonRole = stored === undefined ? null : stored === 'admin' ? 'admin' : 'user';
          remember(id, role);
          batch.get(id)?.resolve(role);
        }
      } catch (error) {
        for (const id of chunk) batch.get(id)?.reject(error);
      }
    }
  };

  const roleOf = (userId: string): Promise<PersonRole> => {
    const cached = cache.get(userId);
    if (cached && cached.until > now()) return Promise.resolve(cached.role);
    const pending = inFlight.get(userId);
    if (pending) return pending;
    const promise = new Promise<PersonRole>((resolve, reject) => {
      queued.set(userId, { resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => void flush());
      }
    }).finally(() => inFlight.delete(userId));
    inFlight.set(userId, promise);
    return promise;
  };

  return {
    roleOf,
    forget: (userId) => {
      cache.delete(userId);
    },
    effectiveViewer: async (identity) => {
      if (identity.role !== 'person') return identity;
      let role: PersonRole;
      try {
        role = await roleOf(identity.userId);
      } catch (error) {
        // Postgres away (or too slow): the caller may retry; never a 500, never a guessed role.
        const mapped = toPublicDatabaseError(error);
        if (mapped?.extensions.code === 'UNAVAILABLE') throw mapped;
        if (mapped) throw createUnavailableError('the role lookup timed out; try again shortly');
        throw error;
      }
      if (role === null) {
        throw createUnauthenticatedError(
          'invalid token: no user has this id (the account may have been deleted)',
        );
      }
      return { role, userId: identity.userId };
    },
  };
}

/** HTTP status for an error thrown by `effectiveViewer`. */
export function roleErrorStatus(
  error: unknown,
): { status: number; code: 'UNAUTHENTICATED' | 'UNAVAILABLE' } | undefined {
  if (!(error instanceof GraphQLError)) return undefined;
  if (error.extensions.code === 'UNAUTHENTICATED') return { status: 401, code: 'UNAUTHENTICATED' };
  if (error.extensions.code === 'UNAVAILABLE') return { status: 503, code: 'UNAVAILABLE' };
  return undefined;
}
