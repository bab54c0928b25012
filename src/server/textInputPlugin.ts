import type { ApolloServerPlugin } from '@apollo/server';
import { getLocation, visit, type DocumentNode } from 'graphql';
import type { Context } from '../context.js';
import { createError } from '../errors/errors.js';
import { createDocumentVerdicts } from './documentVerdicts.js';
import { findUnstorableText, isStorableText, unstorableReason } from '../validation/storableText.js';

/** The first string literal of the document Postgres cannot store, with where it is. */
function unstorableLiteral(document: DocumentNode): { where: string; reason: string } | undefined {
  let found: { where: string; reason: string } | undefined;
  // visit walks each node once (iteratively): linear in the document, fragments are not expanded.
  visit(document, {
    StringValue(node) {
      if (found || isStorableText(node.value)) return;
      const at = node.loc ? getLocation(node.loc.source, node.loc.start) : undefined;
      found = {
        where: at ? `the string at line ${at.line}, column ${at.column}` : 'a string in the document',
        reason: unstorableReason(node.value),
      };
    },
  });
  return found;
}

/**
 * Text arguments are checked at the edge, once for the whole request: a string variable or literal
 * (anywhere: arguments, input fields, nested lists, JSON values) that Postgres cannot store — a NUL
 * or an unpaired surrogate — is the caller's mistake, refused as BAD_USER_INPUT (HTTP 400) before
 * anything executes, instead of failing inside a resolver as an internal error.
 */
export function textInputPlugin(): ApolloServerPlugin<Context> {
  // The literals are the document's own: one walk per document, whatever the variables.
  const literals = createDocumentVerdicts<{ where: string; reason: string } | undefined>(1);
  return {
    requestDidStart: async () => ({
      didResolveOperation: async ({ document, request }) => {
        const variable = findUnstorableText(request.variables ?? {}, '$');
        const problem = variable
          ? { where: `variable ${variable.path.replace(/^\$\.?/, '$')}`, reason: variable.reason }
          : literals.get(document, '', () => unstorableLiteral(document));
        if (!problem) return;
        throw createError(
          'BAD_USER_INPUT',
          `${problem.where} holds ${problem.reason}, which cannot be stored`,
          {
            reason: 'text',
            http: { status: 400 },
          },
        );
      },
    }),
  };
}
