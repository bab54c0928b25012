import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createSchema } from '../../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createInProcess, type InProcess } from '../support/gateway.js';
import { expectErrorCode } from '../support/graphqlResult.js';

/**
 * The schema is the list: every field under `ops`, every root field not known to be public and every
 * mutation not known to be a user's must refuse users (FORBIDDEN) and anonymous callers
 * (UNAUTHENTICATED). A new admin field is covered the moment it exists; a new public or user field
 * fails here until it is added to the lists below on purpose.
 */
const publicQueries = new Set([
  'categories',
  'flags',
  'interests',
  'listing',
  'listings',
  'me',
  'profile',
  'similarListings',
  'suggestions',
  'userFeatures',
]);
const userMutations = new Set([
  'addComment',
  'addInterest',
  'deleteComment',
  'deleteMyAccount',
  'follow',
  'hideListing',
  'likeListing',
  'recordFeedback',
  'recordSignal',
  'removeInterest',
  'reportProblem',
  'setInterests',
  'unfollow',
  'unlikeListing',
]);

/** A literal any argument of this type accepts; authorization refuses before it is looked at. */
function literalFor(type: GraphQLInputType): string {
  if (isNonNullType(type)) return literalFor(type.ofType);
  if (isListType(type)) return `[${literalFor(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0]?.name ?? 'null';
  if (isInputObjectType(type)) {
    const required = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return `{ ${required.map((f) => `${f.name}: ${literalFor(f.type)}`).join(', ')} }`;
  }
  switch (type.name) {
    case 'Int':
    case 'Float':
      return '1';
    case 'Boolean':
      return 'false';
    case 'DateTime':
      return '"2026-01-01T00:00:00Z"';
    default:
      return '"1"';
  }
}

/** `name(requiredArgs) { __typename }`: the smallest valid selection of a field. */
function selectionOf(field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter(
    (a: GraphQLArgument) => isNonNullType(a.type) && a.defaultValue === undefined,
  );
  const argText = args.length ? `(${args.map((a) => `${a.name}: ${literalFor(a.type)}`).join(', ')})` : '';
  const sub = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${field.name}${argText}${sub}`;
}

const schema = createSchema();
const opsType = schema.getType('Ops');
if (!isObjectType(opsType)) throw new Error('the schema has no Ops type');
const opsFields = Object.values(opsType.getFields());
const adminQueries = Object.values(schema.getQueryType()!.getFields()).filter(
  (f) => !publicQueries.has(f.name),
);
const adminMutations = Object.values(schema.getMutationType()!.getFields()).filter(
  (f) => !userMutations.has(f.name),
);

const operations = [
  ...opsFields.map((f) => ({ name: `ops.${f.name}`, source: `{ ops { ${selectionOf(f)} } }` })),
  ...adminQueries.map((f) => ({ name: f.name, source: `{ ${selectionOf(f)} }` })),
  ...adminMutations.map((f) => ({ name: f.name, source: `mutation { ${selectionOf(f)} }` })),
];

describe('admin-only fields', () => {
  let db: TestDatabase;
  let h: InProcess;
  const user: Viewer = { role: 'user', userId: '00000000-0000-4000-8000-0000000000aa' };
  const anonymous: Viewer = { role: 'anonymous', userId: null };

  beforeAll(async () => {
    db = await createTestDatabase();
    h = createInProcess(db);
  });

  afterAll(async () => {
    await h.close();
    await db.drop();
  });

  it('finds the ops fields and admin mutations in the schema', () => {
    expect(opsFields.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'queueHealth',
        'stuckLeases',
        'kernelSlos',
        'gapSeverity',
        'vectorHealth',
        'alerts',
        'auditLog',
      ]),
    );
    expect(adminMutations.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'requeueStuckEvents',
        'requeueDiscoveryErrors',
        'backfillProfileEmbeddings',
        'rebuildVectorIndex',
        'advanceRollout',
        'evaluateRollouts',
      ]),
    );
  });

  it.each(operations)('$name refuses a signed-in user with FORBIDDEN', async ({ source }) => {
    expectErrorCode(await h.execute(source, { viewer: user }), 'FORBIDDEN');
  });

  it.each(operations)('$name refuses an anonymous caller with UNAUTHENTICATED', async ({ source }) => {
    expectErrorCode(await h.execute(source, { viewer: anonymous }), 'UNAUTHENTICATED');
  });

  it('every user mutation still asks anonymous callers to sign in', async () => {
    for (const name of userMutations) {
      const field = schema.getMutationType()!.getFields()[name];
      expect(field, `${name} is in the user list but not in the schema`).toBeDefined();
      expectErrorCode(
        await h.execute(`mutation { ${selectionOf(field!)} }`, { viewer: anonymous }),
        'UNAUTHENTICATED',
      );
    }
  });

  it('a refused action leaves no trace: nothing ran, nothing was audited', async () => {
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ops_audit');
    expect(rows[0]?.n).toBe(0);
  });
});
