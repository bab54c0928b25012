import { builder } from '../builder.js';
import type { BackfillProgress } from '../ops/maintenanceActions.js';
import type { RebuildResult } from '../ops/vectorIndexes.js';
import type { RecallMeasurement } from '../ops/vectorRecall.js';
import * as ops from '../resolvers/ops.js';
import { BackfillProgressRef } from './opsDiagnostics.js';

export interface Audited {
  auditId: string;
  durationMs: number;
}

/** Every action's result says which ops_audit row recorded it and how long it took. */
export const AuditedRef = builder.interfaceRef<Audited>('AuditedAction').implement({
  fields: (t) => ({
    auditId: t.id({ description: 'The ops_audit row of this action.', resolve: (r) => r.auditId }),
    durationMs: t.float({ resolve: (r) => r.durationMs }),
  }),
});

const RequeueResultRef = builder
  .objectRef<{ requeued: number; maxAttempts?: number } & Audited>('RequeueResult')
  .implement({
    description: 'Items put back to queued.',
    interfaces: [AuditedRef],
    fields: (t) => ({
      requeued: t.exposeInt('requeued'),
      maxAttempts: t.int({ nullable: true, resolve: (r) => r.maxAttempts ?? null }),
    }),
  });

const GcResultRef = builder.objectRef<{ deleted: number } & Audited>('GcResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    deleted: t.exposeInt('deleted'),
  }),
});

const AnalyzeResultRef = builder.objectRef<{ tables: string[] } & Audited>('AnalyzeResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    tables: t.exposeStringList('tables'),
  }),
});

const DecayResultRef = builder.objectRef<{ decayed: number } & Audited>('DecayResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    decayed: t.exposeInt('decayed', { description: 'User interests whose affinity decayed.' }),
  }),
});

const EnqueueResultRef = builder
  .objectRef<{ enqueued: boolean; itemId: string; interestId: number; categoryId: number } & Audited>(
    'EnqueueDiscoveryResult',
  )
  .implement({
    interfaces: [AuditedRef],
    fields: (t) => ({
      enqueued: t.exposeBoolean('enqueued', {
        description: 'False when an item for the pair was still pending.',
      }),
      itemId: t.exposeID('itemId'),
      interestId: t.exposeID('interestId'),
      categoryId: t.exposeID('categoryId'),
    }),
  });

const BackfillRunRef = builder.objectRef<BackfillProgress & Audited>('BackfillRun').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    progress: t.field({ type: BackfillProgressRef, resolve: (r) => r }),
  }),
});

const RebuildResultRef = builder.objectRef<RebuildResult & Audited>('RebuildIndexResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({
    index: t.exposeString('index'),
    table: t.exposeString('table'),
    method: t.exposeString('method'),
    previousOptions: t.exposeStringList('previousOptions'),
    options: t.exposeStringList('options'),
    rows: t.exposeInt('rows', { description: 'Rows with a vector when the rebuild started.' }),
    suggestedLists: t.exposeInt('suggestedLists', {
      nullable: true,
      description: 'ivfflat: pgvector’s lists for those rows (rows/1000 up to 1M, sqrt(rows) above).',
    }),
  }),
});

const RecallMeasurementRef = builder.objectRef<RecallMeasurement>('VectorRecallMeasurement').implement({
  fields: (t) => ({
    index: t.exposeString('index'),
    table: t.exposeString('table'),
    method: t.exposeString('method'),
    recall: t.exposeFloat('recall', {
      nullable: true,
      description: 'Share of the exact k nearest neighbours the index returned (null: no vectors).',
    }),
    k: t.exposeInt('k'),
    samples: t.exposeInt('samples', { description: 'Query vectors sampled from the table.' }),
    ms: t.exposeFloat('ms'),
    measuredAt: t.expose('measuredAt', { type: 'DateTime' }),
  }),
});

const MeasureRecallResultRef = builder
  .objectRef<{ measurements: RecallMeasurement[] } & Audited>('MeasureVectorRecallResult')
  .implement({
    interfaces: [AuditedRef],
    fields: (t) => ({
      measurements: t.field({ type: [RecallMeasurementRef], resolve: (r) => r.measurements }),
    }),
  });

const admin = { admin: true } as const;

