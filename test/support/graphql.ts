import { print } from 'graphql';
import { initGraphQLTada, type TadaDocumentNode } from 'gql.tada';
import type { introspection } from './graphql-env.js';

/**
 * Typed GraphQL documents for the tests: `graphql('{ me { id } }')` carries its result and variables types,
 * inferred from schema.graphql (through test/support/graphql-env.d.ts, which `npm run graphql:types`
 * generates), so a schema change breaks the compilation of the tests that read the changed field.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  // What the wire carries: src/schema/scalars.ts serializes both to strings.
  scalars: { DateTime: string; Decimal: string };
  // A fragment's fields read as part of the result, as the server sends them (no readFragment).
  disableMasking: true;
}>();

export type { ResultOf, VariablesOf, TadaDocumentNode } from 'gql.tada';

/**
 * An operation as the test helpers take it: a typed document (its result type follows) or a plain string
 * (for documents the schema rejects on purpose, or built at run time), typed by an explicit argument.
 */
// Variables stay untyped (`never` accepts any document's), as the helpers take them as a plain record.
export type Operation<T> = string | TadaDocumentNode<T, never>;

/** The operation's text, as a client would send it. */
export const sourceOf = (operation: Operation<unknown>): string =>
  typeof operation === 'string' ? operation : print(operation);
