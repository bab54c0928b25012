import { defaultFieldResolver, type GraphQLSchema } from 'graphql';
import type { Context } from '../context.js';
import { MUTATION_BUDGETS, QUERY_BUDGETS, type BudgetedQuery } from '../social/budgets.js';
import { budgetKeyOf } from '../social/rateLimits.js';

/**
 * Checks the budget table against the schema (a root field without a budget stops the gateway at
 * start) and makes each budgeted Query field spend its budget per client before it resolves:
 * the user, or for anonymous callers the client address. Service callers (other backends) are not
 * read-limited. Mutations spend theirs in their resolvers, after input validation.
 */
export function applyBudgets(schema: GraphQLSchema): GraphQLSchema {
  const mutations = Object.keys(schema.getMutationType()?.getFields() ?? {});
  const missing = mutations.filter((name) => !Object.hasOwn(MUTATION_BUDGETS, name));
  const queries = schema.getQueryType()?.getFields() ?? {};
  missing.push(...Object.keys(queries).filter((name) => !Object.hasOwn(QUERY_BUDGETS, name)));
  if (missing.length > 0) {
    throw new Error(`root fields without a rate-limit budget (src/social/budgets.ts): ${missing.join(', ')}`);
  }
  for (const [name, field] of Object.entries(queries)) {
    const action = QUERY_BUDGETS[name as BudgetedQuery];
    if (action === null) continue;
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = async (source, args, ctx: Context, info) => {
      if (ctx.viewer.role !== 'service') await ctx.rateLimits.consume(action, budgetKeyOf(ctx));
      return resolve(source, args, ctx, info);
    };
  }
  return schema;
}
