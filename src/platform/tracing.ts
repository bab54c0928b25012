import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';

/**
 * Lodestar's own spans (the GraphQL operation, costly resolvers, worker items, maintenance tasks).
 * Without a started SDK (src/telemetry/register.ts, only when OTEL_* says so) the API hands out
 * no-op spans: each call here costs a function call and nothing is recorded.
 */
export const tracer = trace.getTracer('lodestar');

export { SpanKind };
export type { Span };

/** Marks a span failed with the error that ended it. */
export function failSpan(span: Span, error: unknown): void {
  const exception = error instanceof Error ? error : new Error(String(error));
  span.recordException(exception);
  span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
}

/**
 * Runs `work` in a span that is active for everything it awaits (its SQL and Redis spans nest
 * under it), ended when the work settles; a throw marks it failed and is rethrown. `root` starts a
 * new trace (a worker item is not part of whatever loop picked it up).
 */
export async function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
  options: { kind?: SpanKind; root?: boolean } = {},
): Promise<T> {
  const parent = options.root ? ROOT_CONTEXT : context.active();
  return tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes },
    parent,
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        failSpan(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * The active trace for a log line (the pino mixin): `trace_id` and `span_id`, the names OpenTelemetry's
 * log correlation uses, so a line found in the logs leads to its trace and back. Empty outside a
 * sampled-or-not recorded trace (tracing off: always empty).
 */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

/**
 * Exports the spans still buffered (at shutdown, before process.exit), waiting at most `timeoutMs`:
 * a collector that is away never holds a stop up. Nothing to do while tracing is off.
 */
export async function flushTraces(timeoutMs = 2000): Promise<void> {
  // The global provider is a proxy; its delegate is the SDK's provider once one is registered.
  const delegate = (
    trace.getTracerProvider() as { getDelegate?: () => { forceFlush?: () => Promise<void> } }
  ).getDelegate?.();
  if (!delegate?.forceFlush) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    delegate.forceFlush().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One line at start saying whether spans are exported, where, and which are kept (no header values). */
export function logTracing(
  config: {
    tracing: {
      enabled: boolean;
      exporter: string;
      url: string;
      sampler: string;
      samplerRatio: number;
      propagation: string;
    };
  },
  logger: { info: (fields: object, message: string) => void },
): void {
  const { enabled, exporter, url, sampler, samplerRatio, propagation } = config.tracing;
  if (!enabled) return;
  // A collector URL may carry credentials: never logged.
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  logger.info(
    {
      exporter,
      ...(exporter === 'otlp' ? { url: shown.toString() } : {}),
      sampler,
      samplerRatio,
      propagation,
    },
    'tracing on (OpenTelemetry)',
  );
}

/**
 * What a process started with `--import` is, from its entry script (dist/worker/main.js or
 * src/worker/main.ts: the worker; anything else: the gateway): the configuration role it loads and the
 * service.name its spans get unless OTEL_SERVICE_NAME says otherwise.
 */
export function tracedProcess(entry: string | undefined = process.argv[1]): {
  role: 'gateway' | 'worker';
  serviceName: string;
} {
  return /[\\/]worker[\\/]main\.[jt]s$/.test(entry ?? '')
    ? { role: 'worker', serviceName: 'lodestar-worker' }
    : { role: 'gateway', serviceName: 'lodestar-gateway' };
}
