import type { Context } from '../context.js';
import { createBadUserInputError, createUnauthenticatedError } from '../errors/errors.js';
import { flagKeyPattern } from '../flags/flags.js';
import * as problemReports from '../flags/problemReports.js';
import { MUTATION_BUDGETS } from '../social/budgets.js';
import { hasControlCharacters } from '../validation/hasControlCharacters.js';

/** reportProblem: a signed-in user, a flag key, a short message; rate limited (src/flags/problemReports.ts). */
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
  return problemReports.reportProblem(ctx, userId, flagKey, text);
}
