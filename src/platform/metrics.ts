import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';

/** Prometheus metrics of one gateway process, on its own registry (tests run several side by side). */
export interface Metrics {
  registry: Registry;
  requests: Counter<'operation' | 'outcome'>;
  requestDuration: Histogram<'operation'>;
  rejections: Counter<'reason'>;
  errors: Counter<'code'>;
  redisUp: Gauge;
  feedFallbacks: Counter<'reason'>;
  feedCandidateMemory: Counter<'outcome'>;
  feedCandidateMemoryShort: Counter<'pool'>;
  armAssignments: Counter<'experiment' | 'arm' | 'store'>;
  featureLookups: Counter<'kind' | 'result'>;
  featureErrors: Counter<'op'>;
  featureComputed: Counter<'kind'>;
  featureBatchSize: Histogram<'kind'>;
  featureBreakerState: Gauge;
  rateLimited: Counter<'action'>;
  telemetryDropped: Counter;
  /** Statements that read people's roles from profiles (one per batch of users; see src/auth/effectiveRole.ts). */
  roleQueries: Counter;
  flagRequests: Counter<'flag' | 'variant' | 'outcome'>;
  flagDuration: Histogram<'flag' | 'variant'>;
  /** Read replicas (DATABASE_READ_URLS): how far behind each is, whether it takes reads, where reads went. */
  replicaLagSeconds: Gauge<'replica'>;
  replicaLagBytes: Gauge<'replica'>;
  replicaUp: Gauge<'replica'>;
  dbReads: Counter<'target' | 'reason'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lodestar_' });
  return {
    registry,
    replicaLagSeconds: new Gauge({
      name: 'lodestar_db_replica_lag_seconds',
      help: 'How long ago the primary had already written what each read replica has not replayed yet (0 = caught up; resolution REPLICA_CHECK_MS); -1 while it cannot be read',
      labelNames: ['replica'],
      registers: [registry],
    }),
    replicaLagBytes: new Gauge({
      name: 'lodestar_db_replica_lag_bytes',
      help: 'WAL bytes the primary has written that each read replica has not replayed; -1 while it cannot be read',
      labelNames: ['replica'],
      registers: [registry],
    }),
    replicaUp: new Gauge({
      name: 'lodestar_db_replica_up',
      help: 'Whether each read replica takes reads now (1) or is skipped (0: down, promoted, or behind by more than REPLICA_MAX_LAG_MS)',
      labelNames: ['replica'],
      registers: [registry],
    }),
    dbReads: new Counter({
      name: 'lodestar_db_reads_total',
      help: 'Requests whose reads went to a replica or the primary, and why (replica: replica, replayed_own_write; primary: mutation, own_write, no_replica, fence_unknown; and per read that ran again on the primary: fallback — its replica could not be reached, recovery_conflict — replay cancelled it)',
      labelNames: ['target', 'reason'],
      registers: [registry],
    }),
    flagRequests: new Counter({
      name: 'lodestar_flag_requests_total',
      help: 'Signed-in requests by feature flag (above 0%), the variant the viewer sees, and outcome (ok, error = server error)',
      labelNames: ['flag', 'variant', 'outcome'],
      registers: [registry],
    }),
    flagDuration: new Histogram({
      name: 'lodestar_flag_request_duration_seconds',
      help: 'Latency of signed-in requests by feature flag (above 0%) and variant',
      labelNames: ['flag', 'variant'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    roleQueries: new Counter({
      name: 'lodestar_auth_role_queries_total',
      help: 'Statements that read signed-in users’ roles from profiles.role (each covers a batch of users)',
      registers: [registry],
    }),
    telemetryDropped: new Counter({
      name: 'lodestar_telemetry_dropped_total',
      help: 'Kernel latency samples dropped (database slow or down, or the buffer full)',
      registers: [registry],
    }),
    requests: new Counter({
      name: 'lodestar_graphql_requests_total',
      help: 'GraphQL operations by operation name and outcome (ok, error)',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'lodestar_graphql_request_duration_seconds',
      help: 'GraphQL operation latency by operation name',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'lodestar_graphql_rejections_total',
      help: 'Requests refused before execution, by reason (depth, aliases, fields, tokens, complexity, idempotency, text, body, csrf, parse)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'lodestar_graphql_errors_total',
      help: 'GraphQL errors returned to clients by extensions.code',
      labelNames: ['code'],
      registers: [registry],
    }),
    feedFallbacks: new Counter({
      name: 'lodestar_feed_fallback_total',
      help: 'Feed pages (partly) served by the popular → recent → global chain, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    feedCandidateMemory: new Counter({
      name: 'lodestar_feed_candidate_memory_total',
      help: "Personal feed pages by whether they were ranked from the viewer's candidates kept in the process (hit) or read them (miss, expired, short)",
      labelNames: ['outcome'],
      registers: [registry],
    }),
    feedCandidateMemoryShort: new Counter({
      name: 'lodestar_feed_candidate_memory_short_total',
      help: "Personal feed pages that found the viewer's kept candidates short, by what ran short: a pool (a page counts under every pool that did) or their budget",
      labelNames: ['pool'],
      registers: [registry],
    }),
    armAssignments: new Counter({
      name: 'lodestar_experiment_assignments_total',
      help: 'Feed requests by experiment arm and where the arm came from (redis = sticky record, hash = Redis unavailable)',
      labelNames: ['experiment', 'arm', 'store'],
      registers: [registry],
    }),
    featureLookups: new Counter({
      name: 'lodestar_feature_cache_lookups_total',
      help: 'Feature cache lookups by kind and result (hit, miss, bypass = Redis not asked: disabled, down or breaker open)',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    featureErrors: new Counter({
      name: 'lodestar_feature_cache_errors_total',
      help: 'Failed feature cache commands by operation (mget, write, invalidate)',
      labelNames: ['op'],
      registers: [registry],
    }),
    featureComputed: new Counter({
      name: 'lodestar_feature_computed_total',
      help: 'Features computed from Postgres by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    featureBatchSize: new Histogram({
      name: 'lodestar_feature_batch_size',
      help: 'Ids per feature loader batch, by kind',
      labelNames: ['kind'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200],
      registers: [registry],
    }),
    featureBreakerState: new Gauge({
      name: 'lodestar_feature_cache_breaker_state',
      help: 'Feature cache circuit breaker: 0 closed, 1 half-open, 2 open',
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'lodestar_rate_limited_total',
      help: 'Writes refused by the per-user rate limits, by action',
      labelNames: ['action'],
      registers: [registry],
    }),
    redisUp: new Gauge({
      name: 'lodestar_redis_up',
      help: '1 when Redis answered the last readiness probe, 0 when down or not configured',
      registers: [registry],
    }),
  };
}

/** Operation names become label values: keep cardinality bounded and the charset safe. */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name) ? name : 'invalid';
}
