import pg from 'pg';
import type { Config } from '../config/config.js';
import { withClient } from '../db/checkout.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { createConsumer, type Consumer, type JobHandler } from './consumer.js';
import { featureKeysOf } from '../features/featureKinds.js';
import { openWorkerConnections } from '../services/connections.js';
import { createEventHandler, handleDiscovery, type InvalidateFeatures } from './handlers.js';
import { createLeaseQueue, QUEUES, type QueueName } from '../queue/leaseQueue.js';
import { defaultMaintenanceTasks, runDueMaintenance } from './maintenance.js';
import { createWorkerMetrics } from './workerMetrics.js';
import { rolloutSettingsOf } from '../flags/evaluateRollouts.js';

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

/**
 * One worker process: the events and discovery consumers (each optional) on one pool, woken by LISTEN
 * on a dedicated connection; if that connection drops, polling carries on and it reconnects.
 */
export async function startWorker(config: Config, logger: Logger): Promise<Worker> {
  const consumers = new Map<QueueName, Consumer>();
  const enabled = (['events', 'discovery'] as const).filter((name) => config.worker[name].enabled);
  const poolMax = enabled.reduce((sum, name) => sum + config.worker[name].concurrency, 0) + 2;
  const connections = await openWorkerConnections(config, logger, poolMax);
  const { url, pool, redis } = connections;
  try {
    await ensureNoTemporaryObjects(pool, config.env === 'production', logger);
  } catch (error) {
    await connections.close();
    throw error;
  }
  const metrics = createWorkerMetrics(pool, enabled);
  const invalidate: InvalidateFeatures = async (ids) => {
    const keys = featureKeysOf(ids);
    if (!redis || keys.length === 0) return;
    // Redis down: the keys go stale until their TTL; counted so a dashboard shows it.
    if (redis.status !== 'ready') {
      metrics.invalidationSkipped(keys.length);
      return;
    }
    await redis.del(...keys).catch(() => metrics.invalidationSkipped(keys.length));
  };
  const handlers: Record<QueueName, JobHandler> = {
    events: createEventHandler(invalidate),
    discovery: handleDiscovery,
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
  const listen = async (): Promise<void> => {
    if (stopping) return;
    const client = new pg.Client({ connectionString: url, application_name: 'lodestar-worker-listen' });
    client.on('notification', (message) => {
      for (const [name, consumer] of consumers)
        if (message.channel === `lodestar_${QUEUES[name].table}`) consumer.wake();
    });
    client.on('error', (error) => {
      logger.warn({ err: error }, 'LISTEN connection lost; polling until it is back');
      listener = undefined;
      setTimeout(() => void listen().catch(() => undefined), RELISTEN_MS).unref();
    });
    try {
      await client.connect();
      for (const name of consumers.keys()) await client.query(`LISTEN lodestar_${QUEUES[name].table}`);
      listener = client;
    } catch (error) {
      logger.warn({ err: coerceError(error) }, 'could not LISTEN; polling until it works');
      await client.end().catch(() => undefined);
      setTimeout(() => void listen().catch(() => undefined), RELISTEN_MS).unref();
    }
  };
  await listen();
  for (const consumer of consumers.values()) await consumer.start();
  let maintenance: Promise<unknown> = Promise.resolve();
  const tasks = defaultMaintenanceTasks({
    intervals: config.worker.intervals,
    rollouts: rolloutSettingsOf(config),
    indexBuildTimeoutMs: config.ops.indexBuildTimeoutMs,
  });
  const checkEveryMs = Math.min(MAINTENANCE_CHECK_MS, ...tasks.map((t) => t.intervalMs));
  const checkMaintenance = () => {
    maintenance = runDueMaintenance(pool, tasks, logger.child({ consumer: 'maintenance' })).catch(() => []);
  };
  const maintenanceTimer = config.worker.maintenance
    ? setInterval(checkMaintenance, checkEveryMs)
    : undefined;
  maintenanceTimer?.unref();
  if (config.worker.maintenance) checkMaintenance();
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
      clearInterval(maintenanceTimer);
      await maintenance;
      await Promise.all([...consumers.values()].map((c) => c.stop(deadlineMs)));
      await listener?.end().catch(() => undefined);
      await served?.close();
      await connections.close();
    },
  };
}
