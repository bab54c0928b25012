import type pg from 'pg';
import { isConnectionError } from '../errors/databaseErrors.js';
import { coerceError } from '../errors/errors.js';
import { fallbackOf, servedByFallback } from '../platform/pool.js';

/**
 * The one place a client is checked out of a pool (a unit test keeps it that way).
 *
 * A checked-out client has no listener of the pool's: if its server connection dies (Postgres stops,
 * a restart, a network cut) the client emits 'error', and an 'error' event nobody listens to ends the
 * process. So the client gets a listener for as long as it is out, and goes back as broken
 * (`release(error)`, which destroys it) whenever it failed: its own 'error' event, a connection-class
 * error thrown by `fn`, or a ROLLBACK that did not go through (see `rollbackQuietly`). A healthy client
 * goes back to the pool for reuse.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const onError = (error: Error) => markBroken(client, error);
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (error) {
    if (isConnectionError(error)) markBroken(client, coerceError(error));
    // A read replica's pool (src/db/replicas.ts) that lost its server: only reads run there, so the
    // work runs again on the primary's pool.
    const fallback = fallbackOf(pool);
    // A client the fallback already served failed there: the primary's own error, not the replica's.
    if (!fallback?.when(error) || servedByFallback(client)) throw error;
    fallback.onFailure(coerceError(error));
    return withClient(fallback.pool, fn);
  } finally {
    const failure = broken.get(client);
    // A broken client keeps a listener: a late socket error after release must not crash us either.
    if (!failure) client.removeListener('error', onError);
    client.release(failure);
  }
}

/** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on any error) on a checked-out client. */
export function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await rollbackQuietly(client);
      throw error;
    }
  });
}

const broken = new WeakMap<pg.PoolClient, Error>();

/** Marks a checked-out client as unfit for reuse: `withClient` then destroys it instead of pooling it. */
export function markBroken(client: pg.PoolClient, error: Error): void {
  if (!broken.has(client)) broken.set(client, error);
}

/**
 * ROLLBACK that never throws (the caller has a better error to report). If it fails the client may
 * still hold an open transaction, so it is marked broken and never reused.
 */
export async function rollbackQuietly(client: pg.PoolClient): Promise<void> {
  await client.query('ROLLBACK').catch((error: unknown) => markBroken(client, coerceError(error)));
}

const sharedRoleName = /^[a-z_][a-z0-9_]{0,62}$/;
const begins = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;
// ROLLBACK TO SAVEPOINT keeps the transaction open; a plain ROLLBACK, COMMIT or END closes it.
const ends = /^\s*(COMMIT|END|ROLLBACK(?!\s+TO\b)|ABORT)\b/i;

/** SQL string literal (standard_conforming_strings, Postgres' default: only quotes are doubled). */
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

export interface SharedRoleOptions {
  /**
   * Requests first: when others queued for the shared connection while this pool's caller waited for
   * it, it is handed on to them and asked for again (behind them), for at most this long in total; then
   * the caller keeps it, so its work is delayed, never starved. 0 = plain first come, first served.
   * @default 0
   */
  giveWayMs?: number;
}

/**
 * Another role's work on the embedded database's one shared session (the in-process worker on the
 * gateway's single-connection pool). The session's own role (the gateway's lodestar_app) is never
 * changed: every transaction switches with SET LOCAL ROLE and set_config(…, true) right after its
 * BEGIN, and a statement outside a transaction runs in one of its own, so Postgres itself restores the
 * gateway's role and settings at each COMMIT or ROLLBACK, whatever happened in between.
 * A client destroyed mid-transaction is no hole either: PGlite's socket server rolls back the open
 * transaction of a connection that closes.
 *
 * The BEGIN and the switch go in one round trip (a simple-query message of three statements): every
 * statement on the embedded database costs about a millisecond of the one connection, on top of its
 * work, and the worker's transactions are short.
 *
 * It answers `query` and `connect` (what withClient, withTransaction and the lease queue use) on the
 * shared pool; a checked-out client is the pool's own, wrapped only to add the switch to its queries.
 */
export function createSharedRolePool(
  shared: pg.Pool,
  role: string,
  settings: Record<string, string>,
  options: SharedRoleOptions = {},
): pg.Pool {
  if (!sharedRoleName.test(role)) throw new Error(`not a role name: ${role}`);
  const { giveWayMs = 0 } = options;
  // Keys and values come from code, not from input; quoted all the same.
  const switchSql = [
    `SET LOCAL ROLE ${role}`,
    ...Object.entries(settings).map(
      ([key, value]) => `SELECT set_config(${literal(key)}, ${literal(value)}, true)`,
    ),
  ].join('; ');
  /** BEGIN (as the caller spelled it) and the switch, in one round trip. */
  const beginAndSwitch = async (client: pg.PoolClient, begin: string) => {
    let results: unknown;
    try {
      results = await client.query(`${begin.trim().replace(/;+$/, '')}; ${switchSql}`);
    } catch (error) {
      // BEGIN may have gone through before the switch failed: never leave that transaction open.
      await rollbackQuietly(client);
      throw error;
    }
    // A multi-statement query answers with one result per statement: the caller asked for BEGIN's.
    return (Array.isArray(results) ? results[0] : results) as pg.QueryResult;
  };

  const wrap = (client: pg.PoolClient): pg.PoolClient => {
    let inTransaction = false;
    const query = async (text: unknown, values?: unknown[]) => {
      if (typeof text !== 'string') throw new Error('the shared-role pool takes SQL text only');
      if (begins.test(text)) {
        const result = await beginAndSwitch(client, text);
        inTransaction = true;
        return result;
      }
      if (ends.test(text)) {
        inTransaction = false;
        return client.query(text);
      }
      if (inTransaction) return client.query(text, values);
      // A statement on its own: its own transaction, so the switch ends with it. A ROLLBACK that fails
      // marks the client broken, so it is destroyed rather than handed back still in the worker's role.
      await beginAndSwitch(client, 'BEGIN');
      try {
        const result = await client.query(text, values);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await rollbackQuietly(wrapped);
        throw error;
      }
    };
    const wrapped = new Proxy(client, {
      get: (target, key, receiver) =>
        key === 'query' ? query : (Reflect.get(target, key, receiver) as unknown),
    });
    return wrapped;
  };

  // This pool's own callers queued on the shared pool: they never give way to each other (two consumers
  // would otherwise hand the connection back and forth until the bound).
  let ownWaiting = 0;
  const checkout = async (): Promise<pg.PoolClient> => {
    const until = performance.now() + giveWayMs;
    for (;;) {
      ownWaiting += 1;
      let client: pg.PoolClient;
      try {
        client = await shared.connect();
      } finally {
        ownWaiting -= 1;
      }
      // Others queued behind us while we waited: they go first (the pool serves its queue in order).
      if (shared.waitingCount <= ownWaiting || performance.now() >= until) return client;
      client.release();
    }
  };

  const rolePool = {
    connect: async () => wrap(await checkout()),
    query: (text: string, values?: unknown[]) =>
      withClient(rolePool as unknown as pg.Pool, (client) => client.query(text, values)),
    end: async () => undefined,
  };
  // Only `query` and `connect` are implemented: the worker's code (consumers, lease queue, maintenance,
  // metrics) uses nothing else of a pool, and closing stays with the gateway, which owns the pool.
  return rolePool as unknown as pg.Pool;
}
