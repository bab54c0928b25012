import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface ProtectionLimits {
  maxDepth: number;
  maxAliases: number;
}

function rejection(message: string, reason: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', reason } });
}

/** Depth of the deepest field path, following fragments (each fragment counted once per path). */
function depthOf(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  seen: Set<string>,
): number {
  let max = 0;
  for (const selection of selectionSet.selections) {
    let depth: number;
    if (selection.kind === Kind.FIELD) {
      // Introspection meta fields (__typename, __schema…) do not count toward the depth.
      if (selection.name.value.startsWith('__')) continue;
      depth = selection.selectionSet ? 1 + depthOf(selection.selectionSet, fragments, seen) : 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      depth = depthOf(selection.selectionSet, fragments, seen);
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      if (!fragment || seen.has(name)) continue;
      seen.add(name);
      depth = depthOf(fragment.selectionSet, fragments, seen);
      seen.delete(name);
    }
    max = Math.max(max, depth);
  }
  return max;
}

/** Rejects operations nested deeper than `maxDepth` fields. */
export function createMaxDepthRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
    }
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, fragments, new Set());
        if (depth > maxDepth) {
          context.reportError(rejection(`query depth ${depth} exceeds the maximum of ${maxDepth}`, 'depth'));
        }
      },
    };
  };
}

/** Rejects documents with more than `maxAliases` aliased fields (alias amplification). */
export function createMaxAliasesRule(maxAliases: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let aliases = 0;
    let reported = false;
    return {
      Field(node) {
        if (!node.alias) return;
        aliases += 1;
        if (aliases > maxAliases && !reported) {
          reported = true;
          context.reportError(rejection(`the query uses more than ${maxAliases} aliases`, 'aliases'));
        }
      },
    };
  };
}
