import {
  Kind,
  valueFromASTUntyped,
  type FieldNode,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';

/**
 * Visits the fields selected under the field being resolved, through inline fragments and fragment
 * spreads, each named fragment walked once (so the cost is linear in the document). `visit` says whether
 * to go on into the field's own selections (`'descend'`), not (`'skip'`), or to stop the walk (`'stop'`).
 * Directives are not evaluated: a skipped field is visited too.
 */
function walkFields(
  info: GraphQLResolveInfo,
  visit: (field: FieldNode) => 'descend' | 'skip' | 'stop',
): void {
  const walked = new Set<string>();
  // Depth-first in document order; false once `visit` said stop. Documents are depth-limited before they run.
  const walk = (set: SelectionSetNode | undefined): boolean => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        const next = visit(selection);
        if (next === 'stop' || (next === 'descend' && !walk(selection.selectionSet))) return false;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (!walk(selection.selectionSet)) return false;
      } else if (!walked.has(selection.name.value)) {
        walked.add(selection.name.value);
        if (!walk(info.fragments[selection.name.value]?.selectionSet)) return false;
      }
    }
    return true;
  };
  for (const node of info.fieldNodes) if (!walk(node.selectionSet)) return;
}

/**
 * The arguments of every selection of `field` directly under the field being resolved, through inline
 * fragments and fragment spreads, with variables substituted. A resolver uses it to read what a child
 * field will ask for in its own statement (lookahead); a skipped child still counts.
 */
export function childFieldArguments(info: GraphQLResolveInfo, field: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  walkFields(info, (selection) => {
    if (selection.name.value === field) {
      found.push(
        Object.fromEntries(
          (selection.arguments ?? []).map((arg) => [
            arg.name.value,
            valueFromASTUntyped(arg.value, info.variableValues),
          ]),
        ),
      );
    }
    return 'skip';
  });
  return found;
}

/**
 * Whether a field named `field` is selected anywhere under the field being resolved, at any depth and on
 * any type. Conservative by design: a skipped (@skip/@include) or same-named field elsewhere counts, so a
 * resolver that leaves a column out when this is false never leaves out one that is shown.
 */
export function selectsField(info: GraphQLResolveInfo, field: string): boolean {
  let found = false;
  walkFields(info, (selection) => {
    found = selection.name.value === field;
    return found ? 'stop' : 'descend';
  });
  return found;
}

/**
 * Whether a read must fetch the listings' descriptions: unless `info` shows the document asks for none
 * (selectsField). Most pages (cards) never show the description, which is most of a listing's bytes.
 */
export function readsDescriptions(info: GraphQLResolveInfo | undefined): boolean {
  return info === undefined || selectsField(info, 'description');
}
