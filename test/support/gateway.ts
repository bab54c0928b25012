import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { graphql, type ExecutionResult } from 'graphql';
import { pino } from 'pino';
import { createTokenVerifier } from '../../src/auth/verifyToken.js';
import { signToken, type TokenClaims } from '../../src/auth/signToken.js';
import type { Viewer } from '../../src/auth/viewer.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Context } from '../../src/context.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { scopedPrisma } from '../../src/db/identity.js';
import { createLoaders } from '../../src/loaders/createLoaders.js';
import { createFeatureStore, type FeatureStore } from '../../src/features/featureStore.js';
import { createFeedSettings } from '../../src/feed/feedSettings.js';
import { createFlagStore } from '../../src/flags/flagStore.js';
import { createRateLimits } from '../../src/social/rateLimits.js';
import { createSchema } from '../../src/schema/index.js';
import { createApp } from '../../src/server/app.js';
import { createLogger, loggerOptions, type Logger } from '../../src/platform/logger.js';
import { createMetrics, type Metrics } from '../../src/platform/metrics.js';
import { createRedis } from '../../src/platform/redis.js';
import type { TestDatabase } from './db.js';
import { sourceOf, type Operation } from './graphql.js';

export const testJwtSecret = 'test-secret-test-secret-test-secret-0123456789';

/** The gateway configuration for a test database; `env` overrides any variable. */
export function testConfig(db: Pick<TestDatabase, 'url'>, env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.url,
    JWT_SECRET: testJwtSecret,
    ...env,
  });
}

export interface TestGateway {
  app: FastifyInstance;
  config: Config;
  database: Database;
  metrics: Metrics;
  /** A signed HS256 token the gateway accepts. */
  token: (claims: TokenClaims, options?: { expiresIn?: string | number }) => Promise<string>;
  close: () => Promise<void>;
}

/** The real HTTP app (Fastify + Apollo) on a test database; use `app.inject` to call it. */
export async function createTestGateway(
  db: Pick<TestDatabase, 'url'>,
  env: Record<string, string> = {},
): Promise<TestGateway> {
  const config = testConfig(db, env);
  const logger = createLogger(config);
  const database = createDatabase({ ...config.database, url: db.url }, () => undefined);
  const redis = createRedis(config.redis, () => undefined);
  if (redis) await redis.connect().catch(() => undefined);
  const metrics = createMetrics();
  const app = await createApp({
    config,
    logger,
    db: database,
    redis,
    metrics,
    verifyToken: createTokenVerifier(config.auth),
  });
  await app.ready();
  return {
    app,
    config,
    database,
    metrics,
    token: (claims, options) => signToken(config.auth, claims, options),
    close: async () => {
      await app.close();
      await database.close();
      redis?.disconnect();
    },
  };
}

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export interface InProcess {
  config: Config;
  database: Database;
  metrics: Metrics;
  /** The JSON log lines written so far, when created with `captureLogs`. */
  logs: LogLine[];
  /** The process's feature store (Redis when REDIS_URL is given). */
  features: FeatureStore;
  /** Runs one operation against the schema with an explicit viewer, as the HTTP layer would. */
  execute: <T = Record<string, unknown>>(
    source: Operation<T>,
    options?: {
      viewer?: Viewer;
      variables?: Record<string, unknown>;
      requestId?: string;
      /** As the Idempotency-Key header. */
      idempotencyKey?: string;
    },
  ) => Promise<ExecutionResult<T>>;
  close: () => Promise<void>;
}

/** A logger that writes its JSON lines into `logs` instead of stdout, so tests can assert them. */
function createCapturingLogger(config: Config, logs: LogLine[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      }
      callback();
    },
  });
  return pino(loggerOptions(config), sink);
}

/** Executes operations in-process (no HTTP) against a test database. */
export function createInProcess(
  db: Pick<TestDatabase, 'url'>,
  env: Record<string, string> = {},
  options: { captureLogs?: boolean } = {},
): InProcess {
  const config = testConfig(db, env);
  const logs: LogLine[] = [];
  const logger = options.captureLogs ? createCapturingLogger(config, logs) : createLogger(config);
  const database = createDatabase({ ...config.database, url: db.url }, () => undefined);
  const schema = createSchema();
  const metrics = createMetrics();
  const redis = createRedis(config.redis, () => undefined);
  const redisReady = redis?.connect().catch(() => undefined);
  const feed = createFeedSettings(config, { service: database.service, logger, redis, metrics });
  const features = createFeatureStore({
    redis,
    service: database.service,
    options: config.features,
    metrics,
    logger,
  });
  const rateLimits = createRateLimits({ redis, limits: config.rateLimits, metrics });
  const flagsReady = createFlagStore({
    pool: database.pool,
    logger,
    refreshMs: config.flags.refreshSec * 1000,
  });
  let requests = 0;
  return {
    config,
    database,
    metrics,
    logs,
    features,
    execute: async <T>(
      source: Operation<T>,
      options: {
        viewer?: Viewer;
        variables?: Record<string, unknown>;
        requestId?: string;
        idempotencyKey?: string;
      } = {},
    ) => {
      const viewer: Viewer = options.viewer ?? { role: 'anonymous', userId: null };
      await redisReady;
      requests += 1;
      const contextValue: Context = {
        requestId: options.requestId ?? `test-${requests}`,
        viewer,
        logger,
        prisma: scopedPrisma(database.prisma, viewer),
        db: database,
        loaders: createLoaders(database.prisma, features),
        config,
        metrics,
        feed,
        features,
        rateLimits,
        idempotencyKey: options.idempotencyKey ?? null,
        flags: await flagsReady,
      };
      return (await graphql({
        schema,
        source: sourceOf(source),
        contextValue,
        variableValues: options.variables,
      })) as ExecutionResult<T>;
    },
    close: async () => {
      (await flagsReady).close();
      feed.stop();
      await features.settled();
      await database.close();
      redis?.disconnect();
    },
  };
}
