import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUrl } from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testJwtSecret } from '../support/gateway.js';
import {
  killGatewayProcesses,
  listeningUrl,
  startGatewayProcess as startProcess,
} from '../support/process.js';

describe('gateway process', () => {
  let db: TestDatabase;
  let empty: TestDatabase;
  /** A production-style login: LOGIN, a member of lodestar_app and nothing else (docs/security.md). */
  const login = `lodestar_gw_${randomBytes(4).toString('hex')}`;
  let loginUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    empty = await createTestDatabase({ template: null });
    // A clone has the default database ACL (TEMP for PUBLIC); the migrator takes TEMP away, as it does
    // on every real database it migrates.
    await migrateUrl(db.url);
    await db.pool.query(
      `CREATE ROLE ${login} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE IN ROLE lodestar_app`,
    );
    const url = new URL(db.url);
    url.username = login;
    loginUrl = url.toString();
  });

  afterAll(async () => {
    killGatewayProcesses();
    await db.drop();
    // Roles are cluster-wide: drop the login once its database (and so its sessions) is gone.
    await empty.pool.query(`DROP ROLE IF EXISTS ${login}`);
    await empty.drop();
  });

  it('refuses to start on bad configuration, one clear line per variable, exit code 2', async () => {
    const started = startProcess({ DATABASE_URL: 'mysql://x', JWT_SECRET: 'short', PORT: 'abc' });
    expect(await started.exit).toBe(2);
    expect(started.output()).toContain(
      'DATABASE_URL must be a postgres:// or postgresql:// URL, got "mysql://x"',
    );
    expect(started.output()).toContain('PORT must be a whole number from 0 to 65535, got "abc"');
    expect(started.output()).toContain('JWT_SECRET must be at least 32 characters');
  });

  it('refuses to serve a database with pending migrations unless MIGRATE_ON_START is set', async () => {
    const started = startProcess({ DATABASE_URL: empty.url, JWT_SECRET: testJwtSecret });
    expect(await started.exit).toBe(1);
    expect(started.output()).toMatch(
      /pending migration\(s\) \(20261128000000_init.*run `npm run db:migrate`/,
    );
  });

  it('refuses to run as a role that would bypass row-level security', async () => {
    const started = startProcess({
      DATABASE_URL: db.url,
      JWT_SECRET: testJwtSecret,
      DATABASE_ROLE: 'postgres',
    });
    expect(await started.exit).toBe(1);
    expect(started.output()).toContain('database role \\"postgres\\" is a superuser');
    expect(started.output()).toContain('row-level security would not apply');
  });

  it('in production refuses a superuser login (RESET ROLE would regain it) with one clear line, exit 1', async () => {
    const started = startProcess({ DATABASE_URL: db.url, JWT_SECRET: testJwtSecret, NODE_ENV: 'production' });
    expect(await started.exit).toBe(1);
    expect(started.output()).toContain(
      'the login role \\"postgres\\" is a superuser and has BYPASSRLS and owns tables in schema public, ' +
        'which a RESET ROLE would regain',
    );
    expect(started.output()).not.toContain('Lodestar gateway is listening');
  });

  it('outside production starts with a superuser login but warns about it', async () => {
    const started = startProcess({ DATABASE_URL: db.url, JWT_SECRET: testJwtSecret, NODE_ENV: 'test' });
    await listeningUrl(started);
    expect(started.output()).toContain('the login role \\"postgres\\" is a superuser');
    expect(started.output()).toContain('(refused in production)');
    started.child.kill('SIGTERM');
    expect(await started.exit).toBe(0);
  });

  it('in production refuses while the gateway roles may create temporary objects', async () => {
    const clone = await createTestDatabase();
    try {
      const url = new URL(clone.url);
      url.username = login;
      const started = startProcess({
        DATABASE_URL: url.toString(),
        JWT_SECRET: testJwtSecret,
        NODE_ENV: 'production',
      });
      expect(await started.exit).toBe(1);
      expect(started.output()).toContain(
        'the role(s) lodestar_app, lodestar_service may create temporary objects on this database',
      );
    } finally {
      await clone.drop();
    }
  });

  it('in production serves no IDE, prints no demo tokens and hides introspection; development does all three', async () => {
    await db.pool.query(
      `INSERT INTO profiles (handle, display_name, role) VALUES ('demo', 'Demo', 'user'), ('admin', 'Admin', 'admin')`,
    );
    const introspection = JSON.stringify({ query: '{ __schema { queryType { name } } }' });
    const run = async (env: Record<string, string>) => {
      // Production refuses a superuser login: every run logs in as a member of lodestar_app.
      const started = startProcess({ DATABASE_URL: loginUrl, JWT_SECRET: testJwtSecret, ...env });
      const url = await listeningUrl(started);
      const ide = await fetch(url.replace(/\/graphql$/, '/graphiql'));
      const schema = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: introspection,
      });
      started.child.kill('SIGTERM');
      expect(await started.exit).toBe(0);
      return { output: started.output(), ideStatus: ide.status, schemaStatus: schema.status };
    };

    const production = await run({ NODE_ENV: 'production' });
    expect(production.ideStatus).toBe(404);
    expect(production.schemaStatus).toBe(400);
    expect(production.output).not.toContain('demo tokens');
    expect(production.output).not.toContain('GraphQL IDE');

    const introspective = await run({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' });
    expect(introspective.schemaStatus).toBe(200);

    const development = await run({ NODE_ENV: 'development' });
    expect(development.ideStatus).toBe(200);
    expect(development.schemaStatus).toBe(200);
    expect(development.output).toContain('demo tokens for the Authorization header');
  }, 120_000);

  it('migrates on start when told to, serves, and on SIGTERM finishes the in-flight request then exits 0', async () => {
    const started = startProcess({
      DATABASE_URL: empty.url,
      JWT_SECRET: testJwtSecret,
      MIGRATE_ON_START: 'true',
    });
    try {
      const url = await listeningUrl(started);
      const base = url.replace(/\/graphql$/, '');
      expect((await fetch(`${base}/readyz`)).status).toBe(200);

      // Hold a lock so the next query waits inside the gateway while we ask it to stop.
      const blocker = await empty.pool.connect();
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE categories IN ACCESS EXCLUSIVE MODE');
      const inFlight = fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ categories { slug } }' }),
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      started.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      await blocker.query('ROLLBACK');
      blocker.release();

      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ data: { categories: [] } });
      const code = await started.exit;
      expect(started.output()).toContain('shutting down');
      expect(started.output()).toContain('"msg":"stopped"');
      expect(code).toBe(0);
    } finally {
      if (started.child.exitCode === null) started.child.kill('SIGKILL');
    }
  });
});
