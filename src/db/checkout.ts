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
