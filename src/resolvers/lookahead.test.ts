import { Kind, parse, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo } from 'graphql';
import { describe, expect, it } from 'vitest';
import { childFieldArguments, selectsField } from './lookahead.js';

/** The resolve info of the document's first root field, as graphql-js would pass it (the parts used). */
function infoOf(source: string, variableValues: Record<string, unknown> = {}): GraphQLResolveInfo {
  const document = parse(source);
  const fragments: Record<string, FragmentDefinitionNode> = {};
  let root: FieldNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
    else if (definition.kind === Kind.OPERATION_DEFINITION) {
      root ??= definition.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD);
    }
  }
  return { fieldNodes: [root!], fragments, variableValues } as unknown as GraphQLResolveInfo;
}

describe('childFieldArguments', () => {
  it('reads literal and variable arguments of a child field, through fragments', () => {
    const info = infoOf(
      `query ($n: Int) { listing(id: 1) { title comments(first: 3) { id } ...F ... on Listing { comments(first: $n) { id } } } }
       fragment F on Listing { again: comments { body } }`,
      { n: 7 },
    );
    expect(childFieldArguments(info, 'comments')).toEqual([{ first: 3 }, {}, { first: 7 }]);
  });

  it('finds nothing when the child is not asked for, and ignores grandchildren of the same name', () => {
    const info = infoOf(`{ listing(id: 1) { title seller { comments(first: 2) { id } } } }`);
    expect(childFieldArguments(info, 'comments')).toEqual([]);
  });

  it('walks a fragment spread many times over once (linear in the document)', () => {
    const spreads = Array.from({ length: 500 }, () => '...F').join(' ');
    const info = infoOf(
      `{ listing(id: 1) { ${spreads} } } fragment F on Listing { comments(first: 1) { id } }`,
    );
    expect(childFieldArguments(info, 'comments')).toEqual([{ first: 1 }]);
  });

  it('gives an unset variable as undefined, so the field default applies', () => {
    const info = infoOf(`query ($n: Int) { listing(id: 1) { comments(first: $n) { id } } }`);
    expect(childFieldArguments(info, 'comments')).toEqual([{ first: undefined }]);
  });
});

describe('selectsField', () => {
  it('finds a field at any depth, by alias, through inline and named fragments', () => {
    expect(selectsField(infoOf(`{ listings { edges { node { id description } } } }`), 'description')).toBe(
      true,
    );
    expect(selectsField(infoOf(`{ listings { edges { node { id d: description } } } }`), 'description')).toBe(
      true,
    );
    expect(
      selectsField(
        infoOf(`{ listings { edges { ...E } } } fragment E on ListingEdge { node { ... on Listing { ...D } } }
                fragment D on Listing { description }`),
        'description',
      ),
    ).toBe(true);
  });

  it('says no when the field is not asked for, and walks a fragment spread many times only once', () => {
    expect(selectsField(infoOf(`{ listings { edges { node { id title } } } }`), 'description')).toBe(false);
    const spreads = Array.from({ length: 200 }, () => '...F').join(' ');
    const info = infoOf(`{ listings { edges { node { ${spreads} } } } } fragment F on Listing { id title }`);
    expect(selectsField(info, 'description')).toBe(false);
    // The field itself does not count, only what is under it.
    expect(selectsField(infoOf(`{ description }`), 'description')).toBe(false);
  });
});
