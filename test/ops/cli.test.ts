import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opsActions } from '../../src/ops/actions.js';
import { parseArgs, runCli, UsageError } from '../../src/ops/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { embeddingFor, insertCategory, insertInterest } from '../support/fixtures.js';
import { testConfig } from '../support/gateway.js';
import { countWhere } from '../support/opsHarness.js';

/** `npm run ops -- <action>`: the same actions from a shell, with exit codes a cron job can act on. */

const root = fileURLToPath(new URL('../..', import.meta.url));

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs src/ops/cli.ts as its own process with only the environment an operator's shell would give. */
function runOps(db: TestDatabase, args: readonly string[]): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx/esm', 'src/ops/cli.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface AuditRowSeen {
  id: string;
  actor_id: string | null;
  actor_role: string;
  action: string;
  args: unknown;
  result: unknown;
  ok: boolean;
  request_id: string | null;
}

describe('ops CLI', () => {
  let db: TestDatabase;
  let categoryId: number;
  let interestId: number;
  /** Failed discovery items by the attempts they had failed. */
  let errorIds: Map<number, string>;
  /** Failed items the misspelt command must leave alone (6 attempts: below 7, not below 6). */
  let typoIds: string[];

  const insertFailed = async (attempts: number) => {
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason, status, attempts, last_error)
       VALUES ($1, $2, 'new_interest', 'error', $3, $4) RETURNING id::text`,
      [interestId, categoryId, attempts, `failed after ${attempts} attempts`],
    );
    return rows[0]!.id;
  };
  const statusOf = async (ids: readonly string[]) => {
    const { rows } = await db.pool.query<{ id: string; status: string; attempts: number }>(
      'SELECT id::text, status, attempts FROM marketplace_discovery_queue WHERE id = ANY($1::bigint[])',
      [ids],
    );
    return ids.map((id) => {
      const row = rows.find((r) => r.id === id);
      return { status: row?.status, attempts: row?.attempts };
    });
  };
  const auditedAs = (action: string) => countWhere(db.pool, 'ops_audit', `action = '${action}'`);

  beforeAll(async () => {
    db = await createTestDatabase();
    categoryId = await insertCategory(db.pool);
    interestId = await insertInterest(db.pool, { categoryId, embedding: embeddingFor(3) });
    errorIds = new Map();
    for (const attempts of [3, 5, 6]) errorIds.set(attempts, await insertFailed(attempts));
    typoIds = [await insertFailed(6), await insertFailed(6)];
  });

  afterAll(async () => {
    await db?.drop();
  });

  describe('parseArgs', () => {
    it('reads --name value pairs, dotted names as nested objects and a bare --flag as true', () => {
      expect(parseArgs(['--a', '1', '--b.c', 'x', '--flag'])).toEqual({ a: '1', b: { c: 'x' }, flag: true });
    });

    it('reads --name=value, keeps values as strings and takes a negative number as a value', () => {
      expect(parseArgs(['--maxAttempts=6', '--restart', 'false', '--retentionDays', '-5'])).toEqual({
        maxAttempts: '6',
        restart: 'false',
        retentionDays: '-5',
      });
      expect(parseArgs(['--b.c', 'x', '--b.d', 'y', '--dry', '--e', '2'])).toEqual({
        b: { c: 'x', d: 'y' },
        dry: true,
        e: '2',
      });
    });

    it('keeps an = inside a --name=value value', () => {
      expect(parseArgs(['--reason=p95=2x baseline'])).toEqual({ reason: 'p95=2x baseline' });
    });

    it('refuses a word that is not --name', () => {
      expect(() => parseArgs(['requeue'])).toThrow(UsageError);
      expect(() => parseArgs(['--a', '1', 'stray', 'x'])).toThrow(/expected --name, got "stray"/);
      expect(() => parseArgs(['--'])).toThrow(UsageError);
    });

    it('never writes through __proto__ into every object', () => {
      const probe = {} as Record<string, unknown>;
      try {
        try {
          parseArgs(['--__proto__.polluted', 'yes']);
        } catch (error) {
          // Refusing the name is fine too.
          expect(error).toBeInstanceOf(UsageError);
        }
        expect(probe.polluted).toBeUndefined();
      } finally {
        delete (Object.prototype as Record<string, unknown>).polluted;
      }
    });
  });

  describe('in-process', () => {
    it('alerts exits 3 when a critical rule fires', async () => {
      const config = testConfig(db, { ALERT_DISCOVERY_HIGH_RETRY: '1' });
      const lines: string[] = [];
      expect(await runCli(['alerts'], config, (line) => lines.push(line))).toBe(3);
      const alerts = JSON.parse(lines.join('\n')) as { rule: string; firing: boolean; value: number }[];
      // Five failed items with 3 or more attempts, above a limit of 1.
      expect(alerts.find((a) => a.rule === 'discovery_high_retry')).toMatchObject({ firing: true, value: 5 });
    });

    it('help prints the usage; no command at all exits 2', async () => {
      const config = testConfig(db);
      const help: string[] = [];
      expect(await runCli(['help'], config, (line) => help.push(line))).toBe(0);
      expect(help.join('\n')).toContain('usage: npm run ops');
      const none: string[] = [];
      expect(await runCli([], config, (line) => none.push(line))).toBe(2);
      expect(none.join('\n')).toContain('usage: npm run ops');
    });
  });

  // Each command is a process of its own (a few seconds to start): they run side by side, on items of
  // their own, so none of them changes what another one checks.
  describe.concurrent('as a process', () => {
    it('requeueDiscoveryErrors --maxAttempts 6 requeues below 6, prints the result as JSON and is audited as cli', async ({
      expect,
    }) => {
      const run = await runOps(db, ['requeueDiscoveryErrors', '--maxAttempts', '6']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const printed = JSON.parse(run.stdout) as {
        action: string;
        auditId: string;
        durationMs: number;
        result: { requeued: number; maxAttempts: number };
      };
      expect(printed).toMatchObject({
        action: 'requeueDiscoveryErrors',
        result: { requeued: 2, maxAttempts: 6 },
      });
      expect(await statusOf([errorIds.get(3)!, errorIds.get(5)!, errorIds.get(6)!])).toEqual([
        { status: 'queued', attempts: 0 },
        { status: 'queued', attempts: 0 },
        { status: 'error', attempts: 6 },
      ]);
      const { rows } = await db.pool.query<AuditRowSeen>(
        'SELECT id::text, actor_id, actor_role, action, args, result, ok, request_id FROM ops_audit WHERE id = $1',
        [printed.auditId],
      );
      expect(rows).toEqual([
        {
          id: printed.auditId,
          actor_id: null,
          actor_role: 'cli',
          action: 'requeueDiscoveryErrors',
          args: { maxAttempts: 6 },
          result: { requeued: 2, maxAttempts: 6 },
          ok: true,
          request_id: expect.stringMatching(/^cli:.+@.+/) as unknown,
        },
      ]);
    });

    it('list prints every action with its arguments', async ({ expect }) => {
      const run = await runOps(db, ['list']);
      expect(run.code).toBe(0);
      const names = run.stdout
        .split('\n')
        .filter((line) => /^\S/.test(line))
        .map((line) => line.split(' ')[0]);
      expect(names).toEqual(Object.keys(opsActions));
      expect(run.stdout).toContain('requeueDiscoveryErrors [--maxAttempts --reason]');
      expect(run.stdout).toContain(
        'rebuildVectorIndex [--index --lists --m --efConstruction --force --reason]',
      );
    });

    it('an unknown action exits 2 naming it, and runs nothing', async ({ expect }) => {
      const run = await runOps(db, ['requeueEverything', '--maxAttempts', '6']);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('unknown action "requeueEverything"');
      expect(await auditedAs('requeueEverything')).toBe(0);
    });

    it('a misspelt argument exits 2 naming it, and requeues nothing', async ({ expect }) => {
      const run = await runOps(db, ['requeueDiscoveryErrors', '--maxAttemps', '7']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('BAD_USER_INPUT');
      expect(run.stderr).toContain('maxAttemps');
      expect(run.stdout).toBe('');
      expect(await statusOf(typoIds)).toEqual([
        { status: 'error', attempts: 6 },
        { status: 'error', attempts: 6 },
      ]);
      expect(await countWhere(db.pool, 'ops_audit', `args ? 'maxAttemps'`)).toBe(0);
    });

    it('a NUL in an argument is BAD_USER_INPUT naming it, and neither runs nor audits anything', async ({
      expect,
    }) => {
      const config = testConfig(db);
      const before = await countWhere(db.pool, 'ops_audit', `action = 'saveFlag'`);
      const failure = await runCli(
        ['saveFlag', '--key', 'nul-flag', '--description', 'bad\u0000'],
        config,
        () => undefined,
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'description' } });
      expect((failure as Error).message).toMatch(/^description: holds a NUL character/);
      expect(await countWhere(db.pool, 'feature_flags', `key = 'nul-flag'`)).toBe(0);
      expect(await countWhere(db.pool, 'ops_audit', `action = 'saveFlag'`)).toBe(before);
    });

    it('alerts prints every rule as JSON and exits 0 while no critical rule fires', async ({ expect }) => {
      const run = await runOps(db, ['alerts']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const alerts = JSON.parse(run.stdout) as { rule: string; severity: string; firing: boolean }[];
      expect(alerts.map((a) => a.rule)).toEqual([
        'discovery_queue_p95_age',
        'kernel_p95_latency',
        'discovery_high_retry',
        'profile_embeddings_coverage',
        'learning_events_silence',
        'table_bloat',
        'vector_index_recall',
        'event_log_partitions',
      ]);
      expect(alerts.filter((a) => a.firing && a.severity === 'critical')).toEqual([]);
      // No learning event was ever recorded: the warning fires, which does not fail the command.
      expect(alerts.find((a) => a.rule === 'learning_events_silence')).toMatchObject({ firing: true });
    });
  });
});
