import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { ErrorCode } from '../errors/errors.js';

export interface ProtectionLimits {
  maxDepth: number;
  maxAliases: number;
  maxFields: number;
}

/**
 * A refusal from one of our validation rules. Apollo re-labels every validation error
 * GRAPHQL_VALIDATION_FAILED; formatError restores `code` from this original error.
 */
function rejection(
  message: string,
  reason: string,
  code: ErrorCode = 'GRAPHQL_VALIDATION_FAILED',
): GraphQLError {
  return new GraphQLError(message, { extensions: { code, reason } });
}

/** What one operation costs once its fragments are expanded. */
export interface OperationShape {
  /** Deepest field nesting; introspection meta fields (`__schema`…) and their subtrees do not count. */
  depth: number;
  /** Field selections after expanding every fragment spread (each spread counts its fragment in full). */
  fields: number;
}

const empty: OperationShape = { depth: 0, fields: 0 };

/**
 * Walks operations through their fragments, memoising each fragment's shape, so every selection of the
 * document is visited at most once however many paths reach it: the work is linear in the document
 * even when the expanded operation is exponentially large. `visits` counts the selections visited (the
 * tests assert it grows linearly with the document).
 */
export class DocumentWalker {
  visits = 0;
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly shapes = new Map<string, OperationShape>();
  private readonly active = new Set<string>();

  constructor(document: DocumentNode) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(definition.name.value, definition);
    }
  }

  operation(operation: OperationDefinitionNode): OperationShape {
    return this.selectionSet(operation.selectionSet);
  }

  private fragment(name: string): OperationShape {
    const known = this.shapes.get(name);
    if (known) return known;
    const fragment = this.fragments.get(name);
    // Unknown fragments and cycles are reported by graphql-js's own rules; they add nothing here.
    if (!fragment || this.active.has(name)) return empty;
    this.active.add(name);
    const shape = this.selectionSet(fragment.selectionSet);
    this.active.delete(name);
    this.shapes.set(name, shape);
    return shape;
  }

  private selectionSet(selectionSet: SelectionSetNode): OperationShape {
    let depth = 0;
    let fields = 0;
    for (const selection of selectionSet.selections) {
      this.visits += 1;
      if (selection.kind === Kind.FIELD) {
        const sub = selection.selectionSet ? this.selectionSet(selection.selectionSet) : empty;
        fields += 1 + sub.fields;
        if (!selection.name.value.startsWith('__')) depth = Math.max(depth, 1 + sub.depth);
      } else {
        const sub =
          selection.kind === Kind.INLINE_FRAGMENT
            ? this.selectionSet(selection.selectionSet)
            : this.fragment(selection.name.value);
        fields += sub.fields;
        depth = Math.max(depth, sub.depth);
      }
    }
    return { depth, fields };
  }
}

/**
 * An operation's root fields, through fragments and inline fragments, each fragment expanded once
 * (like execution's field collection): linear in the document.
 */
export function rootFields(document: DocumentNode, operation: OperationDefinitionNode): FieldNode[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const fields: FieldNode[] = [];
  const expanded = new Set<string>();
  const collect = (selectionSet: SelectionSetNode): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        fields.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || expanded.has(name)) continue;
        expanded.add(name);
        collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  return fields;
}

/** The response names of an operation's root fields (fields of one name run once); no `__typename`. */
export function rootResponseNames(document: DocumentNode, operation: OperationDefinitionNode): Set<string> {
  const names = new Set<string>();
  for (const field of rootFields(document, operation)) {
    if (field.name.value !== '__typename') names.add((field.alias ?? field.name).value);
  }
  return names;
}

/** Calls `check` with each operation's shape, computed once per document by a linear walk. */
function operationShapeRule(
  check: (context: ValidationContext, shape: OperationShape) => void,
  onVisits?: (visits: number) => void,
): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const walker = new DocumentWalker(context.getDocument());
    return {
      OperationDefinition(node) {
        check(context, walker.operation(node));
      },
      // A visitor's return value would replace the node: this one returns nothing.
      Document: {
        leave: () => {
          onVisits?.(walker.visits);
        },
      },
    };
  };
}

/** Rejects operations nested deeper than `maxDepth` fields. */
export function createMaxDepthRule(maxDepth: number, onVisits?: (visits: number) => void): ValidationRule {
  return operationShapeRule((context, { depth }) => {
    if (depth > maxDepth) {
      context.reportError(rejection(`query depth ${depth} exceeds the maximum of ${maxDepth}`, 'depth'));
    }
  }, onVisits);
}

/**
 * Rejects operations that select more than `maxFields` fields once fragments are expanded: a small
 * document whose fragments spread each other several times stands for an enormous operation.
 */
export function createMaxFieldsRule(maxFields: number, onVisits?: (visits: number) => void): ValidationRule {
  return operationShapeRule((context, { fields }) => {
    if (fields > maxFields) {
      const count = Number.isFinite(fields) && fields < 1e15 ? String(fields) : 'more than 10^15';
      context.reportError(
        rejection(
          `the query selects ${count} fields once its fragments are expanded; the maximum is ${maxFields}`,
          'fields',
          'QUERY_TOO_COMPLEX',
        ),
      );
    }
  }, onVisits);
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
