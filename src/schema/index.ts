import type { GraphQLSchema } from 'graphql';
import { builder } from '../builder.js';
import { applyBudgets } from './budgets.js';
import './scalars.js';
import './profile.js';
import './catalog.js';
import './catalogWrites.js';
import './system.js';
import './feed.js';
import './experiments.js';
import './ops.js';
import './features.js';
import './social.js';
import './opsDiagnostics.js';
import './opsTableBloat.js';
import './opsActions.js';
import './flags.js';
import './privacy.js';

let schema: GraphQLSchema | undefined;

/** The gateway's schema, built once per process. */
export function createSchema(): GraphQLSchema {
  schema ??= applyBudgets(builder.toSchema({ sortSchema: true }));
  return schema;
}
