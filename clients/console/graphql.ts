import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.js';

/**
 * Typed documents for the ops console: `graphql(…)` carries each operation's result and variables types,
 * inferred from schema.graphql through graphql-env.d.ts (`npm run graphql:types` writes it). The page's
 * code (src/) imports these types only and sends the manifest's ids; a schema change that breaks an
 * operation breaks the console's compilation.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  // What the wire carries: the gateway serializes both to strings.
  scalars: { DateTime: string; Decimal: string };
}>();

export type { ResultOf, VariablesOf } from 'gql.tada';
