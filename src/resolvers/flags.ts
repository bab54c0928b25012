import type { Context } from '../context.js';
import { withIdentity } from '../db/identity.js';
import {
  createBadUserInputError,
  createNotFoundError,
  createUnauthenticatedError,
} from '../errors/errors.js';
import { flagVariant } from '../flags/flagBucket.js';
import { flagKeyPattern } from '../flags/flags.js';
import { MUTATION_BUDGETS } from '../social/budgets.js';
import { hasControlCharacters } from '../validation/hasControlCharacters.js';

const flagSql = 'SELECT rollout_pct FROM feature_flags WHERE key = $1';
const insertReportSql = `
INSERT INTO flag_problem_reports (flag_key, user_id, variant, message) VALUES ($1, $2, $3, $4)`;

/**
 * A signed-in user reports a problem with a flag; the variant they see is recorded with it. Rollouts
 * count distinct users, so repeating a report adds nothing but a row (and uses the rate limit).
 */
export async function reportProblem(ctx: Context, flagKey: string, message: string): Promise<boolean> {
  const userId = ctx.viewer.userId;
  if (!userId) throw createUnauthenticatedError();
  if (!flagKeyPattern.test(flagKey)) throw createBadUserInputError('flagKey is not a flag key', 'flagKey');
  const text = message.trim();
  if (text.length > 1000) throw createBadUserInputError('message must be at most 1000 characters', 'message');
  if (hasControlCharacters(text)) {
    throw createBadUserInputError('message must not contain control characters', 'message');
  }
  await ctx.rateLimits.consume(MUTATION_BUDGETS.reportProblem, userId);
  return withIdentity(ctx.db.pool, ctx.viewer, async (client) => {
    const flag = (await client.query<{ rollout_pct: number }>(flagSql, [flagKey])).rows[0];
    if (!flag) throw createNotFoundError('feature flag', flagKey);
    await client.query(insertReportSql, [
      flagKey,
      userId,
      flagVariant(flagKey, flag.rollout_pct, userId),
      text,
    ]);
    return true;
  });
}
