import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/checkout.js';
import { withIdentity } from '../../src/db/identity.js';
import { isConnectionError, toPublicDatabaseError } from '../../src/errors/databaseErrors.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a checked-out client whose connection dies', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let pool: pg.Pool;
  const idleErrors: Error[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await startTcpProxy(target);
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    pool = new pg.Pool({ connectionString: proxied.toString(), max: 2 });
    pool.on('error', (error) => idleErrors.push(error));
  });

  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    await proxy?.close();
    await db?.drop();
  });

  it('mid-statement in withIdentity: the write fails as UNAVAILABLE, the process lives, the client is destroyed, the pool serves again', async () => {
    const failure = await withIdentity(pool, { role: 'anonymous', userId: null }, async (client) => {
      await client.query('SELECT 1');
      setTimeout(() => proxy.cut(), 100);
      await client.query('SELECT pg_sleep(2)');
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(String(failure)).toMatch(/Connection terminated unexpectedly/);
    expect(isConnectionError(failure)).toBe(true);
    expect(toPublicDatabaseError(failure)?.extensions).toMatchObject({
      code: 'UNAVAILABLE',
      retryAfterMs: 2000,
    });
    await sleep(50);
    expect(pool.totalCount).toBe(0);
    const { rows } = await withClient(pool, (client) => client.query<{ ok: number }>('SELECT 1 AS ok'));
    expect(rows).toEqual([{ ok: 1 }]);
  });

  it('while checked out but idle: the next statement fails as UNAVAILABLE (not queryable), the pool serves again', async () => {
    const failure = await withClient(pool, async (client) => {
      proxy.cut();
      await sleep(200);
      await client.query('SELECT 1');
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(String(failure)).toMatch(/not queryable|Connection terminated/);
    expect(toPublicDatabaseError(failure)?.extensions.code).toBe('UNAVAILABLE');
    await sleep(50);
    expect(pool.totalCount).toBe(0);
    const { rows } = await withClient(pool, (client) => client.query<{ ok: number }>('SELECT 1 AS ok'));
    expect(rows).toEqual([{ ok: 1 }]);
  });

  it('through Prisma (adapter-pg): a statement cut mid-flight is UNAVAILABLE', async () => {
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    try {
      setTimeout(() => proxy.cut(), 200);
      const failure = await prisma.$queryRawUnsafe('SELECT pg_sleep(2)').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeDefined();
      expect(toPublicDatabaseError(failure)?.extensions.code).toBe('UNAVAILABLE');
      await expect(prisma.$queryRawUnsafe('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
    } finally {
      await prisma.$disconnect();
    }
  });
});
