import type { IncomingMessage } from 'node:http';
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Config } from '../config/config.js';

export type TracingConfig = Config['tracing'];

/** Query parameters whose values never reach a span (GraphQL over GET, the privacy export). */
const redactedQueryParams = [
  'query',
  'variables',
  'extensions',
  'operationName',
  'userId',
  'access_token',
  'token',
];

/** Paths probed by load balancers and scrapers every few seconds: no trace of their own. */
const untracedPaths = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The SDK's own warnings (an export that failed, a full span queue) on stderr as JSON lines like the
 * rest of the logs, at most one a minute per message: a collector that is away is said, not shouted.
 * Header values never reach them (the exporters do not log their headers).
 */
function throttledDiagLogger(): DiagLogger {
  const lastAt = new Map<string, number>();
  const write =
    (level: string) =>
    (message: string, ...args: unknown[]) => {
      const now = Date.now();
      if ((lastAt.get(message) ?? 0) > now - 60_000) return;
      lastAt.set(message, now);
      if (lastAt.size > 100) lastAt.clear();
      const detail = args
        .map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : ''))
        .filter(Boolean);
      process.stderr.write(
        `${JSON.stringify({ level, time: new Date(now).toISOString(), service: 'opentelemetry', msg: message, detail: detail.join('; ').slice(0, 500) })}\n`,
      );
    };
  const ignore = () => undefined;
  return { error: write('error'), warn: write('warn'), info: ignore, debug: ignore, verbose: ignore };
}

export interface Tracing {
  /** Exports what is still buffered and stops recording (before the process exits). */
  shutdown(): Promise<void>;
}

function samplerOf(config: TracingConfig): Sampler {
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(config.samplerRatio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerRatio) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function exporterOf(config: TracingConfig): SpanExporter {
  if (config.exporter === 'console') return new ConsoleSpanExporter();
  const options = { url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs };
  return config.protocol === 'http/json' ? new OtlpJsonExporter(options) : new OtlpProtoExporter(options);
}

/**
 * The instrumentations Lodestar traces with: incoming HTTP (one server span per request, probes left
 * out), every pg query (named by its statement; parameters never recorded) and every ioredis command
 * (values left out by the instrumentation's serializer). SQL and Redis spans are made only inside a
 * trace: a background refresh of a shared pool is not a trace of its own.
 */
export function lodestarInstrumentations() {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request: IncomingMessage) =>
        untracedPaths.has((request.url ?? '').split('?')[0] ?? ''),
      // A GET query's document and variables (handles, ids, search text), an export's userId: the
      // span's URL keeps the parameter names only.
      redactedQueryParamsServer: redactedQueryParams,
      // The gateway's own outgoing HTTP is the exporter's (already suppressed) and token key fetches.
      requireParentforOutgoingSpans: true,
    }),
    new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    // The command name only: keys hold person ids and arguments feature values (an EVAL's whole JSON).
    new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
  ];
}

/**
 * Starts the OpenTelemetry SDK: a tracer provider with the configured sampler and exporter (batched,
 * off the request path), the W3C trace-context propagator and AsyncLocalStorage context, and the
 * instrumentations. `spanProcessors` replaces the exporter (tests record spans in memory).
 */
export function startTracing(
  config: TracingConfig,
  options: { defaultServiceName: string; spanProcessors?: SpanProcessor[] },
): Tracing {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      ...config.resourceAttributes,
      [ATTR_SERVICE_NAME]:
        config.serviceName ?? config.resourceAttributes[ATTR_SERVICE_NAME] ?? options.defaultServiceName,
    }),
    sampler: samplerOf(config),
    spanProcessors: options.spanProcessors ?? [new BatchSpanProcessor(exporterOf(config))],
  });
  // tracecontext: W3C trace context (and baggage) in and out; none: no propagator, so a caller's
  // traceparent is ignored and the sampler decides every trace here.
  provider.register(config.propagation === 'none' ? { propagator: null } : {});
  diag.setLogger(throttledDiagLogger(), DiagLogLevel.WARN);
  const unregister = registerInstrumentations({ instrumentations: lodestarInstrumentations() });
  return {
    async shutdown() {
      unregister();
      await provider.shutdown();
    },
  };
}

/**
 * For a process entry loaded with `--import`, before the application's own modules: registers the ESM
 * loader hook for the modules the instrumentations patch (only those go through its wrapper), starts
 * tracing, and returns once the loader knows them, so the first `import pg` is already patched.
 */
export async function installTracing(
  config: TracingConfig,
  options: { defaultServiceName: string; spanProcessors?: SpanProcessor[] },
): Promise<Tracing> {
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const tracing = startTracing(config, options);
  await waitForAllMessagesAcknowledged();
  return tracing;
}
