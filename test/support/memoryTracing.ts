/**
 * Loaded with `--import` into a gateway or worker process a test starts (test/support/tracing.ts), in
 * place of src/telemetry/register.ts: the same hook, SDK and instrumentations (installTracing), with
 * spans kept in memory instead of exported. The test asks for them over the IPC channel ('spans').
 */
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { loadConfig } from '../../src/config/config.js';
import { tracedProcess } from '../../src/platform/tracing.js';
import { installTracing } from '../../src/telemetry/startTracing.js';

export interface RecordedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  scope: string;
  service: string;
  attributes: Record<string, unknown>;
  status: number;
}

const { role, serviceName } = tracedProcess();
const exporter = new InMemorySpanExporter();
await installTracing(loadConfig(process.env, role).tracing, {
  defaultServiceName: serviceName,
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});

const recorded = (span: ReadableSpan): RecordedSpan => ({
  name: span.name,
  kind: span.kind,
  traceId: span.spanContext().traceId,
  spanId: span.spanContext().spanId,
  parentSpanId: span.parentSpanContext?.spanId ?? null,
  scope: span.instrumentationScope.name,
  service: String(span.resource.attributes['service.name']),
  attributes: { ...span.attributes },
  status: span.status.code,
});

process.on('message', (message) => {
  if (message === 'spans') process.send?.(exporter.getFinishedSpans().map(recorded));
});
