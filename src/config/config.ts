import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { AlertThresholds } from './alertThresholds.js';

/** The project folder (src/config or dist/config are two levels below it). */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Where the process runs; production turns off developer conveniences. */
export type AppEnv = 'development' | 'test' | 'production';

const booleanFlag = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), 'must be true or false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

/** A number from 0 to 1 written plainly (0, 0.5, 1). */
const zeroToOne = z
  .string()
  .trim()
  .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number from 0 to 1')
  .transform(Number);

const postgresUrl = z
  .string({ error: 'must be a postgres:// or postgresql:// URL' })
  .trim()
  .refine(
    (v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v),
    'must be a postgres:// or postgresql:// URL',
  );

const redisUrl = z
  .string()
  .trim()
  .refine((v) => /^rediss?:\/\//.test(v) && URL.canParse(v), 'must be a redis:// or rediss:// URL');

/** One IP address, or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
const isIpOrCidr = (value: string): boolean => {
  const [address = '', prefix, ...rest] = value.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
};

/** Comma-separated IPs / CIDRs; empty = none. */
const ipList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )
  .refine(
    (list) => list.every(isIpOrCidr),
    'must be comma-separated IP addresses or CIDR blocks, e.g. 10.0.0.0/8,192.168.1.10',
  );

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(4000),
  METRICS_PORT: int(0, 65535).optional(),
  METRICS_HOST: z.string().trim().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: postgresUrl.optional(),
  EMBEDDED_DATA_DIR: z.string().trim().min(1).default('.data/pglite'),
  SEED_DEMO_DATA: booleanFlag.default(true),
  MIGRATION_DATABASE_URL: postgresUrl.optional(),
  DATABASE_ROLE: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a PostgreSQL role name such as lodestar_app')
    .default('lodestar_app'),
  DATABASE_POOL_MAX: int(1, 500).default(10),
  STATEMENT_TIMEOUT_MS: int(100, 600_000).default(5000),
  MIGRATE_ON_START: booleanFlag.default(false),
  REDIS_URL: redisUrl.optional(),
  REDIS_KEY_PREFIX: z.string().max(64).default('lodestar:'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 secret)').optional(),
  JWT_JWKS_URL: z
    .string()
    .trim()
    .refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), 'must be an http(s):// URL')
    .optional(),
  JWT_ISSUER: z.string().trim().min(1).default('lodestar'),
  JWT_AUDIENCE: z.string().trim().min(1).default('lodestar'),
  JWT_CLOCK_TOLERANCE_SEC: int(0, 300).default(30),
  JWT_SERVICE_AUDIENCE: z.string().trim().min(1).default('lodestar-service'),
  AUTH_ROLE_CACHE_MS: int(0, 30_000).default(2000),
  GRAPHQL_INTROSPECTION: booleanFlag.optional(),
  GRAPHQL_IDE: booleanFlag.optional(),
  GRAPHQL_MAX_DEPTH: int(1, 100).default(12),
  GRAPHQL_MAX_ALIASES: int(0, 1000).default(30),
  GRAPHQL_MAX_TOKENS: int(10, 100_000).default(3000),
  GRAPHQL_MAX_COMPLEXITY: int(1, 1_000_000).default(5000),
  GRAPHQL_MAX_FIELDS: int(1, 1_000_000).default(2000),
  FEED_EPSILON: zeroToOne.default(0.1),
  FEED_POLICY: z.enum(['epsilon_greedy', 'thompson']).default('epsilon_greedy'),
  FEED_POSTERIOR_REFRESH_SEC: int(5, 86_400).default(60),
  FEED_SERVED_WINDOW_MINUTES: int(0, 7 * 24 * 60).default(30),
  FEED_CATEGORY_SHARE: z
    .string()
    .trim()
    .regex(/^(0?\.\d+|1(\.0+)?)$/, 'must be a share above 0 and at most 1, e.g. 0.4')
    .transform(Number)
    .refine((n) => n > 0, 'must be a share above 0 and at most 1, e.g. 0.4')
    .default(0.4),
  FEED_CURSOR_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  REDIS_COMMAND_TIMEOUT_MS: int(10, 10_000).default(100),
  FEATURE_TTL_SEC: int(1, 7 * 24 * 3600).default(3600),
  FEATURE_TTL_JITTER: z
    .string()
    .trim()
    .regex(/^0?\.\d+$|^0$/, 'must be a share from 0 to below 1, e.g. 0.1')
    .transform(Number)
    .refine((n) => n < 1, 'must be a share from 0 to below 1, e.g. 0.1')
    .default(0.1),
  FEATURE_EARLY_REFRESH_BETA: z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, 'must be a number >= 0 (0 turns early refresh off)')
    .transform(Number)
    .default(1),
  FEATURE_BREAKER_FAILURES: int(1, 1000).default(3),
  FEATURE_BREAKER_OPEN_MS: int(100, 600_000).default(2000),
  MAX_INTERESTS: int(1, 1000).default(50),
  WORKER_DATABASE_URL: postgresUrl.optional(),
  WORKER_DATABASE_ROLE: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a PostgreSQL role name such as lodestar_worker')
    .default('lodestar_worker'),
  WORKER_EVENTS: booleanFlag.default(true),
  WORKER_DISCOVERY: booleanFlag.default(true),
  WORKER_MAINTENANCE: booleanFlag.default(true),
  WORKER_EVENTS_CONCURRENCY: int(1, 64).default(4),
  WORKER_DISCOVERY_CONCURRENCY: int(1, 64).default(2),
  WORKER_LEASE_MS: int(1000, 3_600_000).default(30_000),
  WORKER_POLL_MS: int(50, 60_000).default(1000),
  WORKER_METRICS_PORT: int(0, 65_535).optional(),
  WORKER_GC_INTERVAL_SEC: int(60, 30 * 86_400).default(86_400),
  WORKER_DECAY_INTERVAL_SEC: int(60, 30 * 86_400).default(7 * 86_400),
  WORKER_GAP_INTERVAL_SEC: int(60, 30 * 86_400).default(3600),
  WORKER_ANALYZE_CHECK_SEC: int(10, 86_400).default(300),
  WORKER_ROLLOUT_CHECK_SEC: int(10, 86_400).default(60),
  WORKER_VECTOR_INDEX_CHECK_SEC: int(60, 30 * 86_400).default(3600),
  WORKER_VECTOR_RECALL_INTERVAL_SEC: int(60, 30 * 86_400).default(3600),
  ALERT_DISCOVERY_P95_AGE_SEC: int(1, 86_400 * 30).default(300),
  ALERT_KERNEL_P95_MS: int(1, 600_000).default(1000),
  ALERT_DISCOVERY_HIGH_RETRY: int(0, 1_000_000_000).default(10),
  ALERT_PROFILE_PCT_HAS_VEC: zeroToOne.default(0.5),
  ALERT_LEARNING_SILENCE_SEC: int(60, 86_400 * 365).default(86_400),
  ALERT_DEAD_TUPLE_SHARE: zeroToOne.default(0.2),
  ALERT_DEAD_TUPLE_MIN: int(0, 1_000_000_000_000).default(1000),
  ALERT_VECTOR_RECALL_MIN: zeroToOne.default(0.9),
  FLAGS_REFRESH_SEC: int(1, 3600).default(5),
  FLAGS_EVALUATION_WINDOW_SEC: int(60, 7 * 86_400).default(900),
  FLAGS_MIN_REQUESTS: int(1, 10_000_000).default(200),
  FLAGS_MAX_ERRORS_PER_USER: int(1, 10_000_000).default(10),
  FLAGS_MIN_AFFECTED_USERS: int(1, 1_000_000).default(5),
  TELEMETRY_FLUSH_MS: int(100, 60_000).default(1000),
  OPS_INDEX_BUILD_TIMEOUT_MS: int(1000, 24 * 3_600_000).default(1_800_000),
  RATE_LIMITS_ENABLED: booleanFlag.default(true),
  RATE_LIMIT_LIKES_PER_MIN: int(1, 100_000).default(120),
  RATE_LIMIT_COMMENTS_PER_MIN: int(1, 100_000).default(10),
  RATE_LIMIT_FOLLOWS_PER_MIN: int(1, 100_000).default(60),
  RATE_LIMIT_INTERESTS_PER_MIN: int(1, 100_000).default(60),
  RATE_LIMIT_SIGNALS_PER_MIN: int(1, 100_000).default(600),
  RATE_LIMIT_HIDES_PER_MIN: int(1, 100_000).default(60),
  RATE_LIMIT_FEEDBACK_PER_MIN: int(1, 100_000).default(300),
  RATE_LIMIT_ADMIN_PER_MIN: int(1, 100_000).default(600),
  RATE_LIMIT_EXPECTED_INSTANCES: int(1, 1000).default(2),
  RATE_LIMIT_FEED_PER_MIN: int(1, 100_000).default(120),
  RATE_LIMIT_READS_PER_MIN: int(1, 1_000_000).default(600),
  FEED_EXPERIMENT: z
    .string()
    .trim()
    .regex(/^[a-z0-9_.-]{1,64}$/, 'must be an experiment key (a-z, 0-9, _ . -, at most 64)')
    .default('feed-policy'),
  FEED_EXPERIMENT_REFRESH_SEC: int(1, 3600).default(30),
  FEED_LIKE_ATTRIBUTION_MINUTES: int(0, 7 * 24 * 60).default(30),
  FEED_PROFILE_RECOMPUTE_SEC: int(0, 86_400).default(60),
  BODY_LIMIT_BYTES: int(1024, 50 * 1024 * 1024).default(1024 * 1024),
  TRUSTED_PROXIES: ipList.default([]),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
});

