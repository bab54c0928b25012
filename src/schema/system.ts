import { builder } from '../builder.js';
import * as system from '../resolvers/system.js';

const MigrationStatusRef = builder
  .objectRef<{ applied: string[]; pending: string[] }>('MigrationStatus')
  .implement({
    description: 'Database migrations known to this gateway build.',
    fields: (t) => ({
      applied: t.exposeStringList('applied'),
      pending: t.exposeStringList('pending'),
    }),
  });

builder.queryFields((t) => ({
  schemaMigrations: t.field({
    type: MigrationStatusRef,
    description: 'Admin only: which migrations the database has applied and which are pending.',
    authScopes: { admin: true },
    resolve: (_root, _args, ctx) => system.schemaMigrations(ctx),
  }),
}));
