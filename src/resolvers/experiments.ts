import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import { experimentArmsSchema, type Experiment } from '../experiments/experimentArms.js';
import * as store from '../experiments/experiments.js';
import { actorOf } from '../auth/actor.js';
import { MUTATION_BUDGETS } from '../social/budgets.js';
import { budgetKeyOf } from '../social/rateLimits.js';

export interface SaveExperimentInput {
  key: string;
  description?: string | null;
  arms: { name: string; weight: number; policy: string; epsilon?: number | null }[];
  active: boolean;
}

/** experiments: every experiment, newest change first (src/experiments/experiments.ts). */
export const experiments = (ctx: Context): Promise<Experiment[]> => store.listExperiments(ctx.db);

const keyPattern = /^[a-z0-9_.-]{1,64}$/;

/** saveExperiment (admin): checks the key, description and arms, then saves (src/experiments/experiments.ts). */
export async function saveExperiment(
  ctx: Context,
  input: SaveExperimentInput,
  reason: string | null = null,
): Promise<Experiment> {
  const why = reason?.trim() || undefined;
  if (why !== undefined && why.length > 500) {
    throw createBadUserInputError('reason must be at most 500 characters', 'reason');
  }
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
  await ctx.rateLimits.consume(MUTATION_BUDGETS.saveExperiment, budgetKeyOf(ctx));
  const saved = await store.saveExperiment(
    { viewer: ctx.viewer, db: ctx.db, actor: actorOf(ctx) },
    { key: input.key, description, arms: arms.data, active: input.active },
    why,
  );
  // This instance applies it now; the others within FEED_EXPERIMENT_REFRESH_SEC.
  if (saved.key === ctx.config.feed.experimentKey) await ctx.feed.policies.refresh();
  return saved;
}
