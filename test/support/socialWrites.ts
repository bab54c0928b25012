import type { UserViewer } from '../../src/auth/viewer.js';
import type { TestDatabase } from './db.js';
import type { Queryable } from './fixtures.js';
import type { InProcess } from './gateway.js';
import { insertUsers, openTransactions } from './socialWorld.js';
import type { FileEnv, PrefixedRedis } from './testFixtures.js';

/**
 * Support for the comment, follow, interest and signal tests: the file fixtures (one database and one
 * Redis prefix per file, the gateway in-process) seen as one `SocialFile`, with budgets no test reaches
 * and a second gateway with a small budget for the one refusal per action, and a reader for the outbox
 * items a write leaves behind.
 */

/**
 * The file environment of a social-write test (`test.override('env', socialEnv())`): budgets no test
 * reaches, so only the rate-limit tests ever see RATE_LIMITED; `env` on top.
 */
export const socialEnv = (env: FileEnv = {}): FileEnv => ({
  RATE_LIMIT_COMMENTS_PER_MIN: '100000',
  RATE_LIMIT_FOLLOWS_PER_MIN: '100000',
  RATE_LIMIT_INTERESTS_PER_MIN: '100000',
  RATE_LIMIT_SIGNALS_PER_MIN: '100000',
  // A busy Redis must not push a consume past the 100 ms default into the per-process insurance.
  REDIS_COMMAND_TIMEOUT_MS: '1000',
  // Enough connections for the concurrency tests, few enough for several files on one cluster.
  DATABASE_POOL_MAX: '12',
  ...env,
});

export interface SocialFile {
  db: TestDatabase;
  /** The gateway in-process, with the file's env. */
  h: InProcess;
  /** Another gateway on the same database and Redis with `env` on top (e.g. a small budget); closed with the file. */
  harness: (env: FileEnv) => InProcess;
  /** `n` new signed-in users. */
  users: (n: number) => Promise<UserViewer[]>;
  /** Deletes the file's Redis keys (rate-limit budgets, cached features). */
  flushRedis: () => Promise<void>;
  /** Connections of the file's database left inside a transaction: a write that never ended. */
  openTransactions: () => Promise<number>;
}

/** The file fixtures as one object; they are closed by the fixtures after the file. */
export function socialFile(fixtures: {
  db: TestDatabase;
  redis: PrefixedRedis;
  inProcess: InProcess;
  inProcessWith: (env: FileEnv) => InProcess;
}): SocialFile {
  const { db, redis, inProcess, inProcessWith } = fixtures;
  return {
    db,
    h: inProcess,
    harness: inProcessWith,
    users: (n) => insertUsers(db.pool, n),
    flushRedis: () => redis.flush(),
    openTransactions: () => openTransactions(db.pool, db.name),
  };
}

export interface OutboxRow {
  kind: string;
  payload: Record<string, unknown>;
}

/** The outbox items of these kinds whose payload contains `match`, oldest first, read as the owner. */
export async function outboxWhere(
  q: Queryable,
  kinds: readonly string[],
  match: Record<string, unknown>,
): Promise<OutboxRow[]> {
  const { rows } = await q.query<OutboxRow>(
    `SELECT kind, payload FROM events_queue WHERE kind = ANY($1::text[]) AND payload @> $2::jsonb ORDER BY id`,
    [kinds, JSON.stringify(match)],
  );
  return rows;
}

/** The numbers 1..n, for the counts concurrent writers see one after another. */
export const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** Sorts numbers ascending (the default sort compares them as strings). */
export const ascending = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);
