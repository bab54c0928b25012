import { randomUUID } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import type pg from 'pg';
import type { UserViewer, Viewer } from '../../src/auth/viewer.js';
import type { RolloutSettings } from '../../src/ops/actions.js';
import type { OpsActor } from '../../src/auth/actor.js';
import type { OpsRunner } from '../../src/ops/opsRunner.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { createInProcess, type InProcess } from './gateway.js';
import { dataOf } from './graphqlResult.js';
import type { Operation } from './graphql.js';
import { openTransactions } from './socialWorld.js';
import { rolloutSettingsOf } from '../../src/flags/evaluateRollouts.js';

/**
 * Support for the ops console tests: one database per file, the gateway in-process, an admin who runs
 * the operations (each with a request id of its own, so the audit rows can be told apart), and readers
 * for what an operator checks afterwards: the ops_audit rows and the queues.
 */

export interface AuditRow {
  id: string;
  actor_id: string | null;
  actor_role: string;
  action: string;
  args: Record<string, unknown>;
  result: Record<string, unknown> | null;
  ok: boolean;
  error: string | null;
  duration_ms: number;
  request_id: string | null;
}

export interface OpsFile {
  db: TestDatabase;
  h: InProcess;
  admin: UserViewer;
  /** Runs an operation as the admin; `requestId` defaults to a fresh one. */
  execute: <T>(
    source: Operation<T>,
    variables?: Record<string, unknown>,
    options?: { viewer?: Viewer; requestId?: string },
  ) => Promise<ExecutionResult<T>>;
  /** Runs an operation as the admin and returns its data, asserting it raised no error. */
  data: <T>(source: Operation<T>, variables?: Record<string, unknown>) => Promise<T>;
  /** The ops_audit rows, oldest first, of one action (or all). */
  audit: (action?: string) => Promise<AuditRow[]>;
  /** A runner as the gateway builds it for this admin, to call `runOpsAction` directly. */
  runner: (overrides?: Partial<OpsRunner>) => OpsRunner & { rollouts: RolloutSettings };
  /** Connections of the file's database left inside a transaction. */
  openTransactions: () => Promise<number>;
  close: () => Promise<void>;
}

/** A fresh database and in-process gateway for one test file; call `close` in afterAll. */
export async function openOpsFile(env: Record<string, string> = {}): Promise<OpsFile> {
  const db = await createTestDatabase();
  const h = createInProcess(db, { DATABASE_POOL_MAX: '6', ...env });
  const admin: UserViewer = { role: 'admin', userId: randomUUID() };
  const execute = <T>(
    source: Operation<T>,
    variables: Record<string, unknown> = {},
    options: { viewer?: Viewer; requestId?: string } = {},
  ) =>
    h.execute<T>(source, {
      viewer: options.viewer ?? admin,
      variables,
      requestId: options.requestId ?? `req-${randomUUID()}`,
    });
  return {
    db,
    h,
    admin,
    execute,
    data: async <T>(source: Operation<T>, variables: Record<string, unknown> = {}) =>
      dataOf(await execute<T>(source, variables)),
    audit: async (action) => {
      const { rows } = await db.pool.query<AuditRow>(
        `SELECT id::text, actor_id, actor_role, action, args, result, ok, error, duration_ms, request_id
           FROM ops_audit WHERE $1::text IS NULL OR action = $1 ORDER BY ops_audit.id`,
        [action ?? null],
      );
      return rows;
    },
    runner: (overrides = {}) => {
      const actor: OpsActor = { id: admin.userId, role: 'admin', requestId: `req-${randomUUID()}` };
      return {
        pool: h.database.pool,
        actor,
        statementTimeoutMs: h.config.database.statementTimeoutMs,
        ownerUrl: h.config.database.migrationUrl,
        indexBuildTimeoutMs: h.config.ops.indexBuildTimeoutMs,
        ivfflatProbes: h.config.database.ivfflatProbes,
        rollouts: rolloutSettingsOf(h.config),
        ...overrides,
      };
    },
    openTransactions: () => openTransactions(db.pool, db.name),
    close: async () => {
      await h.close();
      await db.drop();
    },
  };
}

/** How many rows of a table match a condition (constant SQL from the test), read as the owner. */
export async function countWhere(q: Pick<pg.Pool, 'query'>, table: string, where = 'true'): Promise<number> {
  const { rows } = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`);
  return rows[0]?.n ?? 0;
}