builder.mutationFields((t) => ({
  requeueStuckEvents: t.field({
    type: RequeueResultRef,
    description: 'Admin: runbook "Worker Stuck" — events with expired leases back to queued.',
    authScopes: admin,
    resolve: (_root, _args, ctx) => ops.runAction(ctx, 'requeueStuckEvents', {}),
  }),
  requeueStuckDiscovery: t.field({
    type: RequeueResultRef,
    description: 'Admin: discovery items with expired leases back to queued.',
    authScopes: admin,
    resolve: (_root, _args, ctx) => ops.runAction(ctx, 'requeueStuckDiscovery', {}),
  }),
  requeueDiscoveryErrors: t.field({
    type: RequeueResultRef,
    description:
      'Admin: runbook "Discovery Queue Backlog" — failed items with attempts < maxAttempts (default 5) back to queued.',
    authScopes: admin,
    args: { maxAttempts: t.arg.int({ defaultValue: 5 }) },
    resolve: (_root, args, ctx) => ops.runAction(ctx, 'requeueDiscoveryErrors', args),
  }),
  backfillProfileEmbeddings: t.field({
    type: BackfillRunRef,
    description:
      'Admin: runbook "Backfill Profile Embeddings" — batches of batchSize (≤ 1,000), each committed with its cursor; ' +
      'call again to resume. maxBatches bounds this call.',
    authScopes: admin,
    args: {
      batchSize: t.arg.int({ defaultValue: 1000 }),
      maxBatches: t.arg.int(),
      restart: t.arg.boolean({ defaultValue: false }),
    },
    resolve: (_root, args, ctx) => ops.runAction(ctx, 'backfillProfileEmbeddings', args),
  }),
  gcIntentSignals: t.field({
    type: GcResultRef,
    description:
      'Admin: runbook "Cleanup Old Signals" — intent signals older than retentionDays (default 90).',
    authScopes: admin,
    args: { retentionDays: t.arg.int() },
    resolve: (_root, args, ctx) => ops.runAction(ctx, 'gcIntentSignals', args),
  }),
  gcLearningEvents: t.field({
    type: GcResultRef,
    description:
      'Admin: runbook "Cleanup Old Signals" — learning events older than retentionDays (default 180).',
    authScopes: admin,
    args: { retentionDays: t.arg.int() },
    resolve: (_root, args, ctx) => ops.runAction(ctx, 'gcLearningEvents', args),
  }),
  analyzeHotTables: t.field({
    type: AnalyzeResultRef,
    description: 'Admin: runbook "Analyze After Bulk Updates".',
    authScopes: admin,
    resolve: (_root, _args, ctx) => ops.runAction(ctx, 'analyzeHotTables', {}),
  }),
  enqueueDiscovery: t.field({
    type: EnqueueResultRef,
    description: 'Admin: queue discovery for an interest, in its own category unless categoryId is given.',
    authScopes: admin,
    args: { interestId: t.arg.int({ required: true }), categoryId: t.arg.int() },
    resolve: (_root, args, ctx) => ops.runAction(ctx, 'enqueueDiscovery', args),
  }),
  decayInterests: t.field({
    type: DecayResultRef,
    description: 'Admin: interest drift — affinity × 0.98 per whole week since last reinforced or decayed.',
    authScopes: admin,
    resolve: (_root, _args, ctx) => ops.runAction(ctx, 'decayInterests', {}),
  }),
  rebuildVectorIndex: t.field({
    type: RebuildResultRef,
    description:
      'Admin: rebuild a vector index CONCURRENTLY with new parameters (ivfflat: lists; hnsw: m, efConstruction), ' +
      'then swap it in. Needs MIGRATION_DATABASE_URL (the schema owner). ivfflat lists default to pgvector’s ' +
      'rule (rows/1000 up to 1M rows, sqrt(rows) above); a lists leaving fewer than 50 rows per list is ' +
      'refused (BAD_USER_INPUT) unless force.',
    authScopes: admin,
    args: {
      index: t.arg.string({ required: true }),
      lists: t.arg.int(),
      m: t.arg.int(),
      efConstruction: t.arg.int(),
      force: t.arg.boolean({
        defaultValue: false,
        description: 'Build an ivfflat index even when lists leaves fewer than 50 rows per list.',
      }),
    },
    resolve: (_root, args, ctx) => ops.runAction(ctx, 'rebuildVectorIndex', args),
  }),
  measureVectorRecall: t.field({
    type: MeasureRecallResultRef,
    description:
      'Admin: recall@20 of every vector index (or `index`) against exact search on 200 vectors sampled from ' +
      'its table; stored for ops.vectorHealth, /metrics and ops.alerts (the worker measures hourly).',
    authScopes: admin,
    args: { index: t.arg.string() },
    resolve: (_root, args, ctx) => ops.runAction(ctx, 'measureVectorRecall', args),
  }),
}));
