import type { Context } from '../context.js';
import { withIdentity } from '../db/identity.js';
import { createBadUserInputError } from '../errors/errors.js';
import {
  experimentArmsSchema,
  experimentFromRow,
  type Experiment,
  type ExperimentRow,
} from '../experiments/experimentArms.js';
import { actorOf } from '../auth/actor.js';
import { withAudit } from '../ops/audit.js';
import { MUTATION_BUDGETS } from '../social/budgets.js';
import { budgetKeyOf } from '../social/rateLimits.js';

export interface SaveExperimentInput {
  key: string;
  description?: string | null;
  arms: { name: string; weight: number; policy: string; epsilon?: number | null }[];
  active: boolean;
}

/** experiments: every experiment, newest change first. */
const listExperimentsSql = `
SELECT key, description, arms, active, updated_at FROM experiments ORDER BY updated_at DESC, key`;

export async function experiments(ctx: Context): Promise<Experiment[]> {
  const { rows } = await ctx.db.pool.query<ExperimentRow>(listExperimentsSql);
  return rows.map((row) => experimentFromRow(row).experiment);
}

/** save experiment: create or replace one experiment's arms, description and state. */
const upsertExperimentSql = `
INSERT INTO experiments (key, description, arms, active) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET description = EXCLUDED.description, arms = EXCLUDED.arms, active = EXCLUDED.active
RETURNING key, description, arms, active, updated_at`;

const keyPattern = /^[a-z0-9_.-]{1,64}$/;

/**
 * Admin: creates or replaces an experiment. Viewers already assigned keep their arm while it exists
 * with a weight above 0 (the weights steer new viewers); audited in ops_audit.
 */
export async function saveExperiment(ctx: Context, input: SaveExperimentInput): Promise<Experiment> {
  if (!keyPattern.test(input.key)) {
    throw createBadUserInputError(
      `key must use a-z, 0-9, _ . - (1 to 64 characters), got "${input.key.slice(0, 80)}"`,
      'key',
    );
  }
  const description = (input.description ?? '').trim();
  if (description.length > 500) {
    throw createBadUserInputError('description must be at most 500 characters', 'description');
  }
  const arms = experimentArmsSchema.safeParse(
    input.arms.map(({ epsilon, ...arm }) => ({ ...arm, params: epsilon == null ? {} : { epsilon } })),
  );
  if (!arms.success) {
    const issue = arms.error.issues[0];
    const where = issue?.path.length ? `arms.${issue.path.join('.')}: ` : 'arms: ';
    throw createBadUserInputError(`${where}${issue?.message ?? 'invalid arms'}`, 'arms');
  }
  const args = { key: input.key, description, arms: arms.data, active: input.active };
  await ctx.rateLimits.consume(MUTATION_BUDGETS.saveExperiment, budgetKeyOf(ctx));
  const { result: saved } = await withAudit(ctx.db.pool, actorOf(ctx), 'saveExperiment', args, () =>
    withIdentity(ctx.db.pool, ctx.viewer, async (client) => {
      const { rows } = await client.query<ExperimentRow>(upsertExperimentSql, [
        input.key,
        description,
        JSON.stringify(arms.data),
        input.active,
      ]);
      const row = rows[0];
      if (!row) throw new Error('the experiment upsert returned no row');
      return experimentFromRow(row).experiment;
    }),
  );
  // This instance applies it now; the others within FEED_EXPERIMENT_REFRESH_SEC.
  if (saved.key === ctx.config.feed.experimentKey) await ctx.feed.policies.refresh();
  return saved;
}
