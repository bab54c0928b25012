import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { testDatabaseAdminUrl } from '../support/env.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** `npm run eval` with these flags; its DATABASE_URL names a port nothing listens on. */
async function evalCli(args: string[]): Promise<{ code: number; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx/esm', 'scripts/eval.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' },
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stderr };
}

describe('npm run eval refuses bad flags and an unreachable server (exit 2, one line saying why)', () => {
  it.each([
    [
      ['--ease-lambda', 'abc'],
      '--ease-lambda must be 0 (no EASE) or a number from 0.001 to 1000000, got "abc"',
    ],
    [['--ease-lambda', '1e-9'], 'got "1e-9"'],
    [['--ease-lambda', '2000000'], 'got "2000000"'],
    [['--taste-modes', '2'], '--taste-modes must be a number from 0 to 1, got "2"'],
    [['--feedback-examination', '5'], '--feedback-examination must be a number from 0 to 4, got "5"'],
    [['--feedback-examination', 'x'], 'got "x"'],
    [
      ['--from-database', 'postgresql://x@127.0.0.1:1/shop', '--dataset', 'seed'],
      '--dataset and --from-database exclude each other',
    ],
    [
      ['--variants', 'typo:FEED_EPSLON=0'],
      'FEED_EPSLON in "typo:FEED_EPSLON=0" is not a Lodestar setting (did you mean FEED_EPSILON?)',
    ],
    // Past the flags: the first connection, to a port nothing listens on.
    [['--variants', 'default'], 'eval: cannot connect to Postgres at 127.0.0.1:1 (ECONNREFUSED'],
  ])(
    '%j',
    async (args, message) => {
      const { code, stderr } = await evalCli(args);
      expect(code).toBe(2);
      expect(stderr).toContain(message);
      expect(stderr).not.toMatch(/\n\s+at /);
    },
    30_000,
  );
});

describe('npm run eval with a login that may not create databases', () => {
  it('says so with exit 2 and one line', async () => {
    const role = `eval_nocreate_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: testDatabaseAdminUrl });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN NOCREATEDB`);
      const url = new URL(testDatabaseAdminUrl);
      url.username = role;
      url.password = '';
      const { code, stderr } = await evalCli(['--database-url', url.toString(), '--variants', 'default']);
      expect(code).toBe(2);
      expect(stderr).toContain(
        "permission denied to create database: the harness's login must be allowed to CREATE DATABASE",
      );
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      await admin.end();
    }
  }, 30_000);
});