export interface Config {
  env: AppEnv;
  host: string;
  port: number;
  /**
   * Prometheus metrics. With `port` set they are served only there (GET /metrics on `host`, 0 = any
   * free port), never on the public port; unset, development and test keep /metrics on the public
   * port and production serves none (docs/security.md).
   */
  metrics: { port: number | undefined; host: string; onPublicPort: boolean };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  database: {
    /**
     * Where Postgres is; undefined = the embedded default (PGlite, started by the gateway, with its
     * data under `embeddedDataDir`). Development only.
     */
    url: string | undefined;
    migrationUrl: string | undefined;
    embeddedDataDir: string;
    /** Embedded mode: load the demo data set into an empty database at start. */
    seedDemoData: boolean;
    /** Role the gateway switches to on every connection so RLS applies. */
    role: string;
    poolMax: number;
    statementTimeoutMs: number;
    migrateOnStart: boolean;
    /** `lodestar.*` settings every gateway session carries; SQL functions read them (current_setting). */
    sessionSettings: Record<string, string>;
  };
  redis: {
    url: string | undefined;
    keyPrefix: string;
    /** Every Redis command fails after this long (no offline queue), so a slow Redis never holds a request. */
    commandTimeoutMs: number;
  };
  /** The queue worker (npm run worker). */
  worker: {
    /** Where the worker connects (the owner's URL by default); each session switches to `role`. */
    databaseUrl: string | undefined;
    /** The least-privilege role every worker session runs as (lodestar_worker). */
    role: string;
    events: { enabled: boolean; concurrency: number };
    discovery: { enabled: boolean; concurrency: number };
    /** Scheduled maintenance (GC, decay, gap discovery, ANALYZE); one worker runs each task per interval. */
    maintenance: boolean;
    leaseMs: number;
    pollMs: number;
    /** Serve GET /metrics on this port (0 = any free port); unset = no metrics endpoint. */
    metricsPort: number | undefined;
    /** How often each maintenance task runs (see MaintenanceIntervals in src/worker/maintenance.ts). */
    intervals: {
      gcSec: number;
      decaySec: number;
      gapSec: number;
      analyzeSec: number;
      rolloutsSec: number;
      vectorIndexSec: number;
      vectorRecallSec: number;
    };
  };
  /** The ops console: alert thresholds and long-running actions. */
  ops: {
    alerts: AlertThresholds;
    /** An index rebuild is one statement; it gets this timeout instead of the 5 s of batches. */
    indexBuildTimeoutMs: number;
    /** How often request telemetry (kernel latency, flag exposure) is written. */
    telemetryFlushMs: number;
  };
  /** Feature flags: how often each process re-reads them, and how rollouts are judged. */
  flags: {
    refreshSec: number;
    /** evaluateRollouts looks at this much recent traffic (and only since the last rollout change). */
    evaluationWindowSec: number;
    /** Exposed requests needed before error rate and latency are judged. */
    minRequests: number;
    /** Server errors counted per user and flag variant at most; one caller's flood weighs no more. */
    maxErrorsPerUser: number;
    /** Distinct users with server errors needed before the error rate can roll a flag back. */
    minAffectedUsers: number;
  };
  /** Most interests one user may have. */
  maxInterests: number;
  /** Writes per user per minute, by action (shared by all instances through Redis). */
  rateLimits: {
    /** Off only to measure their cost (npm run bench) or in an emergency; never unlimited by accident. */
    enabled: boolean;
    like: number;
    comment: number;
    follow: number;
    interest: number;
    signal: number;
    hide: number;
    feedback: number;
    /** Admin operations (ops actions, flags, experiments), shared. */
    admin: number;
    /**
     * Gateway instances expected to share the limits: while Redis is unavailable each instance allows
     * at most ⌊limit / expectedInstances⌋ per window on its own (docs/security.md).
     */
    expectedInstances: number;
    /** suggestions pages per client (user, or anonymous client address) per minute. */
    feed: number;
    /** Other costly reads (search, listings, vectors) per client per minute. */
    read: number;
  };
  /** The Redis-backed feature store (see src/features/featureStore.ts for each option). */
  features: {
    ttlSec: number;
    ttlJitter: number;
    earlyRefreshBeta: number;
    breakerFailures: number;
    breakerOpenMs: number;
  };
  auth: {
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string;
    audience: string;
    /**
     * The audience of service tokens (JWT_SERVICE_AUDIENCE): a token for it is a service caller; a token
     * for `audience` is a person, whatever its role claim says. Never equal to `audience`.
     */
    serviceAudience: string;
    clockToleranceSec: number;
    /** How long a person's role read from profiles.role is reused by this process (0 = every request). */
    roleCacheMs: number;
  };
  graphql: {
    introspection: boolean;
    /** Serve the in-browser GraphQL IDE (GraphiQL) at /graphiql. */
    ide: boolean;
    maxDepth: number;
    maxAliases: number;
    maxTokens: number;
    maxComplexity: number;
    /** Most field selections per operation once fragments are expanded. */
    maxFields: number;
    /** Leave graphql-js's "Did you mean …?" suggestions out of every error (production). */
    hideSuggestions: boolean;
  };
  feed: {
    /** Which exploration policy serves the feed. */
    policy: 'epsilon_greedy' | 'thompson';
    /** ε-greedy: the share of slots filled from the exploration pools. */
    epsilon: number;
    /** Thompson sampling: how often the posteriors are rebuilt from learning events. */
    posteriorRefreshSec: number;
    /** Listings served to a viewer within this many minutes are not served again. */
    servedWindowMinutes: number;
    /** Most of one category on a page, as a share of the page size. */
    categoryShare: number;
    /** Key that signs feed cursors; defaults to JWT_SECRET, else a per-process random key. */
    cursorSecret: string | undefined;
    /** The experiment whose arms choose each viewer's feed policy (when it exists and is active). */
    experimentKey: string;
    /** How often the experiment definitions are re-read from the database. */
    experimentRefreshSec: number;
    /** A like within this many minutes of an impression of the listing rewards that impression. */
    likeAttributionMinutes: number;
    /** Interest drift recomputes a viewer's profile embedding at most once per this many seconds. */
    profileRecomputeSec: number;
  };
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  /**
   * Reverse proxies whose X-Forwarded-For is believed (IPs / CIDRs; Fastify trustProxy): the client
   * address of a request is the socket peer unless the peer is one of these. Empty: never believed.
   */
  trustedProxies: string[];
}

