import type pg from 'pg';
import type { Config } from '../config/config.js';
import { withIdentity } from '../db/identity.js';
import type { OpsActor } from '../auth/actor.js';
import { rolloutSettingsOf, type RolloutSettings } from '../flags/evaluateRollouts.js';

/** Where and as whom ops actions run: the gateway (an admin's request) or the CLI. */
export interface OpsRunner {
  /** The gateway's pool (role lodestar_app) or, for the CLI, the schema owner's. */
  pool: pg.Pool;
  actor: OpsActor;
  /** Each batch's statement timeout (the runbook's 5 s for heavy RPCs). */
  statementTimeoutMs: number;
  /** The schema owner's connection, needed only to rebuild an index; undefined refuses that action. */
  ownerUrl: string | undefined;
  /** Statement timeout of an index build (one statement by nature; built CONCURRENTLY). */
  indexBuildTimeoutMs: number;
  /** ivfflat lists a recall measurement searches, as the service does (VECTOR_IVFFLAT_PROBES). */
  ivfflatProbes: number;
}

/**
 * One transaction as an admin (RLS sees every row) under the batch statement timeout. Long actions
 * call this once per batch, so no statement outlives the timeout and progress commits as it goes.
 */
export function inAdminTx<T>(runner: OpsRunner, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withIdentity(runner.pool, { role: 'admin', userId: runner.actor.id ?? '' }, async (client) => {
    // A whole number from config, not input: safe to inline (SET takes no parameters).
    await client.query(`SET LOCAL statement_timeout = ${Math.trunc(runner.statementTimeoutMs)}`);
    return fn(client);
  });
}

export type { RolloutSettings } from '../flags/evaluateRollouts.js';

/** A runner with the configured batch timeout, index build timeout and rollout judgement. */
export function createOpsRunner(
  config: Pick<Config, 'database' | 'ops' | 'flags'>,
  where: Pick<OpsRunner, 'pool' | 'actor' | 'ownerUrl'>,
): OpsRunner & { rollouts: RolloutSettings } {
  return {
    ...where,
    statementTimeoutMs: config.database.statementTimeoutMs,
    indexBuildTimeoutMs: config.ops.indexBuildTimeoutMs,
    ivfflatProbes: config.database.ivfflatProbes,
    rollouts: rolloutSettingsOf(config),
  };
}
