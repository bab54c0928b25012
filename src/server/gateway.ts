import type { FastifyInstance } from 'fastify';
import type { RedisClient } from '../platform/redis.js';
import { createTokenVerifier } from '../auth/verifyToken.js';
import type { Config } from '../config/config.js';
import { withClient } from '../db/checkout.js';
import { checkGatewayRole, type Database } from '../db/database.js';
import type { QueueWakeups } from '../queue/wakeups.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded.js';
import { migrateUrl, migrationStatus } from '../db/migrator.js';
import { coerceError } from '../errors/errors.js';
import { createApp } from './app.js';
import { demoTokens, developmentJwtSecret, seedDemoDataIfEmpty, type DemoTokens } from './devSupport.js';
import type { Logger } from '../platform/logger.js';
import { serveMetrics, type MetricsServer } from '../platform/metricsServer.js';
import {
  closeInfrastructure,
  connectRedis,
  createServices,
  openInfrastructure,
  type Services,
} from '../services/services.js';

export interface Gateway {
  app: FastifyInstance;
  db: Database;
  redis: RedisClient | null;
  /** The listening address, e.g. http://127.0.0.1:4000 */
  url: string;
  /** Where Prometheus scrapes: METRICS_PORT's /metrics, the public port's outside production, else undefined. */
  metricsUrl: string | undefined;
  /** Set when the gateway runs on its embedded database. */
  embedded: EmbeddedPostgres | undefined;
  /** Development only: tokens for the seeded demo user and admin. */
  demoTokens: DemoTokens | undefined;
  /** Its writes' "events enqueued" signal, for a worker in this process (startInProcessWorker). */
  queueWakeups: QueueWakeups;
  /** Stops accepting, lets in-flight requests finish, then closes Postgres and Redis. */
  stop: () => Promise<void>;
}

/** Refuses to serve a database that is behind the code, unless told to migrate it. */
async function ensureMigrated(db: Database, migrationUrl: string, migrateOnStart: boolean, logger: Logger) {
  const { pending } = await withClient(db.pool, (client) => migrationStatus(client));
  if (pending.length === 0) return;
  if (!migrateOnStart) {
    throw new Error(
      `the database has ${pending.length} pending migration(s) (${pending.join(', ')}): ` +
        'run `npm run db:migrate`, or start with MIGRATE_ON_START=true',
    );
  }
  await migrateUrl(migrationUrl, {
    onApplied: (name, ms) => logger.info({ migration: name, ms: Math.round(ms) }, 'migration applied'),
  });
}

/**
 * RLS protects nothing if the gateway's role could bypass it: refuse to start in that case. In
 * production the login role (session_user) must not be able to bypass it either — an injected
 * `RESET ROLE` would return to it — and no gateway role may create temporary objects (they could
 * shadow tables). Development, tests and the embedded database (one superuser session narrowed with
 * SET ROLE) only warn about those two.
 */
async function ensureRoleIsConfined(db: Database, production: boolean, logger: Logger): Promise<void> {
  const role = await checkGatewayRole(db.pool);
  const problems = [
    role.superuser && 'is a superuser',
    role.bypassRls && 'has BYPASSRLS',
    role.ownsTables && 'owns tables in schema public',
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new Error(
      `the gateway's database role "${role.currentUser}" ${problems.join(' and ')}, so row-level security ` +
        'would not apply: set DATABASE_ROLE=lodestar_app (the default) or connect as a member of lodestar_app',
    );
  }
  const loginProblems = [
    role.sessionSuperuser && 'is a superuser',
    role.sessionBypassRls && 'has BYPASSRLS',
    role.sessionOwnsTables && 'owns tables in schema public',
  ].filter(Boolean);
  const refusals: string[] = [];
  if (loginProblems.length > 0) {
    refusals.push(
      `the login role "${role.sessionUser}" ${loginProblems.join(' and ')}, which a RESET ROLE would regain: ` +
        'log in as a role that is only a member of lodestar_app (see docs/security.md)',
    );
  }
  if (role.temporaryRoles.length > 0) {
    refusals.push(
      `the role(s) ${role.temporaryRoles.join(', ')} may create temporary objects on this database: run the ` +
        'migrator (npm run db:migrate), which revokes TEMPORARY from PUBLIC, or revoke it by hand',
    );
  }
  if (refusals.length === 0) return;
  if (production) throw new Error(refusals.join('; '));
  for (const refusal of refusals) logger.warn(`${refusal} (refused in production)`);
}

/**
 * No DATABASE_URL: start PGlite, migrate it with the same migrator, load the demo data into an empty
 * database, then confine its one shared session to the gateway role.
 */
