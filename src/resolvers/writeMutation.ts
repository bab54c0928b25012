import type { Context } from '../context.js';
import { MUTATION_BUDGETS, type BudgetedMutation } from '../social/budgets.js';
import { budgetKeyOf } from '../social/rateLimits.js';

/** The idempotency key argument a write mutation may take (the Idempotency-Key header is the fallback). */
export interface IdempotencyKeyArg {
  idempotencyKey?: string | null;
}

export interface WriteSteps<C extends Context, A, P, R> {
  /** Checks the arguments (BAD_USER_INPUT) and returns what `run` needs; a refusal here costs no budget. */
  parse: (args: A, ctx: C) => P;
  /** The one domain call, with the request's idempotency key (null: none). */
  run: (ctx: C, input: P, idempotencyKey: string | null) => Promise<R>;
}

/**
 * A write mutation's resolver, always in this order: check the arguments, spend the mutation's budget
 * (MUTATION_BUDGETS[name], per user), pick the idempotency key (the argument wins over the header), call
 * the domain. `name` must be in MUTATION_BUDGETS, so a write cannot ship without a budget.
 */
export function writeMutation<C extends Context, A, P, R>(
  name: BudgetedMutation,
  steps: WriteSteps<C, A, P, R>,
): (ctx: C, args: A & IdempotencyKeyArg) => Promise<R> {
  const action = MUTATION_BUDGETS[name];
  return async (ctx, args) => {
    const input = steps.parse(args, ctx);
    await ctx.rateLimits.consume(action, budgetKeyOf(ctx));
    return steps.run(ctx, input, args.idempotencyKey ?? ctx.idempotencyKey);
  };
}
