import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMigrationsDir, readMigrations } from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testRedisUrl } from '../support/env.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { metricValue, parseJson, postGraphQL, seedHttpFixtures } from '../support/http.js';

interface Readiness {
  ready: boolean;
  status: string;
  postgres: { reachable: boolean; migrated: boolean; pendingMigrations: string[]; error?: string };
  redis: 'up' | 'down' | 'disabled';
}

async function readyz(gateway: TestGateway): Promise<{ status: number; body: Readiness }> {
  const res = await gateway.app.inject({ method: 'GET', url: '/readyz' });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return { status: res.statusCode, body: parseJson<Readiness>(res.body) };
}

describe('health, readiness and metrics', () => {
  let db: TestDatabase;
  let gateway: TestGateway;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedHttpFixtures(db.pool, 'hlth');
    gateway = await createTestGateway(db);
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  it('answers /healthz with 200 {status: "ok"}', async () => {
    const res = await gateway.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(parseJson<unknown>(res.body)).toEqual({ status: 'ok' });
  });

  it('reports ready on a reachable, fully migrated database, with Redis disabled when not configured', async () => {
    const { status, body } = await readyz(gateway);
    expect(status).toBe(200);
    expect(body).toEqual({
      ready: true,
      status: 'ok',
      postgres: { reachable: true, migrated: true, pendingMigrations: [] },
      redis: 'disabled',
    });
  });

  describe('Redis', () => {
    let up: TestGateway;
    let down: TestGateway;

    beforeAll(async () => {
      [up, down] = await Promise.all([
        createTestGateway(db, { REDIS_URL: testRedisUrl, REDIS_KEY_PREFIX: `lodestar:t:${db.name}:` }),
        createTestGateway(db, { REDIS_URL: 'redis://127.0.0.1:1' }),
      ]);
    });

    afterAll(async () => {
      await Promise.all([up?.close(), down?.close()]);
    });

    it('reports redis "up" when REDIS_URL points at a live server', async () => {
      const { status, body } = await readyz(up);
      expect(status).toBe(200);
      expect(body.ready).toBe(true);
      expect(body.status).toBe('ok');
      expect(body.redis).toBe('up');
      const metrics = await up.app.inject({ method: 'GET', url: '/metrics' });
      expect(metricValue(metrics.body, 'lodestar_redis_up', {})).toBe(1);
    });

    it('reports redis "down" and status "degraded" but stays ready (200) when Redis is unreachable', async () => {
      const { status, body } = await readyz(down);
      expect(status).toBe(200);
      expect(body.ready).toBe(true);
      expect(body.status).toBe('degraded');
      expect(body.postgres.reachable).toBe(true);
      expect(body.redis).toBe('down');
    });
  });

  describe('Postgres', () => {
    it('reports not ready (503) when Postgres is unreachable', async () => {
      const unreachable = await createTestGateway({ url: 'postgresql://postgres@127.0.0.1:1/nope' });
      try {
        const { status, body } = await readyz(unreachable);
        expect(status).toBe(503);
        expect(body.ready).toBe(false);
        expect(body.status).toBe('unavailable');
        expect(body.postgres.reachable).toBe(false);
        expect(body.redis).toBe('disabled');
      } finally {
        await unreachable.close();
      }
    });

    it('reports not ready (503) on an unmigrated database, listing every pending migration', async () => {
      const empty = await createTestDatabase({ template: null });
      const emptyGateway = await createTestGateway(empty);
      try {
        const expected = (await readMigrations(defaultMigrationsDir)).map((m) => m.name);
        expect(expected.length).toBeGreaterThan(0);
        const { status, body } = await readyz(emptyGateway);
        expect(status).toBe(503);
        expect(body.ready).toBe(false);
        expect(body.postgres.reachable).toBe(true);
        expect(body.postgres.pendingMigrations).toEqual(expected);
      } finally {
        await emptyGateway.close();
        await empty.drop();
      }
    });

    it('reports not ready (503) when only the newest migration is missing, naming it', async () => {
      const partial = await createTestDatabase();
      const partialGateway = await createTestGateway(partial);
      try {
        const names = (await readMigrations(defaultMigrationsDir)).map((m) => m.name);
        const newest = names.at(-1) ?? '';
        await partial.pool.query('DELETE FROM _prisma_migrations WHERE migration_name = $1', [newest]);
        const { status, body } = await readyz(partialGateway);
        expect(status).toBe(503);
        expect(body.ready).toBe(false);
        expect(body.postgres.pendingMigrations).toEqual([newest]);
      } finally {
        await partialGateway.close();
        await partial.drop();
      }
    });

    it('reports not ready (503) when a migration started but never finished', async () => {
      const broken = await createTestDatabase();
      const brokenGateway = await createTestGateway(broken);
      try {
        const names = (await readMigrations(defaultMigrationsDir)).map((m) => m.name);
        await broken.pool.query(
          'UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = $1',
          [names.at(-1)],
        );
        const { status, body } = await readyz(brokenGateway);
        expect(body.postgres.reachable).toBe(true);
        expect(body.ready).toBe(false);
        expect(status).toBe(503);
      } finally {
        await brokenGateway.close();
        await broken.drop();
      }
    });
  });

  describe('/metrics', () => {
    it('serves Prometheus text with per-operation request counts and process metrics', async () => {
      const res = await postGraphQL(gateway, 'query HealthProbe { categories { id } }');
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();

      const metrics = await gateway.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
      const text = metrics.body;
      expect(text).toContain('# TYPE lodestar_graphql_requests_total counter');
      expect(
        metricValue(text, 'lodestar_graphql_requests_total', { operation: 'HealthProbe', outcome: 'ok' }),
      ).toBe(1);
      expect(text).toMatch(/^lodestar_graphql_request_duration_seconds_count\{operation="HealthProbe"\} 1$/m);
      expect(text).toMatch(/^lodestar_process_cpu_user_seconds_total \d/m);
      expect(text).toMatch(/^lodestar_nodejs_heap_size_used_bytes \d/m);
    });

    it('labels a failed operation with outcome "error" and counts its error code', async () => {
      const res = await postGraphQL(gateway, 'query BadListing { listing(id: "0") { id } }');
      expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const text = (await gateway.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(
        metricValue(text, 'lodestar_graphql_requests_total', { operation: 'BadListing', outcome: 'error' }),
      ).toBe(1);
      expect(metricValue(text, 'lodestar_graphql_errors_total', { code: 'BAD_USER_INPUT' })).toBeGreaterThan(
        0,
      );
    });
  });
});
