import { builder } from '../builder.js';
import type { Alert } from '../ops/alerts.js';
import type { ReplicaStatus } from '../db/replicas.js';
import type {
  AuditEntry,
  DiscoveryError,
  GapSeverity,
  KernelSlo,
  QueueHealth,
  StuckLeases,
} from '../ops/diagnostics.js';
import type {
  FlagExposurePoint,
  FlagExposureSeries,
  KernelLatencyPoint,
  KernelLatencySeries,
  OpsSeries,
} from '../ops/history.js';
import type { BackfillProgress } from '../ops/maintenanceActions.js';
import type { EmbeddingCoverage, VectorHealth, VectorIndex } from '../ops/vectorIndexes.js';
import * as ops from '../resolvers/ops.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../validation/pageSize.js';
import { OpsRef } from './ops.js';

const QueueNameEnum = builder.enumType('QueueName', {
  values: { EVENTS: { value: 'events' }, DISCOVERY: { value: 'discovery' } } as const,
});

const QueueHealthRef = builder.objectRef<QueueHealth>('QueueHealth').implement({
  description:
    'vw_events_queue_health / vw_discovery_queue_health. Ages count from created_at of unfinished items.',
  fields: (t) => ({
    queue: t.field({ type: QueueNameEnum, resolve: (q) => q.queue }),
    queued: t.exposeInt('queued'),
    inFlight: t.exposeInt('inFlight', { description: 'Leased (events) or processing (discovery).' }),
    done: t.exposeInt('done'),
    error: t.exposeInt('error'),
    total: t.exposeInt('total'),
    oldestWaitingAt: t.expose('oldestWaitingAt', { type: 'DateTime', nullable: true }),
    oldestAgeSec: t.exposeFloat('oldestAgeSec'),
    p95AgeSec: t.exposeFloat('p95AgeSec'),
    highRetryCount: t.exposeInt('highRetryCount', {
      description: 'Unfinished or failed items with 3+ attempts.',
    }),
    stuckLeases: t.exposeInt('stuckLeases', { description: 'In flight with an expired lease.' }),
  }),
});

const StuckLeasesRef = builder.objectRef<StuckLeases>('StuckLeases').implement({
  description: 'The runbook’s stuck-lease counts: in flight with lease_expires_at < now().',
  fields: (t) => ({ events: t.exposeInt('events'), discovery: t.exposeInt('discovery') }),
});

const KernelSloRef = builder.objectRef<KernelSlo>('KernelSlo').implement({
  description: 'Latency of one kernel (auth, onboarding, feed, write, ops, read) over the window.',
  fields: (t) => ({
    kernel: t.exposeString('kernel'),
    n: t.exposeInt('n'),
    p50Ms: t.exposeFloat('p50Ms'),
    p95Ms: t.exposeFloat('p95Ms'),
    p99Ms: t.exposeFloat('p99Ms'),
    errorRate: t.exposeFloat('errorRate'),
  }),
});

const GapRef = builder.objectRef<GapSeverity>('GapSeverity').implement({
  description:
    'Demand (users, summed affinity) against active listings; severity = demand_weight / (supply + 1).',
  fields: (t) => ({
    interestId: t.exposeID('interestId'),
    interestSlug: t.exposeString('interestSlug'),
    categoryId: t.exposeID('categoryId'),
    categorySlug: t.exposeString('categorySlug'),
    demandUsers: t.exposeInt('demandUsers'),
    demandWeight: t.exposeFloat('demandWeight'),
    supplyListings: t.exposeInt('supplyListings'),
    candidateListings: t.exposeInt('candidateListings'),
    severity: t.exposeFloat('severity'),
  }),
});

const DiscoveryErrorRef = builder.objectRef<DiscoveryError>('DiscoveryError').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    interestId: t.exposeID('interestId'),
    categoryId: t.exposeID('categoryId'),
    reason: t.exposeString('reason'),
    lastError: t.exposeString('lastError', { nullable: true }),
    attempts: t.exposeInt('attempts'),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const CoverageRef = builder.objectRef<EmbeddingCoverage>('EmbeddingCoverage').implement({
  fields: (t) => ({
    table: t.exposeString('table'),
    rows: t.exposeInt('rows'),
    withEmbedding: t.exposeInt('withEmbedding'),
    share: t.exposeFloat('share', { nullable: true }),
    plannerCondition: t.exposeBoolean('plannerCondition', {
      description: 'More than 5% of rows have a vector, so the planner can use the vector index.',
    }),
  }),
});

