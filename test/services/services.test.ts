import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testRedisUrl } from '../support/env.js';
import { createTestServices } from '../support/gateway.js';

describe('the composition root (src/services/services.ts)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('close() writes buffered telemetry before closing Postgres and Redis, and is idempotent', async () => {
    const prefix = `lodestar:t:${db.name}:root:`;
    const services = await createTestServices(db, {
      REDIS_URL: testRedisUrl,
      REDIS_KEY_PREFIX: prefix,
      // Longer than the test: only close() can write the sample.
      TELEMETRY_FLUSH_MS: '60000',
    });
    expect(services.redis?.status).toBe('ready');
    const kernel = `root-test-${Date.now()}`;
    services.telemetry.recordKernel(kernel, 12.5, true);

    await Promise.all([services.close(), services.close()]);
    await services.close();

    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM kernel_latency WHERE kernel = $1',
      [kernel],
    );
    expect(rows[0]?.n).toBe(1);
    await expect(services.db.pool.query('SELECT 1')).rejects.toThrow();
    expect(services.redis?.status).toBe('end');
  });

  it('createContext gives each request its own loaders and identity over the shared services', async () => {
    const services = await createTestServices(db);
    try {
      const viewer = { role: 'user' as const, userId: '00000000-0000-4000-8000-000000000001' };
      const a = createContext(services, { requestId: 'a', viewer, idempotencyKey: 'k-1' });
      const b = createContext(services, { requestId: 'b', viewer: { role: 'anonymous', userId: null } });
      expect(a.loaders).not.toBe(b.loaders);
      expect(a.features).toBe(b.features);
      expect(a.rateLimits).toBe(services.rateLimits);
      expect([a.idempotencyKey, b.idempotencyKey]).toEqual(['k-1', null]);
      expect([a.clientAddress, b.clientAddress]).toEqual([null, null]);
      expect(a.logger).toBe(services.logger);
      expect(b.viewer.userId).toBeNull();
    } finally {
      await services.close();
    }
  });

  it('makes the viewer’s Prisma client on first use, also on the copy Apollo executes with', async () => {
    const services = await createTestServices(db);
    try {
      const viewer = { role: 'user' as const, userId: '00000000-0000-4000-8000-000000000002' };
      const ctx = createContext(services, { requestId: 'lazy', viewer });
      // Apollo's cloneObject: the own properties, onto an object with the same prototype.
      const copy = Object.assign(Object.create(Object.getPrototypeOf(ctx) as object) as typeof ctx, ctx);
      expect(Object.getOwnPropertyNames(ctx)).not.toContain('prisma');
      // Scoped to the viewer: RLS lets them read only their own profile, which does not exist.
      expect(await copy.prisma.profile.findMany({ take: 1 })).toEqual([]);
      expect(copy.prisma).toBe(copy.prisma);
    } finally {
      await services.close();
    }
  });
});
