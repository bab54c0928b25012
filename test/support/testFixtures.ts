import { test as base } from 'vitest';
import { signToken, type TokenClaims } from '../../src/auth/signToken.js';
import { createTestDatabase } from './db.js';
import { testDatabaseAdminUrl, testRedisUrl } from './env.js';
import { createInProcess, createTestGateway, testConfig, type InProcess } from './gateway.js';
import { createPrefixedRedis } from './socialWorld.js';

/**
 * The per-file setup the integration tests share, as vitest fixtures: one database, one Redis prefix,
 * the gateway in-process and over HTTP, and tokens. Every fixture is file-scoped (set up once for the
 * file, torn down after its last test, dependants first) and lazy: a file that never asks for `gateway`
 * starts no Fastify app. Ask for them in a test or in `test.beforeAll`/`test.beforeEach` (the plain
 * `beforeAll` receives no fixtures). A file passes its environment with, at the top level:
 *
 *   test.override('env', { DATABASE_POOL_MAX: '20' });
 */

/** Environment variables on top of the test configuration, e.g. rate limits or pool sizes. */
export type FileEnv = Record<string, string>;

export type PrefixedRedis = Awaited<ReturnType<typeof createPrefixedRedis>>;

export interface Tokens {
  /** A signed-in person's token (the gateway reads the role from profiles.role, not from here). */
  user: (userId: string) => Promise<string>;
  /** An admin's token; the profile must have the admin role too. */
  admin: (userId: string) => Promise<string>;
  /** A service caller's token, issued for the service audience. */
  service: (sub?: string) => Promise<string>;
  sign: (claims: TokenClaims, options?: { expiresIn?: string | number }) => Promise<string>;
}

export const test = base
  // Overridden per file (only at the top level: vitest refuses file-scoped overrides in a describe).
  .extend<'env', FileEnv>('env', { scope: 'file' }, {})
  // eslint-disable-next-line no-empty-pattern -- vitest reads the fixture's dependencies from this pattern
  .extend('db', { scope: 'file' }, async ({}, { onCleanup }) => {
    const db = await createTestDatabase();
    onCleanup(() => db.drop());
    return db;
  })
  .extend('redis', { scope: 'file' }, async ({ db }, { onCleanup }) => {
    // Named after the database, so a key left behind says which file wrote it.
    const redis = await createPrefixedRedis(testRedisUrl, `lodestar:t:${db.name}:`);
    onCleanup(async () => {
      await redis.flush();
      redis.close();
    });
    return redis;
  })
  /** What the gateway fixtures run with: the file's Redis and prefix, then the file's `env`. */
  .extend('appEnv', { scope: 'file' }, ({ redis, env }): FileEnv => ({
    REDIS_URL: testRedisUrl,
    REDIS_KEY_PREFIX: redis.prefix,
    ...env,
  }))
  /** More in-process gateways on the file's database and Redis, `overrides` on top; closed with the file. */
  .extend('inProcessWith', { scope: 'file' }, ({ db, appEnv }, { onCleanup }) => {
    const opened: InProcess[] = [];
    onCleanup(async () => {
      for (const each of opened) await each.close();
    });
    return (overrides: FileEnv = {}, options: { captureLogs?: boolean } = {}): InProcess => {
      const h = createInProcess(db, { ...appEnv, ...overrides }, options);
      opened.push(h);
      return h;
    };
  })
  .extend('inProcess', { scope: 'file' }, ({ inProcessWith }) => inProcessWith())
  .extend('gateway', { scope: 'file' }, async ({ db, appEnv }, { onCleanup }) => {
    const gateway = await createTestGateway(db, appEnv);
    onCleanup(() => gateway.close());
    return gateway;
  })
  .extend('tokens', { scope: 'file' }, ({ env }): Tokens => {
    // Signing needs only the auth settings, so no database: any valid URL satisfies the config.
    const { auth } = testConfig({ url: testDatabaseAdminUrl }, env);
    const sign: Tokens['sign'] = (claims, options) => signToken(auth, claims, options);
    return {
      user: (userId) => sign({ sub: userId, role: 'user' }),
      admin: (userId) => sign({ sub: userId, role: 'admin' }),
      service: (sub = 'worker') => sign({ sub, role: 'service' }),
      sign,
    };
  });

export const it = test;
