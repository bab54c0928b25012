import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceRoleLookup } from '../../src/auth/effectiveRole.js';
import { signToken } from '../../src/auth/signToken.js';
import { createServiceDb, type ServiceDb } from '../../src/db/service.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertProfile } from '../support/fixtures.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { firstCode, postGraphQL } from '../support/http.js';
import { startTcpProxy } from '../support/tcpProxy.js';
import { graphql, type Operation } from '../support/graphql.js';

/**
 * Issue 13, item 4: the effective role is profiles.role (cached per process for AUTH_ROLE_CACHE_MS,
 * batched), never the token's role claim; a token for a user id without a profile is UNAUTHENTICATED;
 * service callers are tokens for the service audience. Everything through the real HTTP gateway.
 */

const ME = graphql('{ me { id role } }');
const ADMIN_FIELD = graphql('{ schemaMigrations { pending } }');
const CACHE_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function roleQueries(gateway: TestGateway): Promise<number> {
  const metric = await gateway.metrics.roleQueries.get();
  return metric.values[0]?.value ?? 0;
}

describe('the effective role comes from profiles.role, not the token', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let userId: string;
  let adminId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    userId = await insertProfile(db.pool, { role: 'user' });
    adminId = await insertProfile(db.pool, { role: 'admin' });
    gateway = await createTestGateway(db, { AUTH_ROLE_CACHE_MS: String(CACHE_MS) });
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  it('an ordinary user whose token claims admin gets FORBIDDEN, and me { role } says USER', async () => {
    const token = await gateway.token({ sub: userId, role: 'admin' });
    const admin = await postGraphQL(gateway, ADMIN_FIELD, { token });
    expect(admin.status).toBe(200);
    expect(admin.body.data).toBeNull();
    expect(firstCode(admin.body)).toBe('FORBIDDEN');
    const me = await postGraphQL(gateway, ME, { token });
    expect(me.body.data?.me).toEqual({ id: userId, role: 'USER' });
  });

  it('an admin (by profiles.role) is an admin whatever the token claims', async () => {
    const token = await gateway.token({ sub: adminId, role: 'user' });
    const res = await postGraphQL(gateway, ADMIN_FIELD, { token });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.schemaMigrations.pending).toEqual([]);
  });

  it('a token for a user id without a profile (never existed, or deleted) is UNAUTHENTICATED (401)', async () => {
    const ghost = await gateway.token({ sub: randomUUID(), role: 'admin' });
    // Documents of different result types: the request is refused before any of them runs.
    const queries: Operation<unknown>[] = [ADMIN_FIELD, ME, graphql('{ categories { id } }')];
    for (const query of queries) {
      const res = await postGraphQL(gateway, query, { token: ghost });
      expect(res.status).toBe(401);
      expect(firstCode(res.body)).toBe('UNAUTHENTICATED');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    const goneId = await insertProfile(db.pool, { role: 'admin' });
    const gone = await gateway.token({ sub: goneId, role: 'admin' });
    expect((await postGraphQL(gateway, ADMIN_FIELD, { token: gone })).body.errors).toBeUndefined();
    await db.pool.query('DELETE FROM profiles WHERE user_id = $1', [goneId]);
    await sleep(CACHE_MS + 50);
    const after = await postGraphQL(gateway, ADMIN_FIELD, { token: gone });
    expect(after.status).toBe(401);
    expect(firstCode(after.body)).toBe('UNAUTHENTICATED');
  });

  it('a promotion takes effect within the cache window', async () => {
    const id = await insertProfile(db.pool, { role: 'user' });
    const token = await gateway.token({ sub: id, role: 'user' });
    expect(firstCode((await postGraphQL(gateway, ADMIN_FIELD, { token })).body)).toBe('FORBIDDEN');
    await db.pool.query(`UPDATE profiles SET role = 'admin' WHERE user_id = $1`, [id]);
    await sleep(CACHE_MS + 50);
    const res = await postGraphQL(gateway, ADMIN_FIELD, { token });
    expect(res.body.errors).toBeUndefined();
    expect((await postGraphQL(gateway, ME, { token })).body.data?.me?.role).toBe('ADMIN');
  });

  it('a demotion takes effect once the cache window has passed, with the same (admin-claiming) token', async () => {
    const id = await insertProfile(db.pool, { role: 'admin' });
    const token = await gateway.token({ sub: id, role: 'admin' });
    expect((await postGraphQL(gateway, ADMIN_FIELD, { token })).body.errors).toBeUndefined();
    await db.pool.query(`UPDATE profiles SET role = 'user' WHERE user_id = $1`, [id]);
    await sleep(CACHE_MS + 50);
    const res = await postGraphQL(gateway, ADMIN_FIELD, { token });
    expect(res.body.data).toBeNull();
    expect(firstCode(res.body)).toBe('FORBIDDEN');
  });

  it('admin checks inside resolvers see the database role too (userFeatures of someone else)', async () => {
    const token = await gateway.token({ sub: userId, role: 'admin' });
    const res = await postGraphQL(
      gateway,
      graphql(`
        query ($id: ID!) {
          userFeatures(userId: $id) {
            likesGiven
          }
        }
      `),
      { token, variables: { id: adminId } },
    );
    expect(firstCode(res.body)).toBe('FORBIDDEN');
  });

  it('a service token (service audience) is a service caller; no role query is made for it', async () => {
    const before = await roleQueries(gateway);
    const token = await gateway.token({ sub: 'feed-worker', role: 'service' });
    const res = await postGraphQL(gateway, graphql('{ me { id } categories { id } }'), {
      token,
    });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.me).toBeNull();
    expect(await roleQueries(gateway)).toBe(before);
  });

  it('a user-audience token with role "service" is not a service caller', async () => {
    // For a person's id: that person, with their own role.
    const userAudience = { ...gateway.config.auth, serviceAudience: gateway.config.auth.audience };
    const asPerson = await signToken(userAudience, { sub: userId, role: 'service' });
    const me = await postGraphQL(gateway, ME, { token: asPerson });
    expect(me.body.data?.me).toEqual({ id: userId, role: 'USER' });
    // The old way of calling as a service (role claim, non-uuid subject, user audience): refused.
    const oldStyle = await signToken(userAudience, { sub: 'feed-worker', role: 'service' });
    const res = await postGraphQL(gateway, '{ categories { id } }', { token: oldStyle });
    expect(res.status).toBe(401);
    expect(firstCode(res.body)).toBe('UNAUTHENTICATED');
  });

  it('a batch of N different users costs at most N role queries (one per tick, not one per user)', async () => {
    const n = 20;
    // Its own gateway with a long window, so that nothing expires while the test runs.
    const cached = await createTestGateway(db, { AUTH_ROLE_CACHE_MS: '30000' });
    try {
      const ids = await Promise.all(
        Array.from({ length: n }, () => insertProfile(db.pool, { role: 'user' })),
      );
      const tokens = await Promise.all(ids.map((sub) => cached.token({ sub, role: 'admin' })));
      const results = await Promise.all(tokens.map((token) => postGraphQL(cached, ME, { token })));
      const used = await roleQueries(cached);
      console.log(`role queries for ${n} concurrent users: ${used}`);
      expect(results.map((r) => r.body.data?.me?.role)).toEqual(Array(n).fill('USER'));
      expect(used).toBeGreaterThanOrEqual(1);
      expect(used).toBeLessThanOrEqual(n);
      // Within the window the same users cost nothing more, however often they ask.
      for (let round = 0; round < 3; round += 1) {
        await Promise.all(tokens.map((token) => postGraphQL(cached, ME, { token })));
      }
      expect(await roleQueries(cached)).toBe(used);
      // Ten concurrent requests of one new user share a single lookup.
      const one = await cached.token({ sub: await insertProfile(db.pool, { role: 'user' }), role: 'user' });
      await Promise.all(Array.from({ length: 10 }, () => postGraphQL(cached, ME, { token: one })));
      expect(await roleQueries(cached)).toBe(used + 1);
    } finally {
      await cached.close();
    }
  });
});

