// The gateway process: reads the environment, starts serving, stops gracefully on SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config/config.js';
import { coerceError } from './errors/errors.js';
import { startGateway } from './server/gateway.js';
import { createLogger } from './platform/logger.js';
import { flushTraces, logTracing } from './platform/tracing.js';
import { startInProcessWorker, type Worker } from './worker/startWorker.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`lodestar: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

const logger = createLogger(config);

try {
  const gateway = await startGateway(config, logger);
  // The signal handlers go in before anything says the gateway is up: a SIGTERM from then on (an
  // orchestrator, a test) drains it, instead of the default action ending it mid-start of the worker.
  let worker: Worker | undefined;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    // The worker first: its in-flight items finish (or are released) while the connections are open.
    // Half the deadline at most, so the gateway's drain keeps the other half.
    const stopWorker = worker?.stop(config.shutdownTimeoutMs / 2) ?? Promise.resolve();
    stopWorker
      .then(() => gateway.stop())
      // The last spans (the drain's own) reach the collector before the process ends.
      .then(() => flushTraces())
      .then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: coerceError(error) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  logger.info(
    {
      url: `${gateway.url}/graphql`,
      metrics: gateway.metricsUrl ?? 'off (set METRICS_PORT)',
      env: config.env,
    },
    'Lodestar gateway is listening',
  );
  if (config.graphql.ide) logger.info({ url: `${gateway.url}/graphiql` }, 'GraphQL IDE (open in a browser)');
  if (config.graphql.demoPage)
    logger.info({ url: `${gateway.url}/demo` }, 'web feed page (open in a browser)');
  if (config.graphql.consolePage)
    logger.info({ url: `${gateway.url}/console` }, 'ops console for admins (open in a browser)');
  logTracing(config, logger);
  if (gateway.demoTokens) {
    // Development only (never in production): ready-made logins for the seeded demo accounts.
    logger.info(
      { user: `Bearer ${gateway.demoTokens.user}`, admin: `Bearer ${gateway.demoTokens.admin}` },
      'demo tokens for the Authorization header (handles "demo" and "admin")',
    );
  }

  try {
    worker = config.worker.inProcess ? await startInProcessWorker(config, logger, gateway) : undefined;
  } catch (error) {
    // Stopped while the worker was starting: the shutdown under way ends the process.
    if (!stopping) {
      await gateway.stop();
      throw error;
    }
  }
  if (!worker)
    logger.info('WORKER_IN_PROCESS is off: run the worker (npm run worker) for queues and maintenance');
} catch (error) {
  logger.fatal({ err: coerceError(error) }, `cannot start: ${coerceError(error).message}`);
  process.exit(1);
}
