/**
 * OpenTelemetry's entry, loaded before the process's own code: `node --import ./dist/telemetry/register.js
 * dist/main.js` (the start, dev and worker scripts do it). With tracing off (no OTEL_* variable asks
 * for it) it does nothing at all. With it on, it registers the ESM loader hook that lets the pg, ioredis
 * and http instrumentations patch those modules as the application imports them, and starts the SDK
 * (src/telemetry/startTracing.ts) before any of them is loaded.
 *
 * An invalid configuration starts nothing here: the process's own start reports it and exits 2.
 */
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { tracedProcess } from '../platform/tracing.js';

const { role, serviceName } = tracedProcess();

let config: Config | undefined;
try {
  config = loadConfig(process.env, role);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
}

if (config?.tracing.enabled) {
  // Loaded only when on: with tracing off the SDK, exporters and instrumentations cost no memory.
  const { installTracing } = await import('./startTracing.js');
  await installTracing(config.tracing, { defaultServiceName: serviceName });
}
