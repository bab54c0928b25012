import { isNonNullType } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { opsActions } from '../../src/ops/actions.js';
import { createSchema } from '../../src/schema/index.js';

/**
 * The ops actions have one shape: the registry (src/ops/actions.ts), which the CLI reads and the schema's
 * mutations are generated from. This fails when the two disagree, e.g. a hand-written mutation drifts
 * or the generator misreads a schema. Checked through zod itself, not through the generator's reading.
 */
const mutations = createSchema().getMutationType()!.getFields();
const shapeOf = (args: { shape: Record<string, z.ZodType> }): Record<string, z.ZodType> => args.shape;
const actions = Object.entries(opsActions).map(
  ([name, action]) => [name, { action, shape: shapeOf(action.args) }] as const,
);

describe('ops mutations and the action registry', () => {
  it('every admin mutation described "Admin: …" is a registry action', () => {
    const adminDescribed = Object.values(mutations)
      .filter((field) => field.description?.startsWith('Admin: '))
      .map((field) => field.name)
      .sort();
    expect(adminDescribed).toEqual(Object.keys(opsActions).sort());
  });

  it.each(actions)(
    '%s is a mutation with the registry’s description and argument names',
    (name, { action, shape }) => {
      const field = mutations[name];
      expect(field, `${name} is in the registry but not a mutation`).toBeDefined();
      expect(field!.description).toBe(`Admin: ${action.description}`);
      expect(field!.args.map((a) => a.name).sort()).toEqual(Object.keys(shape).sort());
    },
  );

  it.each(actions)(
    '%s: arguments required, defaulted and described as the registry says',
    (name, { shape }) => {
      for (const arg of mutations[name]!.args) {
        const schema = shape[arg.name]!;
        const omitted = schema.safeParse(undefined);
        // Required in GraphQL exactly when the registry refuses an omitted argument.
        expect(isNonNullType(arg.type), `${name}.${arg.name} required`).toBe(!omitted.success);
        // GraphQL shows the default the registry applies (none when it applies none).
        expect(arg.defaultValue, `${name}.${arg.name} default`).toEqual(
          omitted.success ? omitted.data : undefined,
        );
        expect(arg.description ?? undefined, `${name}.${arg.name} description`).toBe(schema.description);
      }
    },
  );
});
