import type pg from 'pg';
import type { Config } from '../config/config.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { createPool } from '../platform/pool.js';
import { createRedis, type RedisClient } from '../platform/redis.js';

/**
 * What the processes other than the gateway connect to, beside the gateway's own in services.ts: each
 * process's pool (role, session settings, application name) is spelled here once.
 */

/** The worker's connections: its pool under WORKER_DATABASE_ROLE and the optional Redis. */
export interface WorkerConnections {
  url: string;
  pool: pg.Pool;
  /** Only to drop cached features the worker's changes made stale. */
  redis: RedisClient | null;
  close: () => Promise<void>;
}

/** The URL the worker and the ops CLI use (WORKER_DATABASE_URL, else MIGRATION_DATABASE_URL, else DATABASE_URL). */
export function workerUrlOf(config: Config): string {
  const url = config.worker.databaseUrl;
  if (!url) throw new Error('the worker needs WORKER_DATABASE_URL, MIGRATION_DATABASE_URL or DATABASE_URL');
  return url;
}

/** Opens the worker's pool (`max` connections) and connects its Redis; Redis failing only warns. */
export async function openWorkerConnections(
  config: Config,
  logger: Logger,
  max: number,
): Promise<WorkerConnections> {
  const url = workerUrlOf(config);
  const pool = createPool({
    url,
    // The worker's own role (not the owner's), acting as the service identity for RLS.
    role: config.worker.role,
    settings: { statement_timeout: config.database.statementTimeoutMs, 'lodestar.role': 'service' },
    applicationName: 'lodestar-worker',
    max,
    onError: (error) => logger.warn({ err: error }, 'idle worker connection lost'),
  });
  const redis = createRedis(config.redis, () => undefined);
  await redis
    ?.connect()
    .catch((error: unknown) =>
      logger.warn(
        { err: coerceError(error) },
        'Redis is unreachable: cached features expire by TTL meanwhile',
      ),
    );
  return {
    url,
    pool,
    redis,
    close: async () => {
      redis?.disconnect();
      await pool.end();
    },
  };
}

/**
 * The ops CLI's pool: the worker's URL with its login role's own rights (maintenance actions such as
 * index rebuilds need the owner). Two connections; an idle one failing never ends the CLI.
 */
export function openOpsPool(config: Config): pg.Pool {
  return createPool({
    url: workerUrlOf(config),
    applicationName: 'lodestar-ops-cli',
    max: 2,
    onError: () => undefined,
  });
}
