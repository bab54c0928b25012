import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { graphql, type ExecutionResult } from 'graphql';
import { pino } from 'pino';
import { createTokenVerifier } from '../../src/auth/verifyToken.js';
import { signToken, type TokenClaims } from '../../src/auth/signToken.js';
import type { Viewer } from '../../src/auth/viewer.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { createContext } from '../../src/context.js';
import type { Database } from '../../src/db/database.js';
import type { FeatureStore } from '../../src/features/featureStore.js';
import { createSchema } from '../../src/schema/index.js';
import { createApp } from '../../src/server/app.js';
import { createLogger, loggerOptions, type Logger } from '../../src/platform/logger.js';
import type { Metrics } from '../../src/platform/metrics.js';
import {
  connectRedis,
  createServices,
  openInfrastructure,
  type Services,
} from '../../src/services/services.js';
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

/**
 * The gateway's services on a test database, wired by the same composition root as `npm start`
 * (src/services/services.ts); Redis is connected when REDIS_URL is given and reachable.
 */
export async function createTestServices(
  db: Pick<TestDatabase, 'url'>,
  env: Record<string, string> = {},
  logger?: Logger,
): Promise<Services> {
  const config = testConfig(db, env);
  const infrastructure = openInfrastructure(config, logger ?? createLogger(config), {
    url: db.url,
    onPoolError: () => undefined,
  });
  await connectRedis(infrastructure.redis);
  return createServices(infrastructure);
}

export interface TestGateway {
  app: FastifyInstance;
  config: Config;
  database: Database;
  metrics: Metrics;
  /** The services the app runs on (closed by `close`). */
  services: Services;
  /** A signed HS256 token the gateway accepts. */
  token: (claims: TokenClaims, options?: { expiresIn?: string | number }) => Promise<string>;
  close: () => Promise<void>;
}

/** The real HTTP app (Fastify + Apollo) on a test database; use `app.inject` to call it. */
export async function createTestGateway(
  db: Pick<TestDatabase, 'url'>,
  env: Record<string, string> = {},
): Promise<TestGateway> {
  const services = await createTestServices(db, env);
  const { config } = services;
  const app = await createApp(services, { verifyToken: createTokenVerifier(config.auth) });
  await app.ready();
  return {
    app,
    config,
    database: services.db,
    metrics: services.metrics,
    services,
    token: (claims, options) => signToken(config.auth, claims, options),
    close: async () => {
      await app.close();
      await services.close();
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
  const schema = createSchema();
  // Built synchronously (callers read `database` and `features` at once); Redis connects and the
  // flags load in the background, awaited by the first `execute` and by `close`.
  const infrastructure = openInfrastructure(config, logger, { url: db.url, onPoolError: () => undefined });
  let ready: Services | undefined;
  const servicesReady = connectRedis(infrastructure.redis)
    .then(() => createServices(infrastructure))
    .then((services) => (ready = services));
  // The process's feature store, reachable before the services have finished starting.
  const features: FeatureStore = {
    load: async (kind, ids) => (await servicesReady).features.load(kind, ids),
    invalidate: async (ids) => (await servicesReady).features.invalidate(ids),
    get breakerState() {
      if (!ready) throw new Error('createInProcess: the feature store is not started yet');
      return ready.features.breakerState;
    },
    settled: async () => (await servicesReady).features.settled(),
  };
  let requests = 0;
  return {
    config,
    database: infrastructure.db,
    metrics: infrastructure.metrics,
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
      const services = await servicesReady;
      requests += 1;
      const contextValue = createContext(services, {
        requestId: options.requestId ?? `test-${requests}`,
        viewer: options.viewer ?? { role: 'anonymous', userId: null },
        idempotencyKey: options.idempotencyKey ?? null,
      });
      return (await graphql({
        schema,
        source: sourceOf(source),
        contextValue,
        variableValues: options.variables,
      })) as ExecutionResult<T>;
    },
    close: async () => (await servicesReady).close(),
  };
}
