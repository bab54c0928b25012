import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createTokenVerifier } from '../auth/verifyToken.js';
import type { Config } from '../config/config.js';
import { checkGatewayRole, createDatabase, type Database } from '../db/database.js';
import { migrateUrl, migrationStatus } from '../db/migrator.js';
import { coerceError } from '../errors/errors.js';
import { createApp } from './app.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createRedis } from './redis.js';

export interface Gateway {
  app: FastifyInstance;
  db: Database;
  redis: Redis | null;
  /** The listening address, e.g. http://127.0.0.1:4000 */
  url: string;
  /** Stops accepting, lets in-flight requests finish, then closes Postgres and Redis. */
  stop: () => Promise<void>;
}

/** Refuses to serve a database that is behind the code, unless told to migrate it. */
async function ensureMigrated(config: Config, db: Database, logger: Logger): Promise<void> {
  const client = await db.pool.connect();
  let pending: string[];
  try {
    pending = (await migrationStatus(client)).pending;
  } finally {
    client.release();
  }
  if (pending.length === 0) return;
  if (!config.database.migrateOnStart) {
    throw new Error(
      `the database has ${pending.length} pending migration(s) (${pending.join(', ')}): ` +
        'run `npm run db:migrate`, or start with MIGRATE_ON_START=true',
    );
  }
  await migrateUrl(config.database.migrationUrl, {
    onApplied: (name, ms) => logger.info({ migration: name, ms: Math.round(ms) }, 'migration applied'),
  });
}

/** RLS protects nothing if the gateway's role could bypass it: refuse to start in that case. */
async function ensureRoleIsConfined(db: Database): Promise<void> {
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
}

export async function startGateway(config: Config, logger: Logger): Promise<Gateway> {
  const db = createDatabase(config.database, (error) =>
    logger.warn({ err: error }, 'idle Postgres connection failed'),
  );
  let redisErrorLogged = 0;
  const redis = createRedis(config.redis, (error) => {
    // One line per minute at most while Redis is down, not one per reconnect attempt.
    if (Date.now() - redisErrorLogged < 60_000) return;
    redisErrorLogged = Date.now();
    logger.warn({ err: error }, 'Redis connection error (running degraded while it lasts)');
  });
  try {
    await ensureMigrated(config, db, logger);
    await ensureRoleIsConfined(db);
    if (redis) {
      await redis.connect().catch((error: unknown) => {
        logger.warn({ err: coerceError(error) }, 'Redis is unreachable: running degraded until it is back');
      });
    } else {
      logger.info('REDIS_URL is not set: running without Redis (degraded mode)');
    }
    const app = await createApp({
      config,
      logger,
      db,
      redis,
      metrics: createMetrics(),
      verifyToken: createTokenVerifier(config.auth),
    });
    const url = await app.listen({ host: config.host, port: config.port });
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
        await db.close();
        redis?.disconnect();
      })();
      return stopping;
    };
    return { app, db, redis, url, stop };
  } catch (error) {
    await db.close();
    redis?.disconnect();
    throw error;
  }
}
