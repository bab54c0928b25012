import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchema } from '../../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import {
  firstCode,
  postGraphQL,
  seedHttpFixtures,
  type HttpFixtures,
  type HttpResult,
} from '../support/http.js';

/** Where a text value sits inside one argument's value: field names and list indexes. */
type Location = (string | number)[];

/** Every String/ID position inside an argument of this type (lists, input objects, nested). */
function textLocations(type: GraphQLInputType, seen = new Set<string>()): Location[] {
  const t = getNullableType(type);
  if (isListType(t)) return textLocations(t.ofType, seen).map((l) => [0, ...l]);
  if (isScalarType(t)) return t.name === 'String' || t.name === 'ID' ? [[]] : [];
  if (isInputObjectType(t)) {
    if (seen.has(t.name)) return [];
    const inner = new Set(seen).add(t.name);
    return Object.values(t.getFields()).flatMap((f) =>
      textLocations(f.type, inner).map((l) => [f.name, ...l]),
    );
  }
  return [];
}

const BAD = 'before\u0000after';

/** A value of this type that passes coercion, with BAD at `target` (when given). */
function sample(type: GraphQLInputType, target?: Location): unknown {
  const t = getNullableType(type);
  if (isListType(t)) return [sample(t.ofType, target?.slice(1))];
  if (isEnumType(t)) return t.getValues()[0]?.name;
  if (isInputObjectType(t)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(t.getFields())) {
      const aimed = target?.[0] === field.name;
      if (aimed || (isNonNullType(field.type) && field.defaultValue === undefined)) {
        value[field.name] = sample(field.type, aimed ? target?.slice(1) : undefined);
      }
    }
    return value;
  }
  if (target) return BAD;
  switch (isScalarType(t) ? t.name : '') {
    case 'Int':
    case 'Float':
      return 1;
    case 'Boolean':
      return false;
    case 'DateTime':
      return '2026-01-01T00:00:00.000Z';
    case 'Decimal':
      return '1.00';
    default:
      return 'x';
  }
}

interface Step {
  field: GraphQLField<unknown, unknown>;
}

/** The shortest path of fields from a root type to each object type (through object types only). */
function pathsToTypes(root: GraphQLObjectType): Map<string, Step[]> {
  const paths = new Map<string, Step[]>([[root.name, []]]);
  const queue: GraphQLObjectType[] = [root];
  while (queue.length > 0) {
    const type = queue.shift()!;
    for (const field of Object.values(type.getFields())) {
      const named = getNamedType(field.type);
      if (!isObjectType(named) || paths.has(named.name)) continue;
      paths.set(named.name, [...paths.get(type.name)!, { field }]);
      queue.push(named);
    }
  }
  return paths;
}

interface Case {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** The document has the text as a literal instead of a variable. */
  literal: boolean;
}

/**
 * One operation per text position of every argument of every field reachable from Query and
 * Mutation: the path to the field, each argument on it given as a variable with a valid sample value,
 * and the target position holding a NUL. For plain String/ID arguments also a literal variant.
 */
function everyTextArgument(): Case[] {
  const schema = createSchema();
  const cases: Case[] = [];
  for (const [keyword, root] of [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
  ] as const) {
    if (!root) continue;
    const paths = pathsToTypes(root);
    const done = new Set<string>();
    for (const [typeName, path] of paths) {
      const type = schema.getType(typeName) as GraphQLObjectType;
      for (const field of Object.values(type.getFields())) {
        const owner = `${typeName}.${field.name}`;
        if (done.has(owner)) continue;
        done.add(owner);
        for (const arg of field.args) {
          for (const location of textLocations(arg.type)) {
            const label = `${owner}(${[arg.name, ...location].join('.')})`;
            for (const literal of location.length === 0 ? [false, true] : [false]) {
              cases.push(buildCase(keyword, [...path, { field }], arg, location, literal, label));
            }
          }
        }
      }
    }
  }
  return cases;
}