async function startEmbedded(config: Config, logger: Logger): Promise<EmbeddedPostgres> {
  const started = performance.now();
  const embedded = await startEmbeddedPostgres(config.database.embeddedDataDir);
  try {
    await migrateUrl(embedded.url, {
      onApplied: (name, ms) => logger.info({ migration: name, ms: Math.round(ms) }, 'migration applied'),
    });
    if (config.database.seedDemoData) await seedDemoDataIfEmpty(embedded.url, logger);
    await embedded.confineSession(
      config.database.role,
      config.database.statementTimeoutMs,
      config.database.sessionSettings,
    );
  } catch (error) {
    await embedded.close();
    throw error;
  }
  logger.info(
    { dataDir: embedded.dataDir, ms: Math.round(performance.now() - started) },
    'no DATABASE_URL: running on the embedded database (PGlite + pgvector); set DATABASE_URL for a real Postgres',
  );
  return embedded;
}

export async function startGateway(baseConfig: Config, logger: Logger): Promise<Gateway> {
  let config = baseConfig;
  if (!config.auth.jwtSecret && !config.auth.jwksUrl) {
    config = { ...config, auth: { ...config.auth, jwtSecret: await developmentJwtSecret(config) } };
    logger.warn('JWT_SECRET is not set: using a generated development secret (never do this in production)');
  }
  const embedded = config.database.url ? undefined : await startEmbedded(config, logger);
  const url = embedded?.url ?? config.database.url ?? '';
  let redisErrorLogged = 0;
  const infrastructure = openInfrastructure(config, logger, {
    url,
    // PGlite is a single session: one pooled connection, so transactions never interleave.
    poolMax: embedded ? 1 : config.database.poolMax,
    embedded: embedded !== undefined,
    onRedisError: (error) => {
      // One line per minute at most while Redis is down, not one per reconnect attempt.
      if (Date.now() - redisErrorLogged < 60_000) return;
      redisErrorLogged = Date.now();
      logger.warn({ err: error }, 'Redis connection error (running degraded while it lasts)');
    },
  });
  const { db, redis } = infrastructure;
  let services: Services | undefined;
  try {
    await ensureMigrated(db, config.database.migrationUrl ?? url, config.database.migrateOnStart, logger);
    await ensureRoleIsConfined(db, config.env === 'production', logger);
    if (redis) {
      await connectRedis(redis, (error) => {
        logger.warn({ err: coerceError(error) }, 'Redis is unreachable: running degraded until it is back');
      });
    } else {
      logger.info('REDIS_URL and REDIS_CLUSTER_NODES are not set: running without Redis (degraded mode)');
    }
    const tokens = config.env === 'development' ? await demoTokens(db.pool, config.auth) : undefined;
    const running = await createServices(infrastructure);
    services = running;
    const { metrics } = running;
    const app = await createApp(running, {
      verifyToken: createTokenVerifier(config.auth),
      ideHeaders: tokens ? { authorization: `Bearer ${tokens.user}` } : undefined,
      demoToken: tokens?.user,
      demoAdminToken: tokens?.admin,
    });
    const listening = await app.listen({ host: config.host, port: config.port });
    let metricsServer: MetricsServer | undefined;
    if (config.metrics.port !== undefined) {
      try {
        metricsServer = await serveMetrics(metrics.registry, config.metrics.host, config.metrics.port);
      } catch (error) {
        await app.close();
        throw error;
      }
    } else if (!config.metrics.onPublicPort) {
      logger.warn(
        'METRICS_PORT is not set: no /metrics endpoint (production never serves it on the public port)',
      );
    }
    const metricsUrl =
      metricsServer?.url ?? (config.metrics.onPublicPort ? `${listening}/metrics` : undefined);
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        // Keep-alive connections that finish their last request while we drain would otherwise hold
        // the close open until their keep-alive timeout: close each one as soon as it goes idle.
        const sweeper = setInterval(() => app.server.closeIdleConnections(), 100);
        try {
          await app.close();
        } finally {
          clearInterval(sweeper);
        }
        // Scraped until the public port has drained, so the drain itself shows in the metrics.
        await metricsServer?.close();
        await running.close();
        await embedded?.close();
      })();
      return stopping;
    };
    return {
      app,
      db,
      redis,
      url: listening,
      metricsUrl,
      embedded,
      demoTokens: tokens,
      queueWakeups: running.queueWakeups,
      stop,
    };
  } catch (error) {
    await (services ? services.close() : closeInfrastructure(infrastructure));
    await embedded?.close();
    throw error;
  }
}