const VectorIndexRef = builder.objectRef<VectorIndex>('VectorIndex').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    table: t.exposeString('table'),
    method: t.exposeString('method', { description: 'ivfflat or hnsw.' }),
    options: t.exposeStringList('options', { description: 'Build parameters, e.g. lists=200 or m=16.' }),
    valid: t.exposeBoolean('valid'),
    sizeBytes: t.exposeFloat('sizeBytes'),
    definition: t.exposeString('definition'),
    rows: t.exposeInt('rows', { description: 'Rows of its table with a vector now.' }),
    rowsAtBuild: t.exposeInt('rowsAtBuild', {
      nullable: true,
      description: 'Rows it indexed when built; null when unknown (built by a migration).',
    }),
    builtAt: t.expose('builtAt', { type: 'DateTime', nullable: true }),
    suggestedLists: t.exposeInt('suggestedLists', {
      nullable: true,
      description: 'ivfflat: pgvector’s lists for `rows` (rows/1000 up to 1M, sqrt(rows) above).',
    }),
    needsRebuild: t.exposeBoolean('needsRebuild', {
      description: 'ivfflat: the table grew or shrank more than 2× since the build; the worker rebuilds it.',
    }),
    recall: t.exposeFloat('recall', {
      nullable: true,
      description: 'Last measured recall@k against exact search (null: never measured).',
    }),
    recallK: t.exposeInt('recallK', { nullable: true }),
    recallSamples: t.exposeInt('recallSamples', { nullable: true }),
    recallMeasuredAt: t.expose('recallMeasuredAt', { type: 'DateTime', nullable: true }),
  }),
});

const VectorHealthRef = builder.objectRef<VectorHealth>('VectorHealth').implement({
  fields: (t) => ({
    installed: t.exposeBoolean('installed'),
    version: t.exposeString('version', { nullable: true }),
    coverage: t.field({ type: [CoverageRef], resolve: (v) => v.coverage }),
    indexes: t.field({ type: [VectorIndexRef], resolve: (v) => v.indexes }),
  }),
});

const AlertSeverityEnum = builder.enumType('AlertSeverity', {
  values: { CRITICAL: { value: 'critical' }, WARNING: { value: 'warning' } } as const,
});

const AlertRef = builder.objectRef<Alert>('Alert').implement({
  description: 'One rule of the runbook’s "Monitoring Alerts", evaluated now.',
  fields: (t) => ({
    rule: t.exposeString('rule'),
    severity: t.field({ type: AlertSeverityEnum, resolve: (a) => a.severity }),
    firing: t.exposeBoolean('firing'),
    value: t.exposeFloat('value', { nullable: true }),
    threshold: t.exposeFloat('threshold'),
    message: t.exposeString('message'),
    action: t.exposeString('action', { description: 'What the runbook says to do.' }),
    remedies: t.stringList({
      description:
        'The ops mutations that carry out the runbook step with their defaults (give a reason): what a console offers as buttons. Empty where the step needs a person.',
      resolve: (a) => [...a.remedies],
    }),
  }),
});

const ReplicaStateEnum = builder.enumType('ReplicaState', {
  description: 'Whether a read replica takes reads (OK) and why not otherwise.',
  values: {
    STARTING: { value: 'starting', description: 'Not checked yet.' },
    OK: { value: 'ok', description: 'Takes reads.' },
    LAGGING: { value: 'lagging', description: 'Further behind than REPLICA_MAX_LAG_MS: skipped.' },
    DOWN: { value: 'down', description: 'Unreachable: skipped until it answers a check.' },
    PROMOTED: { value: 'promoted', description: 'No longer in recovery: skipped.' },
  } as const,
});

