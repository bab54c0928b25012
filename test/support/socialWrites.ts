import type { UserViewer } from '../../src/auth/viewer.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { testRedisUrl } from './env.js';
import type { Queryable } from './fixtures.js';
import { createInProcess, type InProcess } from './gateway.js';
import { createPrefixedRedis, insertUsers, openTransactions } from './socialWorld.js';

/**
 * Support for the comment, follow, interest and signal tests: one database and one Redis prefix per
 * file, the gateway in-process with budgets no test reaches, a second gateway with a small budget for
 * the one refusal per action, and a reader for the outbox items a write leaves behind.
 */

/** Budgets no test reaches, so only the rate-limit tests ever see RATE_LIMITED. */
const generousLimits: Record<string, string> = {
  RATE_LIMIT_COMMENTS_PER_MIN: '100000',
  RATE_LIMIT_FOLLOWS_PER_MIN: '100000',
  RATE_LIMIT_INTERESTS_PER_MIN: '100000',
  RATE_LIMIT_SIGNALS_PER_MIN: '100000',
};

export interface SocialFile {
  db: TestDatabase;
  /** The gateway in-process, with generous budgets and the file's `env`. */
  h: InProcess;
  /** Another gateway on the same database and Redis with `env` on top (e.g. a small budget); closed with the file. */
  harness: (env: Record<string, string>) => InProcess;
  /** `n` new signed-in users. */
  users: (n: number) => Promise<UserViewer[]>;
  /** Deletes the file's Redis keys (rate-limit budgets, cached features). */
  flushRedis: () => Promise<void>;
  /** Connections of the file's database left inside a transaction: a write that never ended. */
  openTransactions: () => Promise<number>;
  close: () => Promise<void>;
}

/** A fresh database and Redis prefix for one test file; call `close` in afterAll. */
export async function openSocialFile(env: Record<string, string> = {}): Promise<SocialFile> {
  const db = await createTestDatabase();
  const prefix = `lodestar:t:${db.name}:`;
  const redis = await createPrefixedRedis(testRedisUrl, prefix);
  const base = {
    REDIS_URL: testRedisUrl,
    REDIS_KEY_PREFIX: prefix,
    // A busy Redis must not push a consume past the 100 ms default into the per-process insurance.
    REDIS_COMMAND_TIMEOUT_MS: '1000',
    // Enough connections for the concurrency tests, few enough for several files on one cluster.
    DATABASE_POOL_MAX: '12',
    ...generousLimits,
    ...env,
  };
  const harnesses: InProcess[] = [];
  const harness = (overrides: Record<string, string>) => {
    const h = createInProcess(db, { ...base, ...overrides });
    harnesses.push(h);
    return h;
  };
  const h = harness({});
  return {
    db,
    h,
    harness,
    users: (n) => insertUsers(db.pool, n),
    flushRedis: () => redis.flush(),
    openTransactions: () => openTransactions(db.pool, db.name),
    close: async () => {
      for (const each of harnesses) await each.close();
      redis.close();
      await db.drop();
    },
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
