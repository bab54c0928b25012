import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  Kind,
  parse,
  specifiedRules,
  validate,
  visit,
  type DocumentNode,
  type ValidationRule,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { createSchema } from '../../src/schema/index.js';
import {
  createMaxAliasesRule,
  createMaxDepthRule,
  createMaxFieldsRule,
  DocumentWalker,
  rootResponseNames,
} from '../../src/server/protection.js';

/**
 * Validation work is counted, not timed: every rule (graphql-js's own, ours and the Pothos complexity
 * rule) runs on a document whose nodes count each read of their `kind` — every visitor, walker or
 * rule that looks at a node reads it. Over fragment DAGs whose expansion is exponential, the count
 * must stay a small constant times the number of nodes in the document.
 */
const schema = createSchema();

type Style = 'spread' | 'inline' | 'field';

/**
 * `depth` fragments on Listing, each referring to the next `fanout` times: by plain spreads (the
 * issue's document), through inline fragments with a variable directive, or under aliased list fields
 * with a variable argument (an operation that really would execute fanout^depth fields).
 */
function fragmentDag(depth: number, fanout: number, style: Style): string {
  const parts = ['query Q($n: Int = 2, $on: Boolean = true) { listing(id: "1") { ...F0 } }'];
  for (let i = 0; i < depth; i += 1) {
    const next = `F${i + 1}`;
    const body =
      i + 1 < depth
        ? Array.from({ length: fanout }, (_, k) => {
            if (style === 'inline') return `... on Listing @include(if: $on) { ...${next} }`;
            if (style === 'field') return `s${k}: similar(first: $n) { listing { ...${next} } }`;
            return `...${next}`;
          }).join(' ')
        : 'title';
    parts.push(`fragment F${i} on Listing { id ${body} }`);
  }
  return parts.join('\n');
}

function nodeCount(document: DocumentNode): number {
  let nodes = 0;
  visit(document, {
    enter() {
      nodes += 1;
    },
  });
  return nodes;
}

/** Runs one rule on a copy of the document that counts node reads; returns the count. */
function nodeReads(document: DocumentNode, rule: ValidationRule): number {
  let reads = 0;
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const known = proxies.get(value);
    if (known) return known;
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (key === 'kind') reads += 1;
        return wrap(Reflect.get(target, key, receiver));
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  validate(schema, wrap(document) as DocumentNode, [rule]);
  return reads;
}

const rules: [string, ValidationRule][] = [
  ...specifiedRules.map((rule): [string, ValidationRule] => [rule.name, rule]),
  ['lodestar max depth', createMaxDepthRule(12)],
  ['lodestar max fields', createMaxFieldsRule(2000)],
  ['lodestar max aliases', createMaxAliasesRule(30)],
  [
    'pothos complexity',
    createComplexityRule({ context: {}, variableValues: {}, operationName: 'Q', maxComplexity: 5000 }),
  ],
];

/** Reads per document node; graphql-js's visitor alone reads about 9, the heaviest rule about 18.5. */
const readsPerNode = 25;

describe('validation work is linear in the document', () => {
  const shapes: [number, number][] = [
    [10, 2],
    [20, 2],
    [40, 2],
    [10, 10],
    [40, 10],
  ];

  for (const style of ['spread', 'inline', 'field'] as const) {
    it(`every rule reads each node a bounded number of times (${style} DAGs, depth 10–40, fan-out 2–10)`, () => {
      for (const [depth, fanout] of shapes) {
        const document = parse(fragmentDag(depth, fanout, style));
        const nodes = nodeCount(document);
        for (const [name, rule] of rules) {
          const reads = nodeReads(document, rule);
          expect(reads, `${name} on a ${style} DAG ${depth}×${fanout} (${nodes} nodes)`).toBeLessThanOrEqual(
            readsPerNode * nodes,
          );
        }
      }
    });

    it(`doubling a ${style} DAG's depth at most doubles each rule's work (plus the fixed operation)`, () => {
      const small = parse(fragmentDag(20, 4, style));
      const large = parse(fragmentDag(40, 4, style));
      const growth = nodeCount(large) / nodeCount(small);
      for (const [name, rule] of rules) {
        const ratio = nodeReads(large, rule) / nodeReads(small, rule);
        expect(ratio, name).toBeLessThanOrEqual(growth * 1.1);
      }
    });
  }

  it('our walker visits each selection of the document once, however often it is spread', () => {
    for (const style of ['spread', 'inline', 'field'] as const) {
      for (const [depth, fanout] of [
        [10, 2],
        [40, 10],
      ] as const) {
        const document = parse(fragmentDag(depth, fanout, style));
        let selections = 0;
        visit(document, {
          Field: () => void (selections += 1),
          InlineFragment: () => void (selections += 1),
          FragmentSpread: () => void (selections += 1),
        });
        const reported: number[] = [];
        validate(schema, document, [
          createMaxDepthRule(12, (n) => reported.push(n)),
          createMaxFieldsRule(2000, (n) => reported.push(n)),
        ]);
        expect(reported).toEqual([selections, selections]);
      }
    }
  });

  it('computes the expanded size exactly without expanding it', () => {
    // The document: 24 fragments, each spreading the next twice.
    const document = parse(fragmentDag(24, 2, 'spread'));
    const walker = new DocumentWalker(document);
    const operation = document.definitions[0];
    if (operation?.kind !== Kind.OPERATION_DEFINITION) throw new Error('no operation');
    const shape = walker.operation(operation);
    // listing + Σ_{i<23} 2^i ids + 2^23 (id + title) = 1 + (2^23 − 1) + 2^24
    expect(shape.fields).toBe(1 + (2 ** 23 - 1) + 2 ** 24);
    expect(shape.depth).toBe(2);
    expect(walker.visits).toBeLessThan(100);
  });
});

describe('root mutation fields', () => {
  const names = (source: string) => {
    const document = parse(source);
    const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
    if (operation?.kind !== Kind.OPERATION_DEFINITION) throw new Error('no operation');
    return [...rootResponseNames(document, operation)].sort();
  };

  it('counts aliases, inline fragments and fragment spreads; merges repeats of one response name', () => {
    expect(names('mutation { likeListing(listingId: 1) { changed } }')).toEqual(['likeListing']);
    expect(
      names('mutation { a: likeListing(listingId: 1) { changed } b: likeListing(listingId: 2) { changed } }'),
    ).toEqual(['a', 'b']);
    expect(
      names(
        'mutation { ...A ... on Mutation { follow(userId: "x") { changed } } __typename } ' +
          'fragment A on Mutation { likeListing(listingId: 1) { changed } ...A2 } ' +
          'fragment A2 on Mutation { likeListing(listingId: 1) { changed } }',
      ),
    ).toEqual(['follow', 'likeListing']);
  });
});
