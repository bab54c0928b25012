import pg from 'pg';
import { deleteMany, setManyPx, type RedisClient } from '../platform/redis.js';
import { currentWalLsn, fenceTtlMsOf } from '../db/replicas.js';
import { tombstoneOf } from '../features/featureStore.js';
import type { Config } from '../config/config.js';
import { createSharedRolePool, withClient } from '../db/checkout.js';
import type { Database } from '../db/database.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { createConsumer, type Consumer, type JobHandler } from './consumer.js';
import { featureKeysOf } from '../features/featureKinds.js';
import { openWorkerConnections } from '../services/connections.js';
import { createDiscoveryHandler, createEventHandler, type InvalidateFeatures } from './handlers.js';
import { createLeaseQueue, QUEUES, type QueueName } from '../queue/leaseQueue.js';
import type { QueueWakeups } from '../queue/wakeups.js';
import { defaultMaintenanceTasks, runDueMaintenance, type MaintenanceBounds } from './maintenance.js';
import { createWorkerMetrics } from './workerMetrics.js';
import { rolloutSettingsOf } from '../flags/evaluateRollouts.js';
import { startErasureLoop } from '../privacy/erasureJob.js';
import { COENGAGEMENT_PARAMS } from '../feed/coengagement.js';
import { fixedRankerWeights } from '../feed/ranking.js';

/** How often a worker looks for due maintenance at most (the tasks themselves run minutes to weeks apart). */
const MAINTENANCE_CHECK_MS = 60_000;

/**
 * A role that may create temporary objects can shadow tables for code that searches pg_temp first.
 * The migrator revokes TEMPORARY from PUBLIC; production refuses to run while the worker's role still
 * has it (other environments warn).
 */
async function ensureNoTemporaryObjects(pool: pg.Pool, production: boolean, logger: Logger): Promise<void> {
  const { rows } = await withClient(pool, (client) =>
    client.query<{ role: string; temporary: boolean }>(
      `SELECT current_user AS role, has_database_privilege(current_user, current_database(), 'TEMPORARY') AS temporary`,
    ),
  );
  const row = rows[0];
  if (!row?.temporary) return;
  const message =
    `the worker's role "${row.role}" may create temporary objects on this database: run the migrator ` +
    '(npm run db:migrate), which revokes TEMPORARY from PUBLIC, or revoke it by hand';
  if (production) throw new Error(message);
  logger.warn(`${message} (refused in production)`);
}

export interface Worker {
  /** The port serving GET /metrics, when WORKER_METRICS_PORT is set. */
  metricsPort: number | null;
  /** Stops claiming, lets in-flight items finish within the deadline, releases the rest, closes. */
  stop: (deadlineMs: number) => Promise<void>;
}

const RELISTEN_MS = 2000;

/** Where runWorker does its work: connections someone else opened (and closes). */
export interface WorkerRun {
  config: Config;
  logger: Logger;
  pool: pg.Pool;
  /** Only to drop cached features the worker's changes made stale. */
  redis: RedisClient | null;
  /** A URL for a dedicated LISTEN connection; without it the consumers only poll (WORKER_POLL_MS). */
  listenUrl?: string;
  /** Maintenance tasks this worker leaves to another (by name). */
  skipTasks?: readonly string[];
  /** Wake-ups from writes in this process (the in-process worker's stand-in for LISTEN). */
  wakeups?: Pick<QueueWakeups, 'subscribe'>;
  /** Size bounds of maintenance runs, for a worker whose connection requests share. */
  bounds?: MaintenanceBounds;
  /**
   * Invalidate features with tombstones holding the primary's WAL position (one statement each), so
   * gateways with read replicas never refill them from a replica behind the change. Off on the embedded
   * database, which has no replicas. @default true
   */
  tombstones?: boolean;
}

/** The consumers the config enables, and the pool size they need to each hold a connection. */
function enabledConsumers(config: Config): { enabled: QueueName[]; poolMax: number } {
  const enabled = (['events', 'discovery'] as const).filter((name) => config.worker[name].enabled);
  return { enabled, poolMax: enabled.reduce((sum, name) => sum + config.worker[name].concurrency, 0) + 2 };
}

/**
 * One worker process: its own connections under the worker's role, and runWorker on them.
 */
export async function startWorker(config: Config, logger: Logger): Promise<Worker> {
  const connections = await openWorkerConnections(config, logger, enabledConsumers(config).poolMax);
  const { url, pool, redis } = connections;
  try {
    await ensureNoTemporaryObjects(pool, config.env === 'production', logger);
    const worker = await runWorker({ config, logger, pool, redis, listenUrl: url });
    return {
      metricsPort: worker.metricsPort,
      stop: async (deadlineMs) => {
        await worker.stop(deadlineMs);
        await connections.close();
      },
    };
  } catch (error) {
    await connections.close();
    throw error;
  }
}

