import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/signToken.js';
import { loadConfig } from '../../src/config/config.js';
import { migrateUrl } from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testRedisUrl } from '../support/env.js';
import {
  embeddingFor,
  insertCategory,
  insertListing,
  insertProfile,
  toVectorLiteral,
} from '../support/fixtures.js';
import { testJwtSecret } from '../support/gateway.js';
import type { RecordedSpan } from '../support/memoryTracing.js';
import {
  killGatewayProcesses,
  listeningUrl,
  logLines,
  startGatewayProcess,
  waitForLogLine,
  type GatewayProcess,
} from '../support/process.js';

const PG = '@opentelemetry/instrumentation-pg';
const REDIS = '@opentelemetry/instrumentation-ioredis';
const SERVER_KIND = 1;
const CONSUMER_KIND = 4;

interface TracedProcess extends GatewayProcess {
  spans: () => Promise<RecordedSpan[]>;
}

/** The real gateway with `preload` imported first (as the start script imports register.ts). */
function startTraced(preload: string, env: Record<string, string>): TracedProcess {
  const started = startGatewayProcess(env, { preload, ipc: true });
  const spans = async () => {
    const reply = once(started.child, 'message');
    started.child.send('spans');
    const [message] = (await reply) as [RecordedSpan[]];
    return message;
  };
  return { ...started, spans };
}