function buildCase(
  keyword: 'query' | 'mutation',
  steps: Step[],
  target: GraphQLArgument,
  location: Location,
  literal: boolean,
  label: string,
): Case {
  const definitions: string[] = [];
  const variables: Record<string, unknown> = {};
  let selection = '';
  for (let i = steps.length - 1; i >= 0; i -= 1) {
    const { field } = steps[i]!;
    const args: string[] = [];
    for (const arg of field.args) {
      const aimed = i === steps.length - 1 && arg === target;
      const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
      if (!aimed && !required) continue;
      if (aimed && literal) {
        args.push(`${arg.name}: ${JSON.stringify(BAD)}`);
        continue;
      }
      const name = `v${i}_${arg.name}`;
      definitions.push(`$${name}: ${String(arg.type)}`);
      variables[name] = sample(arg.type, aimed ? location : undefined);
      args.push(`${arg.name}: $${name}`);
    }
    const inner = selection || (isCompositeType(getNamedType(field.type)) ? '{ __typename }' : '');
    selection = `{ ${field.name}${args.length ? `(${args.join(', ')})` : ''} ${inner} }`;
  }
  const query = `${keyword} Probe${definitions.length ? `(${definitions.join(', ')})` : ''} ${selection}`;
  return { name: `${label}${literal ? ' as a literal' : ''}`, query, variables, literal };
}

function expectRefused(res: HttpResult<unknown>): void {
  expect(res.status, res.raw).toBe(400);
  expect(res.body.data ?? null).toBeNull();
  expect(firstCode(res.body), res.raw).toBe('BAD_USER_INPUT');
  expect(res.body.errors?.[0]?.message).toMatch(/NUL character/);
}

