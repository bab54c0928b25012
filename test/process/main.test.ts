import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testJwtSecret } from '../support/gateway.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Started {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exit: Promise<number | null>;
}

const children: ChildProcessWithoutNullStreams[] = [];

/** Starts the real gateway process (src/main.ts) with only the given environment. */
function startProcess(env: Record<string, string>): Started {
  // One process (no tsx wrapper), so signals reach the gateway itself.
  const child = spawn(process.execPath, ['--import', 'tsx/esm', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => output, exit };
}

async function listeningUrl(started: Started, timeoutMs = 45_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const line of started.output().split('\n')) {
      if (!line.includes('Lodestar gateway is listening')) continue;
      const { url } = JSON.parse(line) as { url: string };
      return url;
    }
    if (started.child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the gateway did not start:\n${started.output()}`);
}

describe('gateway process', () => {
  let db: TestDatabase;
  let empty: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    empty = await createTestDatabase({ template: null });
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await db.drop();
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