/**
 * Maintenance the in-process worker leaves out on the embedded database: measuring recall is one long
 * transaction of exact searches (seconds on the demo data) that would hold the gateway's one connection
 * and time requests out; it is a diagnostic, run by `npm run worker` on a real Postgres.
 */
const EMBEDDED_SKIPPED_TASKS = ['measure_vector_recall'];

/**
 * Requests first on the embedded database's one connection: the in-process worker hands the connection
 * on to requests that queued for it while it waited, for at most this long per checkout, then takes it
 * (so under constant request load it is slowed down, never starved). See createSharedRolePool.
 */
const EMBEDDED_GIVE_WAY_MS = 100;

/**
 * Maintenance on the embedded database holds the one connection for its whole transaction, and
 * statement_timeout does not fire on PGlite: what grows with the data is cut to runs of bounded size
 * (docs/architecture.md#embedded-default lists every task and its bound). 2,000 rows of GC take tens of
 * milliseconds there; an ivfflat build over 10,000 rows a few hundred; the co-engagement of 200 listings
 * is one rebuild batch.
 */
const EMBEDDED_BOUNDS: MaintenanceBounds = {
  gcRowsPerRun: 2000,
  maxIndexBuildRows: 10_000,
  rankerRows: 20_000,
  coengagementListingsPerRun: 200,
};

/**
 * The worker inside the gateway process (WORKER_IN_PROCESS). On a real Postgres it is a worker like any
 * other, on its own connections. On the embedded database (one session) it shares the gateway's pool:
 * each of its transactions switches to the worker's role and the service identity locally (see
 * createSharedRolePool), it polls (no second session to LISTEN on), and each consumer works on one item
 * at a time, as more would only queue on the one connection ahead of requests.
 */
export async function startInProcessWorker(
  config: Config,
  logger: Logger,
  gateway: { db: Database; redis: RedisClient | null; embedded: unknown; queueWakeups?: QueueWakeups },
): Promise<Worker> {
  const log = logger.child({ worker: 'in-process' });
  if (!gateway.embedded) return startWorker(config, log);
  const pool = createSharedRolePool(
    gateway.db.pool,
    config.worker.role,
    { 'lodestar.role': 'service' },
    { giveWayMs: EMBEDDED_GIVE_WAY_MS },
  );
  const worker = {
    ...config.worker,
    events: { ...config.worker.events, concurrency: 1 },
    discovery: { ...config.worker.discovery, concurrency: 1 },
  };
  return runWorker({
    config: { ...config, worker },
    logger: log,
    pool,
    redis: gateway.redis,
    skipTasks: EMBEDDED_SKIPPED_TASKS,
    bounds: EMBEDDED_BOUNDS,
    tombstones: false,
    // No LISTEN on the embedded database: the gateway's writes wake the consumers instead, so a like
    // is taken at once rather than at the next poll.
    wakeups: gateway.queueWakeups,
  });
}

/**
 * The events and discovery consumers (each optional) and the maintenance schedule on a given pool,
 * woken by LISTEN on a dedicated connection when given one; if that connection drops, polling carries
 * on and it reconnects. Stopping leaves the pool and Redis open (their opener closes them).
 */
