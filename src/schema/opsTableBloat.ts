import { builder } from '../builder.js';
import type { TableBloat } from '../ops/tableBloat.js';
import * as ops from '../resolvers/ops.js';
import { OpsRef } from './ops.js';

const TableBloatRef = builder.objectRef<TableBloat & { bloated: boolean }>('TableBloat').implement({
  description:
    'One hot table in pg_stat_user_tables (vw_table_bloat). Counts come from the statistics system: approximate, reset with the statistics.',
  fields: (t) => ({
    table: t.exposeString('table'),
    liveTuples: t.exposeFloat('liveTuples', { description: 'n_live_tup.' }),
    deadTuples: t.exposeFloat('deadTuples', { description: 'n_dead_tup.' }),
    deadTupleShare: t.exposeFloat('deadTupleShare', {
      description: 'n_dead_tup / (n_live_tup + n_dead_tup); 0 for an empty table.',
    }),
    bloated: t.exposeBoolean('bloated', {
      description:
        'deadTupleShare above ALERT_DEAD_TUPLE_SHARE with at least ALERT_DEAD_TUPLE_MIN dead tuples (the table_bloat alert).',
    }),
    lastVacuum: t.expose('lastVacuum', {
      type: 'DateTime',
      nullable: true,
      description: 'Last VACUUM by hand (null: never since the statistics were reset).',
    }),
    lastAutovacuum: t.expose('lastAutovacuum', { type: 'DateTime', nullable: true }),
    vacuumCount: t.exposeInt('vacuumCount'),
    autovacuumCount: t.exposeInt('autovacuumCount'),
    autovacuumEnabled: t.exposeBoolean('autovacuumEnabled', {
      description: 'False when the table has autovacuum_enabled = false.',
    }),
  }),
});

builder.objectFields(OpsRef, (t) => ({
  tableBloat: t.field({
    type: [TableBloatRef],
    description:
      'Runbook "Monitor bloat with pg_stat_user_tables": dead tuples and last (auto)vacuum of every hot table, the most bloated first.',
    resolve: (_ops, _args, ctx) => ops.tableBloat(ctx),
  }),
}));
