import type pg from 'pg';
import { isConnectionError } from '../errors/databaseErrors.js';
import { coerceError } from '../errors/errors.js';

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
    throw error;
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

/**
 * Another role's work on the embedded database's one shared session (the in-process worker on the
 * gateway's single-connection pool). The session's own role (the gateway's lodestar_app) is never
 * changed: every transaction switches with SET LOCAL ROLE and set_config(…, true) right after its
 * BEGIN, and a statement outside a transaction runs in one of its own, so Postgres itself restores the
 * gateway's role and settings at each COMMIT or ROLLBACK, whatever happened in between.
 * A client destroyed mid-transaction is no hole either: PGlite's socket server rolls back the open
 * transaction of a connection that closes.
 *
 * It answers `query` and `connect` (what withClient, withTransaction and the lease queue use) on the
 * shared pool; a checked-out client is the pool's own, wrapped only to add the switch to its queries.
 */
export function createSharedRolePool(
  shared: pg.Pool,
  role: string,
  settings: Record<string, string>,
): pg.Pool {
  if (!sharedRoleName.test(role)) throw new Error(`not a role name: ${role}`);
  const keys = Object.keys(settings);
  const settingsSql = `SELECT ${keys.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`;
  const settingsValues = keys.flatMap((key) => [key, settings[key] ?? '']);
  const switchTo = async (client: pg.PoolClient) => {
    await client.query(`SET LOCAL ROLE ${role}`);
    if (keys.length > 0) await client.query(settingsSql, settingsValues);
  };

  const wrap = (client: pg.PoolClient): pg.PoolClient => {
    let inTransaction = false;
    const query = async (text: unknown, values?: unknown[]) => {
      if (typeof text !== 'string') throw new Error('the shared-role pool takes SQL text only');
      if (begins.test(text)) {
        const result = await client.query(text);
        inTransaction = true;
        await switchTo(client);
        return result;
      }
      if (ends.test(text)) {
        inTransaction = false;
        return client.query(text);
      }
      if (inTransaction) return client.query(text, values);
      // A statement on its own: its own transaction, so the switch ends with it. A ROLLBACK that fails
      // marks the client broken, so it is destroyed rather than handed back still in the worker's role.
      await client.query('BEGIN');
      try {
        await switchTo(client);
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

  const rolePool = {
    connect: async () => wrap(await shared.connect()),
    query: (text: string, values?: unknown[]) =>
      withClient(rolePool as unknown as pg.Pool, (client) => client.query(text, values)),
    end: async () => undefined,
  };
  // Only `query` and `connect` are implemented: the worker's code (consumers, lease queue, maintenance,
  // metrics) uses nothing else of a pool, and closing stays with the gateway, which owns the pool.
  return rolePool as unknown as pg.Pool;
}
