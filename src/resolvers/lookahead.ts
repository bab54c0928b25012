import { Kind, valueFromASTUntyped, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * The arguments of every selection of `field` directly under the field being resolved, through inline
 * fragments and fragment spreads (each named fragment walked once, so the cost is linear in the
 * document), with variables substituted. A resolver uses it to read what a child field will ask for in
 * its own statement (lookahead); directives are not evaluated, so a skipped child still counts.
 */
export function childFieldArguments(info: GraphQLResolveInfo, field: string): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const walked = new Set<string>();
  const walk = (set: SelectionSetNode | undefined): void => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== field) continue;
        found.push(
          Object.fromEntries(
            (selection.arguments ?? []).map((arg) => [
              arg.name.value,
              valueFromASTUntyped(arg.value, info.variableValues),
            ]),
          ),
        );
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet);
      } else if (!walked.has(selection.name.value)) {
        walked.add(selection.name.value);
        walk(info.fragments[selection.name.value]?.selectionSet);
      }
    }
  };
  for (const node of info.fieldNodes) walk(node.selectionSet);
  return found;
}

/**
 * Whether a field named `field` is selected anywhere under the field being resolved, at any depth and on
 * any type, through inline fragments and fragment spreads (each named fragment walked once: linear in
 * the document). Conservative by design: a skipped (@skip/@include) or same-named field elsewhere counts,
 * so a resolver that leaves a column out when this is false never leaves out one that is shown.
 */
export function selectsField(info: GraphQLResolveInfo, field: string): boolean {
  const walked = new Set<string>();
  const pending: (SelectionSetNode | undefined)[] = info.fieldNodes.map((node) => node.selectionSet);
  for (let set = pending.pop(); pending.length > 0 || set !== undefined; set = pending.pop()) {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === field) return true;
        pending.push(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        pending.push(selection.selectionSet);
      } else if (!walked.has(selection.name.value)) {
        walked.add(selection.name.value);
        pending.push(info.fragments[selection.name.value]?.selectionSet);
      }
    }
  }
  return false;
}
