import type { OpsActor } from '../auth/actor.js';
import type { Database } from '../db/database.js';
import { withIdentity, type RlsViewer } from '../db/identity.js';
import { withAudit } from '../ops/audit.js';
import {
  experimentFromRow,
  type Experiment,
  type ExperimentArm,
  type ExperimentRow,
} from './experimentArms.js';
import { listExperimentsSql, upsertExperimentSql } from './sql.js';

/** Every experiment, newest change first (the admin's pool; RLS lets admins read them). */
export async function listExperiments(db: Pick<Database, 'pool'>): Promise<Experiment[]> {
  const { rows } = await db.pool.query<ExperimentRow>(listExperimentsSql);
  return rows.map((row) => experimentFromRow(row).experiment);
}

/** A checked experiment: key, trimmed description, parsed arms. */
export interface ExperimentInput {
  key: string;
  description: string;
  arms: ExperimentArm[];
  active: boolean;
}

/**
 * Creates or replaces an experiment, audited in ops_audit. Viewers already assigned keep their arm while
 * it exists with a weight above 0 (the weights steer new viewers).
 */
export async function saveExperiment(
  deps: { viewer: RlsViewer; db: Pick<Database, 'pool'>; actor: OpsActor },
  input: ExperimentInput,
  /** Why, as the person who made the change wrote it: kept with the audit row's arguments. */
  reason?: string,
): Promise<Experiment> {
  const audited = reason === undefined ? { ...input } : { ...input, reason };
  const { result } = await withAudit(deps.db.pool, deps.actor, 'saveExperiment', audited, () =>
    withIdentity(deps.db.pool, deps.viewer, async (client) => {
      const { rows } = await client.query<ExperimentRow>(upsertExperimentSql, [
        input.key,
        input.description,
        JSON.stringify(input.arms),
        input.active,
      ]);
      const row = rows[0];
      if (!row) throw new Error('the experiment upsert returned no row');
      return experimentFromRow(row).experiment;
    }),
  );
  return result;
}
