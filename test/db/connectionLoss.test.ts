import net from 'node:net';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/checkout.js';
import { withIdentity } from '../../src/db/identity.js';
import { isConnectionError, toPublicDatabaseError } from '../../src/errors/databaseErrors.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/** A TCP proxy in front of Postgres whose connections the test can cut, as a dying server would. */
async function startProxy(
  target: URL,
): Promise<{ port: number; cut: () => void; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(Number(target.port || 5432), target.hostname);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a checked-out client whose connection dies', () => {
  let db: TestDatabase;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let pool: pg.Pool;
  const idleErrors: Error[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await startProxy(target);
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
