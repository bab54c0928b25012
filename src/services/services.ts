import { createRoleResolver, serviceRoleLookup, type RoleResolver } from '../auth/effectiveRole.js';
import type { Config } from '../config/config.js';
import { createDatabase, type Database } from '../db/database.js';
import { createReadFences, type ReadFences } from '../db/readFences.js';
import { createReadRouting, fenceTtlMsOf, type ReadRouting } from '../db/replicas.js';
import { createFeatureStore, type FeatureStore } from '../features/featureStore.js';
import { createFeedSettings } from '../feed/feedSettings.js';
import type { FeedSettings } from '../feed/suggestions.js';
import { createFlagStore, type FlagStore } from '../flags/flagStore.js';
import { createTelemetry, type Telemetry } from '../ops/telemetry.js';
import type { Logger } from '../platform/logger.js';
import { createMetrics, type Metrics } from '../platform/metrics.js';
import { createRedis, type RedisClient } from '../platform/redis.js';
import { createQueueWakeups, type QueueWakeups } from '../queue/wakeups.js';
import { createRateLimits, type RateLimits } from '../social/rateLimits.js';

/**
 * The composition root (docs/architecture.md#composition-root). Every gateway — `npm start`, the test
 * gateways and in-process executors, the bench's gateway processes — is wired here and only here:
 * `openInfrastructure` opens the connections, `createServices` builds the long-lived services on them,
 * `createContext` (src/context.ts) hands one request its slice. The worker and the ops CLI open their
 * own connections under their own roles in the same module (src/services/connections.ts).
 */

/** What the services run on: connections and the process-wide logger and metrics. */
export interface Infrastructure {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Postgres under the gateway's role (Prisma, raw SQL and the service path). */
  db: Database;
  /** Optional: without it the gateway runs degraded (docs/architecture.md#redis-outage). */
  redis: RedisClient | null;
  /** The read replicas (DATABASE_READ_URLS; none: every read on `db`). */
  replicas: ReadRouting;
}

/** The long-lived services one gateway process serves requests with. */
export interface Services extends Infrastructure {
  /** Feed policies and the cursor key. */
  feed: FeedSettings;
  /** The Redis-backed feature store (read through the request's loaders; writes invalidate here). */
  features: FeatureStore;
  /** Per-user and per-client budgets shared through Redis. */
  rateLimits: RateLimits;
  /** Each viewer's last write's WAL position, so their reads see it (read replicas only). */
  readFences: ReadFences;
  /** Feature flags, re-read every FLAGS_REFRESH_SEC (at once after a change through this process). */
  flags: FlagStore;
  /** Kernel latency and flag exposure samples, written in batches. */
  telemetry: Telemetry;
  /** A person's role from profiles.role (cached briefly, batched), never the token's claim. */
  roles: RoleResolver;
  /**
   * The write path's "events were enqueued" signal; an in-process worker (WORKER_IN_PROCESS) subscribes
   * its consumers to it, since the embedded database cannot LISTEN for the queue triggers' NOTIFY.
   */
  queueWakeups: QueueWakeups;
  /**
   * Stops the services' timers, writes what they buffer (telemetry, feature write-backs), then closes
   * Redis and Postgres. Call it after the HTTP server has drained. Idempotent.
   */
  close: () => Promise<void>;
}

export interface InfrastructureOptions {
  /** The database URL the gateway uses (the embedded one when it runs on PGlite). */
  url: string;
  /** @default config.database.poolMax */
  poolMax?: number;
  /** The embedded database is one shared session. */
  embedded?: boolean;
  onPoolError?: (error: Error) => void;
  onRedisError?: (error: Error) => void;
}

/**
 * Opens the gateway's pools and its Redis client (not yet connected: `connectRedis` does that, so the
 * gateway can check migrations first). Nothing here throws on an unreachable server.
 */
export function openInfrastructure(
  config: Config,
  logger: Logger,
  options: InfrastructureOptions,
): Infrastructure {
  const db = createDatabase(
    {
      ...config.database,
      url: options.url,
      poolMax: options.poolMax ?? config.database.poolMax,
      embedded: options.embedded ?? false,
    },
    options.onPoolError ?? ((error) => logger.warn({ err: error }, 'idle Postgres connection failed')),
  );
  const redis = createRedis(config.redis, options.onRedisError ?? (() => undefined));
  const metrics = createMetrics();
  const replicas = createReadRouting({
    primary: db,
    primaryUrl: options.url,
    config: config.database,
    metrics,
    logger,
  });
  return { config, logger, metrics, db, redis, replicas };
}

/** Connects Redis if configured; never throws (Redis is optional): a failure is passed to `onFailure`. */
export async function connectRedis(
  redis: RedisClient | null,
  onFailure: (error: unknown) => void = () => undefined,
): Promise<void> {
  await redis?.connect().catch(onFailure);
}

/** Closes what `openInfrastructure` opened, for a start that fails before `createServices`. */
export async function closeInfrastructure(infrastructure: Infrastructure): Promise<void> {
  await infrastructure.replicas.close();
  await infrastructure.db.close();
  infrastructure.redis?.disconnect();
}

/** Builds the gateway's services on its infrastructure (reads the feature flags once before returning). */
export async function createServices(infrastructure: Infrastructure): Promise<Services> {
  const { config, logger, metrics, db, redis, replicas } = infrastructure;
  if (replicas.size > 0) {
    // The first check before serving, so reads can use the replicas from the first request.
    await replicas.check();
    replicas.start();
    if (!redis) {
      logger.warn(
        'read replicas without Redis: read-your-writes holds per gateway only (route a viewer to one gateway)',
      );
    }
  }
  const fenceTtlMs = fenceTtlMsOf(config.database);
  const readFences = createReadFences({
    redis,
    ttlMs: fenceTtlMs,
    onError: (error) => logger.debug({ err: error }, 'read fence lookup failed: reads go to the primary'),
  });
  const telemetry = createTelemetry({
    pool: db.pool,
    logger,
    flushMs: config.ops.telemetryFlushMs,
    onDropped: (n) => metrics.telemetryDropped.inc(n),
  });
  const flags = await createFlagStore({ pool: db.pool, logger, refreshMs: config.flags.refreshSec * 1000 });
  const feed = createFeedSettings(config, { service: db.service, logger, redis, metrics });
  const features = createFeatureStore({
    redis,
    service: db.service,
    options: config.features,
    metrics,
    logger,
    reads:
      replicas.size > 0
        ? {
            pick: (fence) => replicas.pick(fence)?.service ?? null,
            replayedBy: (service) => replicas.replayedBy(service),
            currentLsn: () => replicas.currentLsn(),
            fenceTtlMs,
          }
        : null,
  });
  const rateLimits = createRateLimits({ redis, limits: config.rateLimits, metrics });
  const roles = createRoleResolver({
    lookup: serviceRoleLookup(db.service),
    cacheMs: config.auth.roleCacheMs,
    onQuery: () => metrics.roleQueries.inc(),
  });
  let closing: Promise<void> | undefined;
  return {
    ...infrastructure,
    feed,
    features,
    rateLimits,
    readFences,
    flags,
    telemetry,
    roles,
    queueWakeups: createQueueWakeups(),
    close: () => {
      closing ??= (async () => {
        flags.close();
        feed.stop();
        await Promise.all([telemetry.close(), features.settled()]);
        await closeInfrastructure(infrastructure);
      })();
      return closing;
    },
  };
}
