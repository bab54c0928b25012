import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const base = {
  DATABASE_URL: 'postgresql://app@db.internal:5432/lodestar',
  JWT_SECRET: 'x'.repeat(32),
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base);
    expect(config.env).toBe('development');
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.database.role).toBe('lodestar_app');
    expect(config.database.migrationUrl).toBe(base.DATABASE_URL);
    expect(config.database.statementTimeoutMs).toBe(5000);
    expect(config.database.migrateOnStart).toBe(false);
    expect(config.redis.url).toBeUndefined();
    expect(config.auth).toMatchObject({ issuer: 'lodestar', audience: 'lodestar', clockToleranceSec: 30 });
    expect(config.graphql).toEqual({
      introspection: true,
      ide: true,
      demoPage: true,
      consolePage: true,
      maxDepth: 12,
      maxAliases: 30,
      maxTokens: 3000,
      maxComplexity: 5000,
      maxFields: 2000,
      hideSuggestions: false,
      trustedDocuments: undefined,
      apqTtlSec: 86_400,
      publicMaxAgeSec: 60,
    });
    expect(config.bodyLimitBytes).toBe(1024 * 1024);
  });

  it('turns introspection off in production unless asked for', () => {
    expect(loadConfig({ ...base, NODE_ENV: 'production' }).graphql.introspection).toBe(false);
    expect(
      loadConfig({ ...base, NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }).graphql.introspection,
    ).toBe(true);
  });

  it('reports every bad variable at once, one line each, saying what to fix', () => {
    const problems = problemsOf({
      DATABASE_URL: 'mysql://nope',
      JWT_SECRET: 'short',
      PORT: 'eighty',
      REDIS_URL: 'localhost:6379',
      MIGRATE_ON_START: 'maybe',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toHaveLength(6);
    expect(problems).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL, got "mysql://nope"');
    expect(problems).toContain('PORT must be a whole number from 0 to 65535, got "eighty"');
    expect(problems).toContain('REDIS_URL must be a redis:// or rediss:// URL, got "localhost:6379"');
    expect(problems).toContain('MIGRATE_ON_START must be true or false, got "maybe"');
    expect(problems.find((p) => p.startsWith('LOG_LEVEL'))).toMatch(/got "loud"/);
    // Secrets are never echoed back.
    const secret = problems.find((p) => p.startsWith('JWT_SECRET'));
    expect(secret).toBe(
      'JWT_SECRET must be at least 32 characters (HS256 secret), got a value that is not shown',
    );
  });

  it('runs on the embedded database with a generated dev secret when nothing is set in development', () => {
    const config = loadConfig({});
    expect(config.database.url).toBeUndefined();
    expect(config.database.embeddedDataDir).toMatch(/\/\.data\/pglite$/);
    expect(config.database.seedDemoData).toBe(true);
    expect(config.auth.jwtSecret).toBeUndefined();
    expect(config.graphql.ide).toBe(true);
  });

  it('requires a real database and a token key in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      'JWT_SECRET or JWT_JWKS_URL must be set (HS256 secret of 32+ characters, or a JWKS URL)',
      'DATABASE_URL must be set in production (the embedded database is for development only)',
    ]);
  });

  it('turns the IDE off in production unless asked for', () => {
    expect(loadConfig({ ...base, NODE_ENV: 'production' }).graphql.ide).toBe(false);
    expect(loadConfig({ ...base, NODE_ENV: 'production', GRAPHQL_IDE: 'true' }).graphql.ide).toBe(true);
    expect(loadConfig({ ...base, NODE_ENV: 'production' }).graphql.consolePage).toBe(false);
    expect(loadConfig({ ...base, NODE_ENV: 'production', CONSOLE_PAGE: 'true' }).graphql.consolePage).toBe(
      true,
    );
  });

  it('requires exactly one way to verify tokens', () => {
    expect(problemsOf({ ...base, JWT_JWKS_URL: 'https://idp.example/.well-known/jwks.json' })).toEqual([
      'JWT_SECRET and JWT_JWKS_URL are both set: choose one way to verify tokens',
    ]);
    expect(
      loadConfig({ DATABASE_URL: base.DATABASE_URL, JWT_JWKS_URL: 'https://idp.example/jwks' }).auth.jwksUrl,
    ).toBe('https://idp.example/jwks');
  });

  it('DATABASE_READ_URLS: replicas as comma-separated postgres URLs, with their lag limits', () => {
    expect(loadConfig(base).database).toMatchObject({
      readUrls: [],
      replicaMaxLagMs: 10_000,
      replicaCheckMs: 1000,
    });
    expect(loadConfig(base).ops.alerts.replicaLagSec).toBe(5);
    const config = loadConfig({
      ...base,
      DATABASE_READ_URLS:
        ' postgresql://app@replica-1:5432/lodestar , postgres://app:p%2Cw@replica-2/lodestar',
      REPLICA_MAX_LAG_MS: '2500',
      REPLICA_CHECK_MS: '250',
      ALERT_REPLICA_LAG_SEC: '2',
    });
    expect(config.database).toMatchObject({
      readUrls: ['postgresql://app@replica-1:5432/lodestar', 'postgres://app:p%2Cw@replica-2/lodestar'],
      replicaMaxLagMs: 2500,
      replicaCheckMs: 250,
    });
    expect(config.ops.alerts.replicaLagSec).toBe(2);
    const bad = problemsOf({
      ...base,
      DATABASE_READ_URLS: 'postgresql://app:hunter2@replica-1/db,replica-2:5432',
    });
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatch(
      /^DATABASE_READ_URLS must be postgres:\/\/ or postgresql:\/\/ URLs, comma-separated/,
    );
    expect(bad[0]).not.toContain('hunter2');
    expect(problemsOf({ ...base, DATABASE_READ_URLS: 'postgres://r/db,postgres://r/db' })[0]).toMatch(
      /names the same replica twice/,
    );
    expect(problemsOf({ ...base, REPLICA_MAX_LAG_MS: '10' })[0]).toMatch(
      /^REPLICA_MAX_LAG_MS must be a whole number/,
    );
    expect(problemsOf({ JWT_SECRET: base.JWT_SECRET, DATABASE_READ_URLS: 'postgres://r/db' })).toEqual([
      'DATABASE_READ_URLS needs DATABASE_URL: replicas are of a Postgres server, not of the embedded database',
    ]);
  });

  it('REDIS_CLUSTER_NODES: seed nodes as host:port or redis(s):// URLs, instead of REDIS_URL', () => {
    expect(
      loadConfig({ ...base, REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001,[::1]:7002' }).redis,
    ).toEqual({
      url: undefined,
      cluster: {
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: '10.0.0.2', port: 7001 },
          { host: '::1', port: 7002 },
        ],
        username: undefined,
        password: undefined,
        tls: false,
      },
      keyPrefix: 'lodestar:',
      commandTimeoutMs: 100,
    });
    const secured = loadConfig({
      ...base,
      REDIS_CLUSTER_NODES: 'rediss://app:p%40ss@cache-1.internal:6379,rediss://cache-2.internal:6379',
    }).redis.cluster;
    expect(secured).toEqual({
      nodes: [
        { host: 'cache-1.internal', port: 6379 },
        { host: 'cache-2.internal', port: 6379 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(problemsOf({ ...base, REDIS_CLUSTER_NODES: 'cache-1:6379,cache-2' })).toEqual([
      'REDIS_CLUSTER_NODES must be host:port or redis(s)://host:port entries, comma-separated, with any credentials URL-encoded (not one: cache-2), got "cache-1:6379,cache-2"',
    ]);
    // A bad entry's password is not echoed.
    expect(problemsOf({ ...base, REDIS_CLUSTER_NODES: 'redis://app:hunter2@cache-1:6379/3' })).toEqual([
      'REDIS_CLUSTER_NODES must be host:port or redis(s)://host:port entries, comma-separated, with any credentials URL-encoded, got "redis://app:***@cache-1:6379/3"',
    ]);
    // Nor one with a raw comma or slash in it (which splits or ends the entry), and a bad %-escape is an
    // error message, not a crash.
    for (const bad of [
      'redis://app:pa,ss@cache-1:6379',
      'redis://app:pa/ss@cache-1:6379',
      'redis://app:hunter%2@c:6379',
    ]) {
      const problems = problemsOf({ ...base, REDIS_CLUSTER_NODES: bad });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^REDIS_CLUSTER_NODES must be host:port/);
      expect(problems[0]).toContain('redis://app:***@');
      expect(problems[0]).not.toMatch(/pa,ss|pa\/ss|hunter/);
    }
    expect(problemsOf({ ...base, REDIS_CLUSTER_NODES: 'redis://a:1?password=x' })).toHaveLength(1);
    expect(problemsOf({ ...base, REDIS_CLUSTER_NODES: 'redis://u:p1@a:1,redis://u:p2@b:2' })).toEqual([
      'REDIS_CLUSTER_NODES gives different credentials on different nodes: a cluster takes one user and password, got "redis://u:***@a:1,redis://u:***@b:2"',
    ]);
    expect(problemsOf({ ...base, REDIS_CLUSTER_NODES: 'a:1', REDIS_KEY_PREFIX: 'app:{x}:' })).toEqual([
      'REDIS_KEY_PREFIX must not hold a hash tag ({…}) on a Redis Cluster: every key would live in one slot, got "app:{x}:"',
    ]);
    expect(problemsOf({ ...base, REDIS_CLUSTER_NODES: 'redis://a:1,rediss://b:2' })).toEqual([
      'REDIS_CLUSTER_NODES mixes redis:// and rediss:// nodes: TLS is all or nothing, got "redis://a:1,rediss://b:2"',
    ]);
    expect(
      problemsOf({ ...base, REDIS_URL: 'redis://cache:6379', REDIS_CLUSTER_NODES: 'cache:7000' }),
    ).toEqual(['REDIS_URL and REDIS_CLUSTER_NODES are both set: choose one Redis (a server or a cluster)']);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...base, REDIS_URL: '', PORT: '' }).port).toBe(4000);
  });

  it('bounds limits to sane ranges', () => {
    expect(problemsOf({ ...base, GRAPHQL_MAX_DEPTH: '0' })).toEqual([
      'GRAPHQL_MAX_DEPTH must be a whole number from 1 to 100, got "0"',
    ]);
    expect(problemsOf({ ...base, JWT_CLOCK_TOLERANCE_SEC: '3600' })).toEqual([
      'JWT_CLOCK_TOLERANCE_SEC must be a whole number from 0 to 300, got "3600"',
    ]);
  });

  it('reads the page category cap: a share, and whether the viewer’s likes may raise it', () => {
    const defaults = loadConfig(base);
    expect(defaults.feed.categoryShare).toBe(0.6);
    expect(defaults.feed.categoryShareFromLikes).toBe(true);
    const fixed = loadConfig({
      ...base,
      FEED_CATEGORY_SHARE: '0.4',
      FEED_CATEGORY_SHARE_FROM_LIKES: 'false',
    });
    expect(fixed.feed).toMatchObject({ categoryShare: 0.4, categoryShareFromLikes: false });
    expect(problemsOf({ ...base, FEED_CATEGORY_SHARE_FROM_LIKES: 'sometimes' })).toEqual([
      'FEED_CATEGORY_SHARE_FROM_LIKES must be true or false, got "sometimes"',
    ]);
    expect(problemsOf({ ...base, FEED_CATEGORY_SHARE: '1.5' })).toHaveLength(1);
  });

  it('reads the vector index maintenance intervals and the recall alert threshold, within bounds', () => {
    const defaults = loadConfig(base);
    expect(defaults.worker.intervals).toMatchObject({ vectorIndexSec: 3600, vectorRecallSec: 3600 });
    expect(defaults.ops.alerts.vectorRecallMin).toBe(0.9);
    const tuned = loadConfig({
      ...base,
      WORKER_VECTOR_INDEX_CHECK_SEC: '600',
      WORKER_VECTOR_RECALL_INTERVAL_SEC: '7200',
      ALERT_VECTOR_RECALL_MIN: '0.95',
    });
    expect(tuned.worker.intervals).toMatchObject({ vectorIndexSec: 600, vectorRecallSec: 7200 });
    expect(tuned.ops.alerts.vectorRecallMin).toBe(0.95);
    expect(defaults.database.ivfflatProbes).toBe(10);
    expect(loadConfig({ ...base, VECTOR_IVFFLAT_PROBES: '32' }).database.ivfflatProbes).toBe(32);
    expect(problemsOf({ ...base, VECTOR_IVFFLAT_PROBES: '0' })).toEqual([
      'VECTOR_IVFFLAT_PROBES must be a whole number from 1 to 32768, got "0"',
    ]);
    expect(
      problemsOf({
        ...base,
        WORKER_VECTOR_INDEX_CHECK_SEC: '5',
        WORKER_VECTOR_RECALL_INTERVAL_SEC: 'hourly',
        ALERT_VECTOR_RECALL_MIN: '90%',
      }),
    ).toEqual([
      'WORKER_VECTOR_INDEX_CHECK_SEC must be a whole number from 60 to 2592000, got "5"',
      'WORKER_VECTOR_RECALL_INTERVAL_SEC must be a whole number from 60 to 2592000, got "hourly"',
      'ALERT_VECTOR_RECALL_MIN must be a number from 0 to 1, got "90%"',
    ]);
  });

  it('rollout judgement: at most FLAGS_MAX_ERRORS_PER_USER errors per user, FLAGS_MIN_AFFECTED_USERS users', () => {
    expect(loadConfig(base).flags).toMatchObject({ maxErrorsPerUser: 10, minAffectedUsers: 5 });
    expect(
      loadConfig({ ...base, FLAGS_MAX_ERRORS_PER_USER: '3', FLAGS_MIN_AFFECTED_USERS: '20' }).flags,
    ).toMatchObject({ maxErrorsPerUser: 3, minAffectedUsers: 20 });
    expect(problemsOf({ ...base, FLAGS_MAX_ERRORS_PER_USER: '0', FLAGS_MIN_AFFECTED_USERS: '0' })).toEqual([
      'FLAGS_MAX_ERRORS_PER_USER must be a whole number from 1 to 10000000, got "0"',
      'FLAGS_MIN_AFFECTED_USERS must be a whole number from 1 to 1000000, got "0"',
    ]);
  });

  it('reads the role cache window and the service audience (item 4 of issue 13)', () => {
    expect(loadConfig(base).auth).toMatchObject({ roleCacheMs: 2000, serviceAudience: 'lodestar-service' });
    expect(loadConfig({ ...base, AUTH_ROLE_CACHE_MS: '0' }).auth.roleCacheMs).toBe(0);
    expect(problemsOf({ ...base, AUTH_ROLE_CACHE_MS: '600000' })).toEqual([
      'AUTH_ROLE_CACHE_MS must be a whole number from 0 to 30000, got "600000"',
    ]);
    expect(problemsOf({ ...base, JWT_SERVICE_AUDIENCE: 'lodestar' })).toEqual([
      'JWT_SERVICE_AUDIENCE must differ from JWT_AUDIENCE (service callers are told apart by their audience)',
    ]);
  });

  it('lets the worker start in production with only its own database URL (no JWT, no DATABASE_URL)', () => {
    const env = { NODE_ENV: 'production', WORKER_DATABASE_URL: 'postgres://owner@db/lodestar' };
    expect(loadConfig(env, 'worker').worker.databaseUrl).toBe('postgres://owner@db/lodestar');
    expect(() => loadConfig(env)).toThrow(/JWT_SECRET or JWT_JWKS_URL must be set/);
    expect(() => loadConfig({ NODE_ENV: 'production' }, 'worker')).toThrow(/WORKER_DATABASE_URL/);
  });

  it('rate limits: every budget has a default; expected instances is a whole number from 1', () => {
    const limits = loadConfig(base).rateLimits;
    expect(limits).toMatchObject({ hide: 60, feedback: 300, admin: 600, feed: 120, read: 600 });
    expect(limits.expectedInstances).toBe(2);
    expect(loadConfig({ ...base, RATE_LIMIT_EXPECTED_INSTANCES: '3' }).rateLimits.expectedInstances).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'two', '1001']) {
      expect(problemsOf({ ...base, RATE_LIMIT_EXPECTED_INSTANCES: bad })).toEqual([
        expect.stringContaining('RATE_LIMIT_EXPECTED_INSTANCES'),
      ]);
    }
  });

  it('TRUSTED_PROXIES: comma-separated IPs and CIDRs, none by default', () => {
    expect(loadConfig(base).trustedProxies).toEqual([]);
    expect(
      loadConfig({ ...base, TRUSTED_PROXIES: ' 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1' }).trustedProxies,
    ).toEqual(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1']);
    for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0/8', '1.2.3.4/8/1', 'fd00::/129', '*']) {
      expect(problemsOf({ ...base, TRUSTED_PROXIES: bad })).toEqual([
        expect.stringContaining('TRUSTED_PROXIES'),
      ]);
    }
  });

  it('serves /metrics on METRICS_PORT when set; unset, on the public port outside production and nowhere in production', () => {
    expect(loadConfig(base).metrics).toEqual({ port: undefined, host: '127.0.0.1', onPublicPort: true });
    expect(loadConfig({ ...base, NODE_ENV: 'production' }).metrics).toEqual({
      port: undefined,
      host: '127.0.0.1',
      onPublicPort: false,
    });
    expect(
      loadConfig({ ...base, NODE_ENV: 'production', HOST: '0.0.0.0', METRICS_PORT: '9464' }).metrics,
    ).toEqual({ port: 9464, host: '0.0.0.0', onPublicPort: false });
    expect(loadConfig({ ...base, METRICS_PORT: '9464', METRICS_HOST: '10.0.0.5' }).metrics).toEqual({
      port: 9464,
      host: '10.0.0.5',
      onPublicPort: false,
    });
    expect(problemsOf({ ...base, METRICS_PORT: 'metrics' })).toEqual([
      'METRICS_PORT must be a whole number from 0 to 65535, got "metrics"',
    ]);
    expect(problemsOf({ ...base, PORT: '4000', METRICS_PORT: '4000' })).toEqual([
      'METRICS_PORT must differ from PORT (4000): metrics are served on a port of their own',
    ]);
    // 0 = any free port, for both: they can never collide.
    expect(loadConfig({ ...base, PORT: '0', METRICS_PORT: '0' }).metrics.port).toBe(0);
  });

  it('tracing: off unless an OTEL_* variable asks for it; the standard variables validated like the rest', () => {
    expect(loadConfig(base).tracing).toMatchObject({
      enabled: false,
      exporter: 'none',
      resolverMinCost: 10,
      // A caller's traceparent is not followed unless asked for (docs/clients.md#traces).
      propagation: 'none',
    });
    expect(loadConfig({ ...base, OTEL_PROPAGATORS: 'tracecontext' }).tracing.propagation).toBe(
      'tracecontext',
    );
    expect(problemsOf({ ...base, OTEL_PROPAGATORS: 'b3' })).toEqual([
      expect.stringMatching(/^OTEL_PROPAGATORS .*none.*tracecontext.*, got "b3"$/),
    ]);
    expect(
      loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing,
    ).toMatchObject({
      enabled: true,
      exporter: 'otlp',
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    expect(
      loadConfig({
        ...base,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://ingest.example.com/traces',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s%3Dcret, team=feeds',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.version=1.4.2',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      }).tracing,
    ).toMatchObject({
      enabled: true,
      url: 'https://ingest.example.com/traces',
      protocol: 'http/json',
      headers: { 'x-api-key': 's=cret', team: 'feeds' },
      resourceAttributes: { 'deployment.environment': 'prod', 'service.version': '1.4.2' },
      samplerRatio: 0.1,
    });
    expect(
      loadConfig({ ...base, OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'console' }).tracing.enabled,
    ).toBe(false);
    expect(
      loadConfig({ ...base, OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })
        .tracing.enabled,
    ).toBe(false);
    expect(
      problemsOf({
        ...base,
        OTEL_TRACES_EXPORTER: 'jaeger',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317',
        OTEL_TRACES_SAMPLER_ARG: '2',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key',
      }),
    ).toEqual([
      expect.stringMatching(/^OTEL_TRACES_EXPORTER .*otlp.*console.*none.*, got "jaeger"$/),
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, got "collector:4317"',
      'OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (the gRPC exporter is not installed; collectors take OTLP/HTTP on 4318), got "grpc"',
      // Headers carry collector keys: the value is never echoed.
      'OTEL_EXPORTER_OTLP_HEADERS must be comma-separated key=value pairs (percent-encoded), e.g. api-key=abc,team=feeds, got a value that is not shown',
      'OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "2"',
    ]);
  });
});

describe('FEED_RANKER_WEIGHTS', () => {
  it('is empty by default and reads feature=weight pairs separated by commas or spaces', () => {
    expect(loadConfig(base).feed.rankerWeights).toEqual({});
    expect(
      loadConfig({ ...base, FEED_RANKER_WEIGHTS: 'popularity=0.2, coengagement=-1.5  similarity=6' }).feed
        .rankerWeights,
    ).toEqual({ popularity: 0.2, coengagement: -1.5, similarity: 6 });
  });

  it.each([
    ['pop=1', /unknown feature "pop" \(known: similarity, coengagement, popularity,/],
    ['popularity', /"popularity" is not feature=weight \(pairs are separated by commas or spaces\)/],
    ['=1', /"=1" is not feature=weight/],
    [
      'popularity=',
      /the weight of popularity must be a decimal number from -1000 to 1000, got "popularity="/,
    ],
    ['popularity=0x10', /decimal number from -1000 to 1000, got "popularity=0x10"/],
    ['popularity=1e3', /decimal number from -1000 to 1000, got "popularity=1e3"/],
    ['popularity=1=2', /decimal number from -1000 to 1000, got "popularity=1=2"/],
    ['popularity=1001', /decimal number from -1000 to 1000, got "popularity=1001"/],
    [`${'x'.repeat(100)}=1`, /unknown feature "x{40}…"/],
    ['popularity=high', /decimal number from -1000 to 1000, got "popularity=high"/],
    ['popularity=Infinity', /decimal number from -1000 to 1000, got "popularity=Infinity"/],
    ['popularity=1e6', /decimal number from -1000 to 1000, got "popularity=1e6"/],
    ['popularity=1,popularity=2', /popularity is given twice/],
    ['bias=1', /unknown feature "bias"/],
  ])('refuses %j', (value, message) => {
    const problems = problemsOf({ ...base, FEED_RANKER_WEIGHTS: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^FEED_RANKER_WEIGHTS /);
    expect(problems[0]).toMatch(message);
  });
});