export async function runWorker(run: WorkerRun): Promise<Worker> {
  const { config, logger, pool, redis, listenUrl, skipTasks = [], wakeups, bounds, tombstones = true } = run;
  const consumers = new Map<QueueName, Consumer>();
  const { enabled } = enabledConsumers(config);
  const metrics = createWorkerMetrics(pool, enabled);
  const invalidate: InvalidateFeatures = async (ids) => {
    const keys = featureKeysOf(ids);
    if (!redis || keys.length === 0) return;
    // Redis down: the keys go stale until their TTL; counted so a dashboard shows it.
    if (redis.status !== 'ready') {
      metrics.invalidationSkipped(keys.length);
      return;
    }
    // A tombstone holding the primary's WAL position, not a deletion: a gateway with read replicas then
    // computes these features only where this change is visible (src/features/featureStore.ts). Without
    // replicas a tombstone is a miss like a deleted key.
    const fence = tombstones ? await currentWalLsn(pool).catch(() => null) : null;
    if (fence === null) {
      await deleteMany(redis, keys).catch(() => metrics.invalidationSkipped(keys.length));
      return;
    }
    const value = tombstoneOf(fence);
    const ttlMs = fenceTtlMsOf(config.database);
    const failed = await setManyPx(
      redis,
      keys.map((key) => ({ key, value, ttlMs })),
    );
    if (failed > 0) metrics.invalidationSkipped(failed);
  };
  const handlers: Record<QueueName, JobHandler> = {
    events: createEventHandler(invalidate),
    discovery: createDiscoveryHandler(config.database.ivfflatProbes),
  };
  for (const name of enabled) {
    const queue = createLeaseQueue(name);
    const { concurrency } = config.worker[name];
    const log = logger.child({ consumer: name });
    consumers.set(
      name,
      createConsumer({
        pool,
        leaseMs: config.worker.leaseMs,
        pollMs: config.worker.pollMs,
        queue,
        handler: handlers[name],
        logger: log,
        concurrency,
        onOutcome: (outcome, _item, ms) => metrics.count(name, outcome, ms),
      }),
    );
  }

  let listener: pg.Client | undefined;
  let stopping = false;
  const listen = async (url: string): Promise<void> => {
    if (stopping) return;
    const client = new pg.Client({ connectionString: url, application_name: 'lodestar-worker-listen' });
    client.on('notification', (message) => {
      for (const [name, consumer] of consumers)
        if (message.channel === `lodestar_${QUEUES[name].table}`) consumer.wake();
    });
    client.on('error', (error) => {
      logger.warn({ err: error }, 'LISTEN connection lost; polling until it is back');
      listener = undefined;
      setTimeout(() => void listen(url).catch(() => undefined), RELISTEN_MS).unref();
    });
    try {
      await client.connect();
      for (const name of consumers.keys()) await client.query(`LISTEN lodestar_${QUEUES[name].table}`);
      listener = client;
    } catch (error) {
      logger.warn({ err: coerceError(error) }, 'could not LISTEN; polling until it works');
      await client.end().catch(() => undefined);
      setTimeout(() => void listen(url).catch(() => undefined), RELISTEN_MS).unref();
    }
  };
  if (listenUrl) await listen(listenUrl);
  const unsubscribe = [...consumers].map(([name, consumer]) =>
    wakeups ? wakeups.subscribe(name, () => consumer.wake()) : () => false,
  );
  for (const consumer of consumers.values()) await consumer.start();
  let maintenance: Promise<unknown> = Promise.resolve();
  const tasks = defaultMaintenanceTasks({
    intervals: config.worker.intervals,
    rollouts: rolloutSettingsOf(config),
    indexBuildTimeoutMs: config.ops.indexBuildTimeoutMs,
    ivfflatProbes: config.database.ivfflatProbes,
    ranker: {
      minEvents: config.feed.rankerMinEvents,
      attributionMinutes: config.feed.likeAttributionMinutes,
      // The weights the gateway serves until a model is stored: what a model must beat and is pulled to.
      training: { prior: fixedRankerWeights(config.feed.rankerWeights) },
    },
    ...(bounds ? { bounds } : {}),
  }).filter((task) => !skipTasks.includes(task.name));
  const checkEveryMs = Math.min(MAINTENANCE_CHECK_MS, ...tasks.map((t) => t.intervalMs));
  const checkMaintenance = () => {
    maintenance = runDueMaintenance(pool, tasks, logger.child({ consumer: 'maintenance' })).catch(() => []);
  };
  const maintenanceTimer = config.worker.maintenance
    ? setInterval(checkMaintenance, checkEveryMs)
    : undefined;
  maintenanceTimer?.unref();
  if (config.worker.maintenance) checkMaintenance();
  // Account erasures (docs/privacy.md#erasure) go with the events consumer: both undo and redo what
  // people's writes did, and one connection at a time is enough for either.
  const erasures = config.worker.events.enabled
    ? startErasureLoop(pool, redis, {
        pollMs: config.worker.pollMs,
        leaseMs: config.worker.leaseMs,
        batch: config.worker.erasureBatch,
        // Requests of the person already past the role check on another gateway finish first.
        settleMs: config.auth.roleCacheMs + config.database.statementTimeoutMs,
        coengagement: COENGAGEMENT_PARAMS,
        invalidate,
        redisKeyPrefix: config.redis.keyPrefix,
        logger: logger.child({ consumer: 'erasure' }),
      })
    : undefined;
  const served =
    config.worker.metricsPort === undefined
      ? null
      : await metrics.serve(config.host, config.worker.metricsPort);
  logger.info(
    {
      consumers: [...consumers.keys()],
      leaseMs: config.worker.leaseMs,
      metrics: served ? `http://${config.host}:${served.port}/metrics` : 'off (set WORKER_METRICS_PORT)',
    },
    'Lodestar worker is running',
  );

  return {
    metricsPort: served?.port ?? null,
    stop: async (deadlineMs) => {
      stopping = true;
      for (const off of unsubscribe) off();
      clearInterval(maintenanceTimer);
      await maintenance;
      await Promise.all([...consumers.values()].map((c) => c.stop(deadlineMs)));
      await erasures?.stop();
      await listener?.end().catch(() => undefined);
      await served?.close();
    },
  };
}