const ReplicaStatusRef = builder.objectRef<ReplicaStatus>('ReplicaStatus').implement({
  description: "One read replica (DATABASE_READ_URLS) as this gateway's monitor last saw it.",
  fields: (t) => ({
    name: t.exposeString('name', { description: 'host:port/database (never credentials).' }),
    state: t.field({ type: ReplicaStateEnum, resolve: (r) => r.state }),
    lagSeconds: t.exposeFloat('lagSeconds', {
      nullable: true,
      description: 'How long ago the primary had written what it has not replayed (0 = caught up).',
    }),
    lagBytes: t.exposeFloat('lagBytes', { nullable: true, description: 'WAL bytes not yet replayed.' }),
    replayLsn: t.exposeString('replayLsn', { nullable: true }),
    checkedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.checkedAt }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

export const BackfillProgressRef = builder.objectRef<BackfillProgress>('BackfillProgress').implement({
  fields: (t) => ({
    total: t.exposeInt('total'),
    processed: t.exposeInt('processed'),
    updated: t.exposeInt('updated', {
      description: 'Users whose profile has an embedding after the recompute.',
    }),
    batches: t.exposeInt('batches'),
    batchesRun: t.exposeInt('batchesRun', { description: 'Batches this call ran.' }),
    remaining: t.exposeInt('remaining'),
    cursor: t.exposeString('cursor', { nullable: true }),
    done: t.exposeBoolean('done'),
    batchSize: t.int({
      nullable: true,
      description: 'The batch size this call ended with: halved after each statement timeout (down to 50).',
      resolve: (p) => p.batchSize ?? null,
    }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const AuditEntryRef = builder.objectRef<AuditEntry>('AuditEntry').implement({
  description: 'One admin action: who, what, with which arguments, how it ended and how long it took.',
  fields: (t) => ({
    id: t.exposeID('id'),
    actorId: t.exposeID('actorId', { nullable: true }),
    actorHandle: t.exposeString('actorHandle', {
      nullable: true,
      description: 'The actor’s handle now (null for a service caller or an erased account).',
    }),
    actorRole: t.exposeString('actorRole'),
    action: t.exposeString('action'),
    argsJson: t.exposeString('argsJson'),
    resultJson: t.exposeString('resultJson', { nullable: true }),
    ok: t.exposeBoolean('ok'),
    error: t.exposeString('error', { nullable: true }),
    durationMs: t.exposeFloat('durationMs'),
    requestId: t.exposeString('requestId', { nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

const HistoryPointRef = builder.objectRef<OpsSeries['points'][number]>('OpsHistoryPoint').implement({
  description: 'One bucket of a series: its start and the largest value snapshotted in it.',
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    value: t.exposeFloat('value', { nullable: true }),
  }),
});

const HistorySeriesRef = builder.objectRef<OpsSeries>('OpsHistorySeries').implement({
  description:
    'One metric of ops.history over time (subject: the queue of queue.* metrics, empty otherwise).',
  fields: (t) => ({
    metric: t.exposeString('metric'),
    subject: t.exposeString('subject'),
    points: t.field({ type: [HistoryPointRef], resolve: (s) => s.points }),
  }),
});

const KernelLatencyPointRef = builder.objectRef<KernelLatencyPoint>('KernelLatencyPoint').implement({
  description: 'One bucket of a kernel’s sampled requests.',
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    n: t.exposeInt('n'),
    p50Ms: t.exposeFloat('p50Ms'),
    p95Ms: t.exposeFloat('p95Ms'),
    p99Ms: t.exposeFloat('p99Ms'),
    errorRate: t.exposeFloat('errorRate'),
  }),
});

const KernelLatencySeriesRef = builder.objectRef<KernelLatencySeries>('KernelLatencySeries').implement({
  fields: (t) => ({
    kernel: t.exposeString('kernel'),
    points: t.field({ type: [KernelLatencyPointRef], resolve: (s) => s.points }),
  }),
});

const FlagExposurePointRef = builder.objectRef<FlagExposurePoint>('FlagExposurePoint').implement({
  description: 'One bucket of a flag variant’s exposed traffic.',
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    requests: t.exposeInt('requests'),
    errors: t.exposeInt('errors'),
    errorRate: t.exposeFloat('errorRate'),
    p95Ms: t.exposeFloat('p95Ms', { nullable: true }),
  }),
});

const FlagExposureSeriesRef = builder.objectRef<FlagExposureSeries>('FlagExposureSeries').implement({
  fields: (t) => ({
    flagKey: t.exposeString('flagKey'),
    variant: t.exposeString('variant'),
    points: t.field({ type: [FlagExposurePointRef], resolve: (s) => s.points }),
  }),
});

builder.objectFields(OpsRef, (t) => ({
  queueHealth: t.field({
    type: QueueHealthRef,
    description: 'Runbook "Worker Health": backlog of one queue.',
    args: { queue: t.arg({ type: QueueNameEnum, required: true }) },
    resolve: (_ops, args, ctx) => ops.queueHealth(ctx, args.queue),
  }),
  stuckLeases: t.field({
    type: StuckLeasesRef,
    description: 'Runbook "Worker Health": stuck leases per queue.',
    resolve: (_ops, _args, ctx) => ops.stuckLeases(ctx),
  }),
  kernelSlos: t.field({
    type: [KernelSloRef],
    description:
      'Runbook "Performance SLOs": per kernel over the last `windowMinutes` (60 = vw_kernel_slos).',
    args: { windowMinutes: t.arg.int({ defaultValue: 60 }) },
    resolve: (_ops, args, ctx) => ops.kernelSlos(ctx, args.windowMinutes ?? 60),
  }),
  gapSeverity: t.field({
    type: [GapRef],
    description: 'Runbook "Gap severity": the worst `limit` gaps (1–100).',
    args: { limit: t.arg.int({ defaultValue: 20 }) },
    resolve: (_ops, args, ctx) => ops.gapSeverity(ctx, args.limit ?? 20),
  }),
  discoveryErrors: t.field({
    type: [DiscoveryErrorRef],
    description: 'Runbook "Discovery Queue Backlog: inspect errors", most recent first.',
    args: { limit: t.arg.int({ defaultValue: 20 }) },
    resolve: (_ops, args, ctx) => ops.discoveryErrors(ctx, args.limit ?? 20),
  }),
  vectorHealth: t.field({
    type: VectorHealthRef,
    description: 'Runbook "Vector Health": pgvector, embedding coverage per table, vector indexes.',
    resolve: (_ops, _args, ctx) => ops.vectorHealth(ctx),
  }),
  history: t.field({
    type: [HistorySeriesRef],
    description:
      'The console’s charts: queue health (queue.*, per queue) and the alert inputs (alert.*) as the worker snapshots them once a minute, kept 7 days; one point per bucket (its largest value), at most maxPoints per series. Window: since (default an hour before until) to until (default now).',
    args: {
      metrics: t.arg.stringList({ required: true }),
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
      maxPoints: t.arg.int({ defaultValue: 360 }),
    },
    resolve: (_ops, args, ctx) => ops.opsHistory(ctx, args),
  }),
  kernelLatencyHistory: t.field({
    type: [KernelLatencySeriesRef],
    description:
      'Per kernel (or one): p50/p95/p99 and error rate over time from the sampled requests (kept 7 days).',
    args: {
      kernel: t.arg.string(),
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
      maxPoints: t.arg.int({ defaultValue: 360 }),
    },
    resolve: (_ops, args, ctx) => ops.kernelLatencyHistory(ctx, args),
  }),
  flagExposureHistory: t.field({
    type: [FlagExposureSeriesRef],
    description:
      'Per flag (or one) and variant: exposed requests, errors, error rate and p95 over time (kept 7 days).',
    args: {
      key: t.arg.string(),
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
      maxPoints: t.arg.int({ defaultValue: 360 }),
    },
    resolve: (_ops, args, ctx) => ops.flagExposureHistory(ctx, args),
  }),
  alerts: t.field({
    type: [AlertRef],
    description: 'Runbook "Monitoring Alerts": every rule, evaluated now (thresholds: ALERT_*).',
    resolve: (_ops, _args, ctx) => ops.alerts(ctx),
  }),
  replicas: t.field({
    type: [ReplicaStatusRef],
    description:
      'Read replicas of this gateway (DATABASE_READ_URLS; empty without): state and lag, as last checked (every REPLICA_CHECK_MS).',
    resolve: (_ops, _args, ctx) => ops.replicas(ctx),
  }),
  backfill: t.field({
    type: BackfillProgressRef,
    nullable: true,
    description: 'Progress of the profile embedding backfill (null when none ever ran).',
    resolve: (_ops, _args, ctx) => ops.backfill(ctx),
  }),
  auditLog: t.connection(
    {
      type: AuditEntryRef,
      description: `Every admin action, newest first (${DEFAULT_PAGE_SIZE} per page, at most ${MAX_PAGE_SIZE}).`,
      args: {
        action: t.arg.string({ description: 'Only this action.' }),
        actor: t.arg.string({ description: 'Only this actor: a user id or a handle.' }),
        since: t.arg({ type: 'DateTime', description: 'Only entries at or after this time.' }),
        until: t.arg({ type: 'DateTime', description: 'Only entries before this time.' }),
      },
      resolve: (_ops, args, ctx) => ops.auditLog(ctx, args),
    },
    { name: 'AuditEntryConnection' },
    { name: 'AuditEntryEdge' },
  ),
}));
