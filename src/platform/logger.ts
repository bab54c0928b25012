import type { FastifyBaseLogger } from 'fastify';
import { pino, type LoggerOptions } from 'pino';
import type { Config } from '../config/config.js';
import { traceFields } from './tracing.js';

/** The logger resolvers and services see (pino's API, as Fastify exposes it per request). */
export type Logger = FastifyBaseLogger;

/** JSON logs on stdout; credentials in headers never reach them. */
export function loggerOptions(config: Pick<Config, 'logLevel'>): LoggerOptions {
  return {
    level: config.logLevel,
    base: { service: 'lodestar-gateway' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.token'], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    // The active trace's ids on every line (none while tracing is off): from a log line to its trace.
    mixin: traceFields,
  };
}

/** Synchronous writes: a line logged just before a crash or a signal is never lost in a buffer. */
export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino(loggerOptions(config), pino.destination({ dest: 1, sync: true }));
}