/** The span's ancestors up to its trace's root (nearest first). */
function ancestry(span: RecordedSpan, byId: Map<string, RecordedSpan>): RecordedSpan[] {
  const chain: RecordedSpan[] = [];
  for (let at = span.parentSpanId; at; at = byId.get(at)?.parentSpanId ?? null) {
    const parent = byId.get(at);
    if (!parent) break;
    chain.push(parent);
  }
  return chain;
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const feedQuery = `query TraceFeed { suggestions(first: 10) { edges { node { source listing { id title } } } } }`;

describe('OpenTelemetry traces', () => {
  let db: TestDatabase;
  const suffix = randomBytes(4).toString('hex');
  const gatewayLogin = `lodestar_trace_gw_${suffix}`;
  const workerLogin = `lodestar_trace_wk_${suffix}`;
  let env: Record<string, string>;
  let token: string;
  let listingId: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    await migrateUrl(db.url);
    await db.pool.query(`CREATE ROLE ${gatewayLogin} LOGIN IN ROLE lodestar_app`);
    await db.pool.query(`CREATE ROLE ${workerLogin} LOGIN IN ROLE lodestar_worker`);
    const categoryId = await insertCategory(db.pool);
    for (let i = 0; i < 40; i += 1) {
      const id = await insertListing(db.pool, {
        categoryId,
        embedding: embeddingFor(i),
        title: `trace ${i}`,
      });
      listingId ??= id;
    }
    const userId = await insertProfile(db.pool);
    // A profile embedding: the feed's personal candidates come from a vector search.
    await db.pool.query(`UPDATE profiles SET embedding = $2::vector WHERE user_id = $1`, [
      userId,
      toVectorLiteral(embeddingFor(3)),
    ]);
    await db.pool.query('ANALYZE');
    const at = (login: string) => {
      const url = new URL(db.url);
      url.username = login;
      return url.toString();
    };
    env = {
      NODE_ENV: 'test',
      DATABASE_URL: at(gatewayLogin),
      WORKER_DATABASE_URL: at(workerLogin),
      REDIS_URL: testRedisUrl,
      REDIS_KEY_PREFIX: `trace-${suffix}:`,
      JWT_SECRET: testJwtSecret,
    };
    token = await signToken(loadConfig({ ...env }).auth, { sub: userId, role: 'user' });
  });

  afterAll(async () => {
    killGatewayProcesses();
    await db.drop();
    await db.pool.query(`DROP ROLE IF EXISTS ${gatewayLogin}`).catch(() => undefined);
    await db.pool.query(`DROP ROLE IF EXISTS ${workerLogin}`).catch(() => undefined);
  });

  it('one suggestions request is one trace: HTTP, the operation, the feed resolver, and its SQL and Redis under them', async () => {
    const gateway = startTraced('./test/support/memoryTracing.ts', {
      ...env,
      // Tracing on (the preload records in memory whatever the exporter says).
      OTEL_TRACES_EXPORTER: 'console',
      WORKER_IN_PROCESS: 'true',
      WORKER_POLL_MS: '200',
    });
    const url = await listeningUrl(gateway);
    // A caller's traceparent is ignored by default (OTEL_PROPAGATORS=none): a public caller neither
    // chooses the trace id nor forces the trace to be kept.
    const callerTrace = randomBytes(16).toString('hex');
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-request-id': 'trace-feed-1',
        traceparent: `00-${callerTrace}-${randomBytes(8).toString('hex')}-01`,
      },
      body: JSON.stringify({ query: feedQuery }),
    });
    const body = (await response.json()) as {
      data?: { suggestions: { edges: unknown[] } };
      errors?: unknown;
    };
    expect(body.errors).toBeUndefined();
    expect(body.data?.suggestions.edges.length).toBeGreaterThan(0);

    const spans = await until(async () => {
      const all = await gateway.spans();
      return all.some((s) => s.attributes['lodestar.request_id'] === 'trace-feed-1' && s.kind === SERVER_KIND)
        ? all
        : undefined;
    }, 'the request span');
    const http = spans.find(
      (s) => s.kind === SERVER_KIND && s.attributes['lodestar.request_id'] === 'trace-feed-1',
    );
    if (!http) throw new Error('no HTTP span');
    expect(http.name).toBe('POST /graphql');
    expect(http.traceId).not.toBe(callerTrace);
    expect(http.parentSpanId).toBeNull();
    expect(http.service).toBe('lodestar-gateway');
    // Named statements give their span its name (the role lookup of the token, here).
    expect(spans.some((s) => s.traceId === http.traceId && s.name.startsWith('pg.query:profile_role'))).toBe(
      true,
    );
    const trace = spans.filter((s) => s.traceId === http.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));

    const operation = trace.find((s) => s.name === 'query TraceFeed');
    expect(operation?.parentSpanId).toBe(http.spanId);
    expect(operation?.attributes).toMatchObject({
      'graphql.operation.type': 'query',
      'graphql.operation.name': 'TraceFeed',
    });
    expect(operation?.attributes['graphql.operation.complexity']).toBeGreaterThan(10);
    const resolver = trace.find((s) => s.name === 'resolve Query.suggestions');
    expect(resolver?.parentSpanId).toBe(operation?.spanId);
    expect(resolver?.attributes['lodestar.cost']).toBe(50);

    // Every statement and command of the request is in its trace, under the operation.
    const sql = trace.filter(
      (s) => s.scope === PG && s.name !== 'pg-pool.connect' && s.name !== 'pg.connect',
    );
    const redis = trace.filter((s) => s.scope === REDIS);
    expect(sql.length).toBeGreaterThan(0);
    expect(redis.length).toBeGreaterThan(0);
    for (const span of [...sql, ...redis]) {
      expect(ancestry(span, byId).at(-1)?.spanId).toBe(http.spanId);
    }
    const underOperation = (span: RecordedSpan) =>
      ancestry(span, byId).some((s) => s.spanId === operation?.spanId);
    // Before Apollo (the token's role lookup) the HTTP span is the parent; the feed's own work is under
    // the operation: SQL, and the Redis round trips of its features.
    expect(sql.filter(underOperation).length).toBeGreaterThan(0);
    expect(redis.filter(underOperation).length).toBeGreaterThan(0);
    // The vector search is one of them, under the feed's resolver; statements carry no parameter values.
    const search = sql.find((s) =>
      String(s.attributes['db.statement'] ?? s.attributes['db.query.text']).includes('<=>'),
    );
    expect(search, 'a vector search statement').toBeDefined();
    if (search) expect(ancestry(search, byId).map((s) => s.spanId)).toContain(resolver?.spanId);
    for (const span of sql) {
      expect(Object.keys(span.attributes).filter((k) => /values|parameter/.test(k))).toEqual([]);
    }
    // Redis spans name the command only: keys hold person ids, arguments feature values.
    for (const span of redis) {
      const statement = span.attributes['db.statement'] ?? span.attributes['db.query.text'];
      expect(typeof statement === 'string' && /^[a-z]+$/.test(statement), JSON.stringify(statement)).toBe(
        true,
      );
    }
    // No SQL or Redis span of this request ended up in a trace of its own.
    const orphans = spans.filter((s) => (s.scope === PG || s.scope === REDIS) && s.parentSpanId === null);
    expect(orphans).toEqual([]);

    // The access log line of the request carries its trace.
    const [line] = logLines<{ reqId: string; trace_id?: string }>(gateway, 'request').filter(
      (l) => l.reqId === 'trace-feed-1',
    );
    expect(line?.trace_id).toBe(http.traceId);

    // A GET query's variables never reach a span (the URL keeps the parameter names only).
    const secret = 'secret-handle-in-a-get';
    const get = await fetch(
      `${url}?query=${encodeURIComponent('query Who($h: String!) { profile(handle: $h) { handle } }')}&variables=${encodeURIComponent(JSON.stringify({ h: secret }))}`,
      { headers: { 'apollo-require-preflight': 'true', 'x-request-id': 'trace-get-1' } },
    );
    expect(get.status).toBe(200);
    const afterGet = await until(async () => {
      const now = await gateway.spans();
      return now.some((s) => s.attributes['lodestar.request_id'] === 'trace-get-1') ? now : undefined;
    }, 'the GET request span');
    expect(JSON.stringify(afterGet)).not.toContain(secret);

    // A like: the request, then the worker's item as a trace of its own with its statements under it.
    const like = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: `mutation { likeListing(listingId: "${listingId}") { changed } }`,
      }),
    });
    expect(((await like.json()) as { errors?: unknown }).errors).toBeUndefined();
    const all = await until(async () => {
      const now = await gateway.spans();
      return now.some((s) => s.name === 'queue events' && s.attributes['lodestar.outcome'] === 'succeeded')
        ? now
        : undefined;
    }, 'the worker item span');
    const item = all.find(
      (s) => s.name === 'queue events' && s.attributes['lodestar.outcome'] === 'succeeded',
    );
    expect(item?.kind).toBe(CONSUMER_KIND);
    expect(item?.parentSpanId).toBeNull();
    expect(item?.attributes['lodestar.item_kind']).toBe('like.created');
    expect(all.filter((s) => s.traceId === item?.traceId && s.scope === PG).length).toBeGreaterThan(0);
    // Maintenance tasks that ran are traces too, with their SQL.
    const task = all.find((s) => s.name.startsWith('maintenance '));
    expect(task, 'a maintenance task span').toBeDefined();
    expect(all.filter((s) => s.traceId === task?.traceId && s.scope === PG).length).toBeGreaterThan(0);
  }, 120_000);

  it("the start scripts' register.ts exports OTLP to a collector, continuing the caller's trace", async () => {
    const batches: unknown[] = [];
    const collector: Server = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        if (request.url === '/v1/traces') batches.push(JSON.parse(text));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    const port = (collector.address() as AddressInfo).port;
    try {
      const gateway = startTraced('./src/telemetry/register.ts', {
        ...env,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'lodestar-trace-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
        OTEL_BSP_SCHEDULE_DELAY: '100',
        // Behind an edge the operator controls: continue the caller's trace.
        OTEL_PROPAGATORS: 'tracecontext',
      });
      const url = await listeningUrl(gateway);
      // Logged just after the listening line: it may reach the pipe a moment later.
      await waitForLogLine(gateway, 'tracing on (OpenTelemetry)');
      expect(logLines(gateway, 'tracing on (OpenTelemetry)')).toEqual([
        expect.objectContaining({
          exporter: 'otlp',
          url: `http://127.0.0.1:${port}/v1/traces`,
          sampler: 'parentbased_always_on',
          propagation: 'tracecontext',
        }),
      ]);
      const callerTrace = randomBytes(16).toString('hex');
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          traceparent: `00-${callerTrace}-${randomBytes(8).toString('hex')}-01`,
        },
        body: JSON.stringify({ query: feedQuery }),
      });
      expect(response.status).toBe(200);
      interface Exported {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { scope: { name: string }; spans: { traceId: string; name: string }[] }[];
        }[];
      }
      const exported = await until(async () => {
        const spans = (batches as Exported[]).flatMap((b) =>
          b.resourceSpans.flatMap((r) =>
            r.scopeSpans.flatMap((s) =>
              s.spans.map((span) => ({ ...span, scope: s.scope.name, resource: r.resource.attributes })),
            ),
          ),
        );
        const ours = spans.filter((s) => s.traceId === callerTrace);
        return ours.some((s) => s.name === 'query TraceFeed') && ours.some((s) => s.scope === PG)
          ? ours
          : undefined;
      }, 'the exported trace');
      const attributes = Object.fromEntries(
        exported[0]?.resource.map((a) => [a.key, a.value.stringValue]) ?? [],
      );
      expect(attributes).toMatchObject({
        'service.name': 'lodestar-trace-test',
        'deployment.environment': 'test',
      });
      expect(exported.map((s) => s.name)).toContain('POST /graphql');
      expect(exported.some((s) => s.scope === REDIS)).toBe(true);
      gateway.child.kill('SIGTERM');
      expect(await gateway.exit).toBe(0);
    } finally {
      collector.close();
    }
  }, 120_000);
});