describe('text inputs Postgres cannot store are refused at the edge (BAD_USER_INPUT)', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let fixtures: HttpFixtures;
  let userToken: string;
  let adminToken: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    fixtures = await seedHttpFixtures(db.pool, 'text');
    gateway = await createTestGateway(db);
    userToken = await gateway.token({ sub: fixtures.userId, role: 'user' });
    adminToken = await gateway.token({ sub: fixtures.adminId, role: 'admin' });
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  const cases = everyTextArgument();

  it('covers every text argument of the schema (at least the ones named in the issue)', () => {
    const names = cases.map((c) => c.name);
    expect(cases.length).toBeGreaterThan(40);
    for (const expected of [
      'Query.interests(search)',
      'Mutation.recordSignal(query)',
      'Mutation.addComment(body)',
      'Mutation.reportProblem(flagKey)',
      'Query.profile(handle)',
      'Mutation.likeListing(idempotencyKey)',
      'Mutation.saveExperiment(input.arms.0.name)',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const res = await postGraphQL(gateway, c.query, { variables: c.variables, token: adminToken });
    expectRefused(res);
  });

  /**
   * Requests that are valid except for the NUL, so the text reaches the resolvers. Measured on the
   * code before the fix: interests(search:), recordSignal(query:), setRollout(key:) and
   * saveFlag(description:) answered 200 with INTERNAL_SERVER_ERROR (Postgres 22021, masked) and counted
   * as server errors against the kernel and every flag the caller saw; profile(handle:) answered 200
   * with null; the other two were refused by a check of their own field (200, BAD_USER_INPUT).
   */
  const realistic: [string, string, (f: HttpFixtures) => Record<string, unknown>, 'user' | 'admin'][] = [
    [
      'interests(search:)',
      'query($s: String) { interests(search: $s) { edges { node { id } } } }',
      () => ({ s: 'ab\u0000' }),
      'user',
    ],
    [
      'recordSignal(query:)',
      'mutation($s: String) { recordSignal(kind: SEARCH, query: $s) { __typename } }',
      () => ({ s: 'shoes\u0000' }),
      'user',
    ],
    [
      'profile(handle:)',
      'query($s: String!) { profile(handle: $s) { handle } }',
      () => ({ s: 'someone\u0000' }),
      'user',
    ],
    [
      'listings(category:)',
      'query($s: String) { listings(category: $s) { edges { node { id } } } }',
      () => ({ s: 'c\u0000' }),
      'user',
    ],
    [
      'likeListing(idempotencyKey:)',
      'mutation($id: ID!, $k: String) { likeListing(listingId: $id, idempotencyKey: $k) { __typename } }',
      (f) => ({ id: String(f.listingIds[0]), k: 'key\u0000' }),
      'user',
    ],
    [
      'setRollout(key:)',
      'mutation($k: String!) { setRollout(key: $k, rolloutPct: 5) { changed } }',
      () => ({ k: 'flag\u0000' }),
      'admin',
    ],
    [
      'saveFlag(description:)',
      'mutation($d: String) { saveFlag(key: "ok-flag", description: $d) { auditId } }',
      () => ({ d: 'desc\u0000' }),
      'admin',
    ],
  ];

  it.each(realistic)('a request valid but for the NUL in %s', async (_name, query, variables, who) => {
    const res = await postGraphQL(gateway, query, {
      variables: variables(fixtures),
      token: who === 'admin' ? adminToken : userToken,
    });
    expectRefused(res);
  });

  it('refuses before anything runs: nothing is written, and the error names the variable', async () => {
    const before = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM intent_signals');
    const res = await postGraphQL(
      gateway,
      'mutation($q: String) { recordSignal(kind: SEARCH, query: $q) { __typename } }',
      { variables: { q: 'shoes\u0000' }, token: userToken },
    );
    expectRefused(res);
    expect(res.body.errors?.[0]?.message).toMatch(/^variable \$q holds a NUL character/);
    const after = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM intent_signals');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    // Counted as a refusal (lodestar_graphql_rejections_total{reason="text"}), not as a server error.
    const rejections = await gateway.metrics.rejections.get();
    expect(rejections.values.find((v) => v.labels.reason === 'text')?.value).toBeGreaterThan(0);
    const errors = await gateway.metrics.errors.get();
    expect(errors.values.find((v) => v.labels.code === 'INTERNAL_SERVER_ERROR')?.value ?? 0).toBe(0);
  });

  it('an unpaired surrogate is refused too; storable text (emoji, accents, tabs) is served', async () => {
    expectRefusedSurrogate(
      await postGraphQL(gateway, 'query($s: String) { interests(search: $s) { edges { node { id } } } }', {
        variables: { s: 'x\ud800' },
        token: userToken,
      }),
    );
    const ok = await postGraphQL(
      gateway,
      'query($s: String) { interests(search: $s) { edges { node { id } } } }',
      { variables: { s: 'café 😀\tx' }, token: userToken },
    );
    expect(ok.status).toBe(200);
    expect(ok.body.errors).toBeUndefined();
  });

  it('a DateTime that new Date() would guess at is a 400 BAD_USER_INPUT naming the format, never an error of the server', async () => {
    for (const until of ['2026-02-30T00:00:00Z', '2026-12-05', '-271821-04-20T00:00:00Z', 'Dec 5 2026']) {
      const res = await postGraphQL(
        gateway,
        'query($u: DateTime) { ops { kernelLatencyHistory(until: $u) { kernel } } }',
        { variables: { u: until }, token: adminToken },
      );
      expect(res.status, until).toBe(400);
      expect(firstCode(res.body), until).toBe('BAD_USER_INPUT');
      expect(res.body.errors?.[0]?.message).toContain('2026-11-28T17:00:00Z');
    }
    const literal = await postGraphQL(
      gateway,
      'query { ops { kernelLatencyHistory(until: "2026-02-30T00:00:00Z") { kernel } } }',
      { token: adminToken },
    );
    expect(literal.status).toBe(400);
    expect(firstCode(literal.body)).toBe('GRAPHQL_VALIDATION_FAILED');
    const good = await postGraphQL(
      gateway,
      'query($u: DateTime) { ops { kernelLatencyHistory(until: $u) { kernel } } }',
      { variables: { u: '2026-12-05T10:00:00+01:00' }, token: adminToken },
    );
    expect(good.status).toBe(200);
    expect(good.body.errors).toBeUndefined();
  });

  it('a literal in a fragment is found as well', async () => {
    const res = await postGraphQL(
      gateway,
      'query { ...F } fragment F on Query { interests(search: "a\\u0000b") { edges { node { id } } } }',
      { token: userToken },
    );
    expectRefused(res);
    expect(res.body.errors?.[0]?.message).toMatch(/^the string at line 1, column \d+ holds a NUL/);
  });
});

function expectRefusedSurrogate(res: HttpResult<unknown>): void {
  expect(res.status).toBe(400);
  expect(firstCode(res.body)).toBe('BAD_USER_INPUT');
  expect(res.body.errors?.[0]?.message).toMatch(/unpaired UTF-16 surrogate/);
}
