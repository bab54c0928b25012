// The worker process (npm run worker): queue consumers until SIGTERM/SIGINT, then a graceful drain.
import { ConfigError, loadConfig } from '../config/config.js';
import { coerceError } from '../errors/errors.js';
import { createLogger } from '../platform/logger.js';
import { flushTraces, logTracing } from '../platform/tracing.js';
import { startWorker } from './startWorker.js';

let config;
try {
  config = loadConfig(process.env, 'worker');
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`lodestar worker: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

const logger = createLogger(config).child({ process: 'worker' });
logTracing(config, logger);

try {
  const worker = await startWorker(config, logger);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker stopping: no new claims, finishing in-flight items');
    worker
      .stop(config.shutdownTimeoutMs)
      .then(() => flushTraces())
      .then(
        () => {
          logger.info('worker stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: coerceError(error) }, 'worker did not stop cleanly');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
} catch (error) {
  logger.fatal({ err: coerceError(error) }, 'the worker could not start');
  process.exit(1);
}