/** Thrown when the environment is invalid; `problems` has one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function describeValue(env: NodeJS.ProcessEnv, key: string): string {
  const value = env[key];
  if (value === undefined) return 'it is not set';
  if (/SECRET|PASSWORD/.test(key)) return 'got a value that is not shown';
  return `got "${value.length > 80 ? `${value.slice(0, 80)}…` : value}"`;
}

/**
 * Reads and validates the configuration from environment variables, once, at start.
 * Every problem is reported at once, one line per variable, saying what to fix.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  /** The worker and the ops CLI verify no tokens and need only their own database URL. */
  role: 'gateway' | 'worker' = 'gateway',
): Config {
  // An empty string means "not set" for optional variables (common in .env files and CI).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      return `${key} ${issue.message}, ${describeValue(env, key)}`;
    });
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const problems: string[] = [];
  const production = e.NODE_ENV === 'production';
  const gateway = role === 'gateway';
  if (gateway && production && !e.JWT_SECRET && !e.JWT_JWKS_URL) {
    problems.push('JWT_SECRET or JWT_JWKS_URL must be set (HS256 secret of 32+ characters, or a JWKS URL)');
  }
  if (gateway && production && !e.DATABASE_URL) {
    problems.push('DATABASE_URL must be set in production (the embedded database is for development only)');
  }
  if (!gateway && !e.WORKER_DATABASE_URL && !e.MIGRATION_DATABASE_URL && !e.DATABASE_URL) {
    problems.push('WORKER_DATABASE_URL (or MIGRATION_DATABASE_URL or DATABASE_URL) must be set');
  }
  if (gateway && e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    problems.push(
      `METRICS_PORT must differ from PORT (${e.PORT}): metrics are served on a port of their own`,
    );
  }
  if (e.JWT_SECRET && e.JWT_JWKS_URL) {
    problems.push('JWT_SECRET and JWT_JWKS_URL are both set: choose one way to verify tokens');
  }
  if (e.JWT_SERVICE_AUDIENCE === e.JWT_AUDIENCE) {
    problems.push(
      'JWT_SERVICE_AUDIENCE must differ from JWT_AUDIENCE (service callers are told apart by their audience)',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    metrics: {
      port: e.METRICS_PORT,
      host: e.METRICS_HOST ?? e.HOST,
      onPublicPort: e.METRICS_PORT === undefined && !production,
    },
    logLevel: e.LOG_LEVEL,
    database: {
      url: e.DATABASE_URL,
      migrationUrl: e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL,
      // Relative to the project folder, not the working directory, so every start finds the same data.
      embeddedDataDir: path.resolve(projectRoot, e.EMBEDDED_DATA_DIR),
      seedDemoData: e.SEED_DEMO_DATA,
      role: e.DATABASE_ROLE,
      poolMax: e.DATABASE_POOL_MAX,
      statementTimeoutMs: e.STATEMENT_TIMEOUT_MS,
      migrateOnStart: e.MIGRATE_ON_START,
      sessionSettings: {
        'lodestar.like_attribution_window': `${e.FEED_LIKE_ATTRIBUTION_MINUTES}min`,
        'lodestar.profile_recompute_interval': `${e.FEED_PROFILE_RECOMPUTE_SEC}s`,
      },
    },
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS },
    worker: {
      databaseUrl: e.WORKER_DATABASE_URL ?? e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL,
      role: e.WORKER_DATABASE_ROLE,
      events: { enabled: e.WORKER_EVENTS, concurrency: e.WORKER_EVENTS_CONCURRENCY },
      discovery: { enabled: e.WORKER_DISCOVERY, concurrency: e.WORKER_DISCOVERY_CONCURRENCY },
      maintenance: e.WORKER_MAINTENANCE,
      leaseMs: e.WORKER_LEASE_MS,
      pollMs: e.WORKER_POLL_MS,
      metricsPort: e.WORKER_METRICS_PORT,
      intervals: {
        gcSec: e.WORKER_GC_INTERVAL_SEC,
        decaySec: e.WORKER_DECAY_INTERVAL_SEC,
        gapSec: e.WORKER_GAP_INTERVAL_SEC,
        analyzeSec: e.WORKER_ANALYZE_CHECK_SEC,
        rolloutsSec: e.WORKER_ROLLOUT_CHECK_SEC,
        vectorIndexSec: e.WORKER_VECTOR_INDEX_CHECK_SEC,
        vectorRecallSec: e.WORKER_VECTOR_RECALL_INTERVAL_SEC,
      },
    },
    ops: {
      alerts: {
        discoveryP95AgeSec: e.ALERT_DISCOVERY_P95_AGE_SEC,
        kernelP95Ms: e.ALERT_KERNEL_P95_MS,
        discoveryHighRetry: e.ALERT_DISCOVERY_HIGH_RETRY,
        profilePctHasVec: e.ALERT_PROFILE_PCT_HAS_VEC,
        learningSilenceSec: e.ALERT_LEARNING_SILENCE_SEC,
        deadTupleShare: e.ALERT_DEAD_TUPLE_SHARE,
        deadTupleMin: e.ALERT_DEAD_TUPLE_MIN,
        vectorRecallMin: e.ALERT_VECTOR_RECALL_MIN,
      },
      indexBuildTimeoutMs: e.OPS_INDEX_BUILD_TIMEOUT_MS,
      telemetryFlushMs: e.TELEMETRY_FLUSH_MS,
    },
    flags: {
      refreshSec: e.FLAGS_REFRESH_SEC,
      evaluationWindowSec: e.FLAGS_EVALUATION_WINDOW_SEC,
      minRequests: e.FLAGS_MIN_REQUESTS,
      maxErrorsPerUser: e.FLAGS_MAX_ERRORS_PER_USER,
      minAffectedUsers: e.FLAGS_MIN_AFFECTED_USERS,
    },
    maxInterests: e.MAX_INTERESTS,
    rateLimits: {
      enabled: e.RATE_LIMITS_ENABLED,
      like: e.RATE_LIMIT_LIKES_PER_MIN,
      comment: e.RATE_LIMIT_COMMENTS_PER_MIN,
      follow: e.RATE_LIMIT_FOLLOWS_PER_MIN,
      interest: e.RATE_LIMIT_INTERESTS_PER_MIN,
      signal: e.RATE_LIMIT_SIGNALS_PER_MIN,
      hide: e.RATE_LIMIT_HIDES_PER_MIN,
      feedback: e.RATE_LIMIT_FEEDBACK_PER_MIN,
      admin: e.RATE_LIMIT_ADMIN_PER_MIN,
      expectedInstances: e.RATE_LIMIT_EXPECTED_INSTANCES,
      feed: e.RATE_LIMIT_FEED_PER_MIN,
      read: e.RATE_LIMIT_READS_PER_MIN,
    },
    features: {
      ttlSec: e.FEATURE_TTL_SEC,
      ttlJitter: e.FEATURE_TTL_JITTER,
      earlyRefreshBeta: e.FEATURE_EARLY_REFRESH_BETA,
      breakerFailures: e.FEATURE_BREAKER_FAILURES,
      breakerOpenMs: e.FEATURE_BREAKER_OPEN_MS,
    },
    auth: {
      jwtSecret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      serviceAudience: e.JWT_SERVICE_AUDIENCE,
      clockToleranceSec: e.JWT_CLOCK_TOLERANCE_SEC,
      roleCacheMs: e.AUTH_ROLE_CACHE_MS,
    },
    graphql: {
      introspection: e.GRAPHQL_INTROSPECTION ?? !production,
      ide: e.GRAPHQL_IDE ?? !production,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxComplexity: e.GRAPHQL_MAX_COMPLEXITY,
      maxFields: e.GRAPHQL_MAX_FIELDS,
      hideSuggestions: production || e.GRAPHQL_INTROSPECTION === false,
    },
    feed: {
      policy: e.FEED_POLICY,
      epsilon: e.FEED_EPSILON,
      posteriorRefreshSec: e.FEED_POSTERIOR_REFRESH_SEC,
      servedWindowMinutes: e.FEED_SERVED_WINDOW_MINUTES,
      categoryShare: e.FEED_CATEGORY_SHARE,
      cursorSecret: e.FEED_CURSOR_SECRET,
      experimentKey: e.FEED_EXPERIMENT,
      experimentRefreshSec: e.FEED_EXPERIMENT_REFRESH_SEC,
      likeAttributionMinutes: e.FEED_LIKE_ATTRIBUTION_MINUTES,
      profileRecomputeSec: e.FEED_PROFILE_RECOMPUTE_SEC,
    },
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    trustedProxies: e.TRUSTED_PROXIES,
  };
}
