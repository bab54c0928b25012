import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { UserViewer } from './auth/viewer.js';
import { isSignedIn } from './auth/viewer.js';
import type { Context } from './context.js';
import { createForbiddenError, createUnauthenticatedError } from './errors/errors.js';
import type PrismaTypes from './generated/pothos-types.js';
import { getDatamodel } from './generated/pothos-types.js';

export interface AdminViewer extends UserViewer {
  role: 'admin';
}

/** The one Pothos builder with its typed generics. */
export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { user: boolean; admin: boolean; service: boolean };
  AuthContexts: {
    user: Context & { viewer: UserViewer };
    admin: Context & { viewer: AdminViewer };
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Decimal: { Input: string; Output: string };
  };
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ComplexityPlugin],
  scopeAuth: {
    authScopes: (ctx) => ({
      user: isSignedIn(ctx.viewer),
      admin: ctx.viewer.role === 'admin',
      service: ctx.viewer.role === 'service',
    }),
    // Anonymous callers are told to sign in; signed-in callers without the scope are refused.
    unauthorizedError: (_parent, ctx) =>
      ctx.viewer.role === 'anonymous' ? createUnauthenticatedError() : createForbiddenError(),
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
  },
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: 10,
  },
});

builder.queryType({});
builder.mutationType({});