describe('the role lookup statements', () => {
  let db: TestDatabase;
  let service: ServiceDb;

  beforeAll(async () => {
    db = await createTestDatabase();
    // One session, so the prepared statements and their plan counts are that session's.
    service = createServiceDb({ url: db.url, statementTimeoutMs: 10_000, poolMax: 1, onPoolError: () => {} });
  });

  afterAll(async () => {
    await service?.close();
    await db?.drop();
  });

  it('one user is read by a statement the server plans once; a batch by the array statement', async () => {
    const lookup = serviceRoleLookup(service);
    const admin = await insertProfile(db.pool, { role: 'admin' });
    const user = await insertProfile(db.pool, { role: 'user' });
    for (let i = 0; i < 8; i += 1) {
      expect(await lookup([i % 2 === 0 ? admin : user])).toEqual(
        new Map([[i % 2 === 0 ? admin : user, i % 2 === 0 ? 'admin' : 'user']]),
      );
    }
    expect(await lookup([randomUUID()])).toEqual(new Map());
    expect(await lookup([admin, user, randomUUID()])).toEqual(
      new Map([
        [admin, 'admin'],
        [user, 'user'],
      ]),
    );
    const plans = await service.query<{ name: string; generic_plans: string; custom_plans: string }>(
      `SELECT name, generic_plans, custom_plans FROM pg_prepared_statements ORDER BY name`,
      [],
    );
    const one = plans.find((p) => p.name === 'profile_role');
    // Five custom plans, then the generic one is kept (planning the array statement each time cost 4×
    // its execution on the bench).
    expect(Number(one?.generic_plans)).toBeGreaterThanOrEqual(4);
    expect(plans.find((p) => p.name === 'profile_roles')).toBeDefined();
  });
});

describe('a role lookup that cannot reach Postgres', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let proxy: { port: number; stop: () => Promise<void> };
  let userId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    userId = await insertProfile(db.pool, { role: 'user' });
    proxy = await startTcpProxy(new URL(db.url));
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    gateway = await createTestGateway({ url: proxied.toString() }, { AUTH_ROLE_CACHE_MS: '0' });
  });

  afterAll(async () => {
    await gateway?.close().catch(() => undefined);
    await proxy?.stop();
    await db?.drop();
  });

  it('answers 503 UNAVAILABLE with Retry-After, never 500, and the process keeps serving', async () => {
    const token = await gateway.token({ sub: userId, role: 'user' });
    expect((await postGraphQL(gateway, ME, { token })).body.data?.me?.id).toBe(userId);
    await proxy.stop();
    const res = await postGraphQL(gateway, ME, { token });
    expect(res.status).toBe(503);
    expect(firstCode(res.body)).toBe('UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('2');
    expect(res.raw).not.toMatch(/ECONNREFUSED|SELECT/);
    const health = await gateway.app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
  });
});
