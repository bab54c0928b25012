import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { migrateUrl } from '../../src/db/migrator.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { loggerOptions } from '../../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testJwtSecret } from '../support/gateway.js';
import { metricValue, seedHttpFixtures } from '../support/http.js';
import { gatewayLoginUrl } from '../support/loginRole.js';

/** A listening gateway (both ports) with the given environment; its log lines land in `logs`. */
async function start(
  url: string,
  env: Record<string, string>,
): Promise<{ gateway: Gateway; logs: { msg?: string }[] }> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    DATABASE_URL: url,
    JWT_SECRET: testJwtSecret,
    ...env,
  });
  const logs: { msg?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as { msg?: string });
      }
      callback();
    },
  });
  return { gateway: await startGateway(config, pino(loggerOptions(config), sink)), logs };
}

async function get(url: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function query(gateway: Gateway, operation: string): Promise<void> {
  const res = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `query ${operation} { categories { id } }` }),
  });
  expect(res.status).toBe(200);
}

describe('/metrics: a port of its own in production (METRICS_PORT)', () => {
  let db: TestDatabase;
  /** Production logs in as a plain LOGIN member of lodestar_app, never a superuser. */
  let productionUrl: string;
  const started: Gateway[] = [];
  const run = async (url: string, env: Record<string, string>) => {
    const result = await start(url, env);
    started.push(result.gateway);
    return result;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    // A clone has the default database ACL (TEMP for PUBLIC); the migrator takes TEMP away, as it does
    // on every real database it migrates, and a production gateway refuses to start without that.
    await migrateUrl(db.url);
    await seedHttpFixtures(db.pool, 'mport');
    productionUrl = await gatewayLoginUrl(db);
  });

  afterAll(async () => {
    for (const gateway of started) await gateway.stop();
    await db?.drop();
  });

  it('production: the public port answers /metrics with 404 and keeps /healthz and /readyz; METRICS_PORT serves the usual metrics', async () => {
    const { gateway } = await run(productionUrl, { NODE_ENV: 'production', METRICS_PORT: '0' });
    await query(gateway, 'MetricsPortProbe');

    const publicMetrics = await get(`${gateway.url}/metrics`);
    expect(publicMetrics.status).toBe(404);
    expect(publicMetrics.text).not.toContain('lodestar_');
    expect(JSON.parse(publicMetrics.text)).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }] });
    expect((await get(`${gateway.url}/metrics?format=text`)).status).toBe(404);
    expect((await get(`${gateway.url}/healthz`)).status).toBe(200);
    const ready = await get(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ ready: true });

    expect(gateway.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(gateway.metricsUrl ?? '').port).not.toBe(new URL(gateway.url).port);
    const metrics = await get(gateway.metricsUrl ?? '');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain/);
    expect(
      metricValue(metrics.text, 'lodestar_graphql_requests_total', {
        operation: 'MetricsPortProbe',
        outcome: 'ok',
      }),
    ).toBe(1);
    expect(metrics.text).toMatch(/^lodestar_process_cpu_user_seconds_total \d/m);
    expect(metrics.text).toMatch(/^lodestar_alert_evaluation_ok 1$/m);
    expect(metrics.text).toContain('lodestar_alert_firing{rule="discovery_queue_p95_age"');

    // The metrics port serves nothing else: no API, no health checks.
    const origin = new URL(gateway.metricsUrl ?? '').origin;
    for (const path of ['/graphql', '/healthz', '/readyz', '/']) {
      expect((await get(`${origin}${path}`)).status).toBe(404);
    }
  });

  it('production without METRICS_PORT serves no /metrics at all, and says so at start', async () => {
    const { gateway, logs } = await run(productionUrl, { NODE_ENV: 'production' });
    expect(gateway.metricsUrl).toBeUndefined();
    expect((await get(`${gateway.url}/metrics`)).status).toBe(404);
    expect((await get(`${gateway.url}/healthz`)).status).toBe(200);
    expect(logs.map((l) => l.msg)).toContain(
      'METRICS_PORT is not set: no /metrics endpoint (production never serves it on the public port)',
    );
  });

  it('outside production /metrics stays on the public port, unless METRICS_PORT moves it', async () => {
    const { gateway: development } = await run(db.url, { NODE_ENV: 'test' });
    await query(development, 'PublicPortProbe');
    expect(development.metricsUrl).toBe(`${development.url}/metrics`);
    const onPublic = await get(`${development.url}/metrics`);
    expect(onPublic.status).toBe(200);
    expect(
      metricValue(onPublic.text, 'lodestar_graphql_requests_total', {
        operation: 'PublicPortProbe',
        outcome: 'ok',
      }),
    ).toBe(1);

    const { gateway: moved } = await run(db.url, { NODE_ENV: 'test', METRICS_PORT: '0' });
    expect((await get(`${moved.url}/metrics`)).status).toBe(404);
    expect((await get(moved.metricsUrl ?? '')).status).toBe(200);
  });

  it('stops serving metrics when the gateway stops', async () => {
    const { gateway } = await start(productionUrl, { NODE_ENV: 'production', METRICS_PORT: '0' });
    const url = gateway.metricsUrl ?? '';
    expect((await get(url)).status).toBe(200);
    await gateway.stop();
    await expect(fetch(url)).rejects.toThrow();
  });
});
