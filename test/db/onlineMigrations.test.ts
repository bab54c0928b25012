import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyMigration,
  checksumOf,
  defaultMigrationsDir,
  migrateUrl,
  MigrationError,
  migrationStatus,
  NO_TRANSACTION_MARKER,
  readMigrations,
  type MigrationFile,
} from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { checkOnlineMigration, onlineVerdict, verdictOf } from '../support/onlineMigrations.js';

/**
 * Issue #18 item 5: every migration from here on is online. The migrations up to and including this one
 * were written before the rule and are not held to it.
 */
const ONLINE_SINCE = '20261208010000_inactive_listings_index';
const ALLOWED_MS = 300;

const fileOf = (name: string, sql: string): MigrationFile => ({ name, sql, checksum: checksumOf(sql) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('online migrations', () => {
  it('every migration after the cutoff rewrites no hot table, closes none to writes, and removes nothing in use', async () => {
    const files = await readMigrations();
    const cutoff = files.findIndex((f) => f.name === ONLINE_SINCE);
    expect(cutoff).toBeGreaterThanOrEqual(0);
    // One database at the cutoff, moved forward one checked migration at a time, as deploys find it.
    const db = await createTestDatabase({ template: null });
    const dir = await mkdtemp(path.join(tmpdir(), 'lodestar-online-'));
    try {
      for (const earlier of files.slice(0, cutoff + 1)) {
        await cp(path.join(defaultMigrationsDir, earlier.name), path.join(dir, earlier.name), {
          recursive: true,
        });
      }
      await migrateUrl(db.url, { dir });
      for (const file of files.slice(cutoff + 1)) {
        const report = await checkOnlineMigration(db.url, file, { allowedMs: ALLOWED_MS });
        expect(verdictOf(file.name, report)).toEqual(onlineVerdict(file.name));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  }, 120_000);

  it('a gateway of the previous version (without the newest migration) starts on the migrated database', async () => {
    const db = await createTestDatabase();
    const dir = await mkdtemp(path.join(tmpdir(), 'lodestar-previous-'));
    const client = new pg.Client({ connectionString: db.url });
    client.on('error', () => undefined);
    try {
      const files = await readMigrations();
      for (const file of files.slice(0, -1)) {
        await cp(path.join(defaultMigrationsDir, file.name), path.join(dir, file.name), { recursive: true });
      }
      await client.connect();
      // What it checks before serving (ensureMigrated): nothing pending, the newer migration ignored.
      expect(await migrationStatus(client, dir)).toEqual({
        applied: files.slice(0, -1).map((f) => f.name),
        pending: [],
      });
    } finally {
      await client.end();
      await rm(dir, { recursive: true, force: true });
      await db.drop();
    }
  });

  describe('the check', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
      db.pool.on('error', () => undefined);
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('passes expand steps: a nullable column and an index built concurrently (no transaction)', async () => {
      const add = await checkOnlineMigration(
        db.url,
        fileOf('t1_add_column', 'ALTER TABLE likes ADD COLUMN online_note text;'),
        { allowedMs: ALLOWED_MS },
      );
      expect(add).toMatchObject({ rewritten: [], blocked: [], refused: [], removed: [] });
      const index = await checkOnlineMigration(
        db.url,
        fileOf(
          't2_index',
          `${NO_TRANSACTION_MARKER}\nCREATE INDEX CONCURRENTLY likes_online_note_idx ON likes (online_note);\n`,
        ),
        { allowedMs: ALLOWED_MS },
      );
      expect(index).toMatchObject({ rewritten: [], blocked: [], refused: [], removed: [] });
      const { rows } = await db.pool.query<{ valid: boolean }>(
        `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'likes_online_note_idx'::regclass`,
      );
      expect(rows).toEqual([{ valid: true }]);
    });

    it('catches a rewrite, a long write lock, a blocking index build, a dropped column and a required new column', async () => {
      // A volatile default fills every existing row: the table is rewritten under an exclusive lock.
      const rewrite = await checkOnlineMigration(
        db.url,
        fileOf('t3_rewrite', 'ALTER TABLE follows ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();'),
        { allowedMs: ALLOWED_MS },
      );
      expect(rewrite.rewritten).toEqual(['follows']);
      expect(rewrite.removed).toEqual([]);

      const held = await checkOnlineMigration(
        db.url,
        fileOf('t4_long_lock', 'LOCK TABLE comments IN SHARE MODE; SELECT pg_sleep(1);'),
        { allowedMs: ALLOWED_MS },
      );
      expect(held.blocked).toEqual(['comments']);
      expect(held.longestWaitMs).toBeGreaterThanOrEqual(ALLOWED_MS);

      const index = await checkOnlineMigration(
        db.url,
        fileOf('t5_index', 'CREATE INDEX profiles_online_idx ON profiles (created_at);'),
        { allowedMs: ALLOWED_MS },
      );
      expect(index.refused).toEqual([
        'profiles.profiles_online_idx: index built inside a transaction (blocks writes while it builds; use a no-transaction migration with CREATE INDEX CONCURRENTLY)',
      ]);

      const drop = await checkOnlineMigration(
        db.url,
        fileOf('t6_drop', 'ALTER TABLE likes DROP COLUMN online_note;'),
        { allowedMs: ALLOWED_MS },
      );
      expect(drop.removed).toEqual(['likes.online_note:text']);
      // Named as the contract step, the same drop is allowed.
      await db.pool.query('ALTER TABLE likes ADD COLUMN online_note2 text');
      const contract = await checkOnlineMigration(
        db.url,
        fileOf(
          't7_contract',
          '-- lodestar:contract likes.online_note2\nALTER TABLE likes DROP COLUMN online_note2;',
        ),
        { allowedMs: ALLOWED_MS },
      );
      expect(contract.removed).toEqual([]);

      // A column the previous version's inserts do not name must be nullable or have a default.
      const required = await checkOnlineMigration(
        db.url,
        fileOf('t10_required', 'ALTER TABLE comments ADD COLUMN language text NOT NULL;'),
        { allowedMs: ALLOWED_MS },
      );
      expect(required.breaksOldWriters).toEqual(['comments.language']);
      const defaulted = await checkOnlineMigration(
        db.url,
        fileOf('t11_defaulted', "ALTER TABLE comments ADD COLUMN script text NOT NULL DEFAULT 'latin';"),
        { allowedMs: ALLOWED_MS },
      );
      expect(defaulted).toMatchObject({ rewritten: [], breaksOldWriters: [], removed: [] });
    });

    it('reads from the catalog what an empty table cannot show: rebuilt indexes, validated constraints, NOT NULL', async () => {
      const check = (name: string, sql: string) =>
        checkOnlineMigration(db.url, fileOf(name, sql), { allowedMs: ALLOWED_MS });
      expect((await check('t12_reindex', 'REINDEX TABLE likes;')).refused.length).toBeGreaterThan(0);
      expect((await check('t13_check', 'ALTER TABLE likes ADD COLUMN w int CHECK (w > 0);')).refused).toEqual(
        [
          'likes.likes_w_check: constraint added validated (scans the table under lock; add it NOT VALID, VALIDATE it later)',
        ],
      );
      expect(
        (
          await check(
            't14_not_valid',
            'ALTER TABLE likes ADD CONSTRAINT likes_w2 CHECK (w < 1000) NOT VALID;',
          )
        ).refused,
      ).toEqual([]);
      // Validated in a later migration: a scan under SHARE UPDATE EXCLUSIVE, which blocks no writer.
      expect(
        (await check('t14_validate', 'ALTER TABLE likes VALIDATE CONSTRAINT likes_w2;')).refused,
      ).toEqual([]);
      expect((await check('t15_not_null', 'ALTER TABLE likes ALTER COLUMN w SET NOT NULL;')).refused).toEqual(
        ['likes.w: made NOT NULL (scans the table under an exclusive lock; keep a validated CHECK instead)'],
      );
      // An index locked exclusively blocks every query that plans against the table.
      await db.pool.query('CREATE INDEX likes_probe_idx ON likes (created_at)');
      const held = await check(
        't16_index_lock',
        'ALTER INDEX likes_probe_idx SET TABLESPACE pg_default; SELECT pg_sleep(1);',
      );
      expect(held.blocked).toContain('likes');
    });

    it('sees what the previous version relies on beyond columns: policies, grants, enum labels, function results', async () => {
      const check = (name: string, sql: string) =>
        checkOnlineMigration(db.url, fileOf(name, sql), { allowedMs: ALLOWED_MS });
      const { rows } = await db.pool.query<{ name: string; args: string }>(
        `SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args
           FROM pg_proc p JOIN pg_depend d ON d.refobjid = p.oid
           JOIN pg_policy pol ON pol.oid = d.objid
          WHERE p.pronamespace = 'public'::regnamespace LIMIT 1`,
      );
      const fn = rows[0]!;
      const source = await db.pool.query<{ def: string }>(
        `SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p
          WHERE p.proname = $1 AND p.pronamespace = 'public'::regnamespace`,
        [fn.name],
      );
      // Dropping a policy's function with CASCADE and making it again silently drops the policies.
      const cascade = await check(
        't17_cascade',
        `DROP FUNCTION ${fn.name}(${fn.args}) CASCADE;\n${source.rows[0]!.def};`,
      );
      expect(cascade.removed.some((key) => key.startsWith('policy '))).toBe(true);
      const revoke = await check('t18_revoke', 'REVOKE ALL ON follows FROM lodestar_app;');
      expect(revoke.removed.some((key) => key.startsWith('grant follows lodestar_app'))).toBe(true);
      // Contracting a whole table covers its columns, policies and grants, and nothing is "rewritten".
      await db.pool.query('CREATE TABLE online_old (id int PRIMARY KEY, note text)');
      const dropped = await check(
        't19_drop_table',
        '-- lodestar:contract online_old\nDROP TABLE online_old;',
      );
      expect(dropped).toMatchObject({ removed: [], rewritten: [], blocked: [] });
    });
  });

  describe('lock_timeout', () => {
    let db: TestDatabase;
    let holder: pg.Client;
    let migrator: pg.Client;
    beforeAll(async () => {
      db = await createTestDatabase();
      db.pool.on('error', () => undefined);
      holder = new pg.Client({ connectionString: db.url });
      migrator = new pg.Client({ connectionString: db.url });
      for (const c of [holder, migrator]) {
        c.on('error', () => undefined);
        await c.connect();
      }
    });
    afterAll(async () => {
      await holder?.end();
      await migrator?.end();
      await db?.drop();
    });

    it('a migration that cannot get its lock gives up within lock_timeout, and readers behind it are not held', async () => {
      // A long transaction has read the table: ALTER TABLE must wait for it.
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM likes');
      const started = performance.now();
      const attempt = applyMigration(
        migrator,
        fileOf('t8_wait', 'ALTER TABLE likes ADD COLUMN waited int;'),
        {
          lockTimeoutMs: 400,
          lockAttempts: 2,
        },
      );
      const outcome = attempt.then(
        () => null,
        (error: unknown) => error,
      );
      // A reader arriving while the migration waits queues behind it, but only until lock_timeout.
      await sleep(100);
      const readStarted = performance.now();
      await db.pool.query('SELECT count(*) FROM likes');
      const readMs = performance.now() - readStarted;
      const error = await outcome;
      const ms = performance.now() - started;
      await holder.query('ROLLBACK');
      expect(error).toBeInstanceOf(MigrationError);
      expect(String(error)).toMatch(/waited more than 400 ms for a lock in each of 2 tries/);
      // Two waits of 400 ms and one pause of 1 s between them; no waiting for the holder.
      expect(ms).toBeLessThan(2 * 400 + 1000 + 1000);
      expect(readMs).toBeLessThan(400 + 500);
      const { rows } = await db.pool.query(
        `SELECT 1 FROM information_schema.columns WHERE table_name = 'likes' AND column_name = 'waited'`,
      );
      expect(rows).toEqual([]);
    });

    it('a concurrent index build that fails is reported with its INVALID index, recorded as nothing, and not retried over it', async () => {
      await db.pool.query('CREATE TABLE online_dup (v int); INSERT INTO online_dup VALUES (1), (1)');
      const build = (name: string, ifNotExists: string) =>
        applyMigration(
          migrator,
          fileOf(
            name,
            `${NO_TRANSACTION_MARKER}\nCREATE UNIQUE INDEX CONCURRENTLY ${ifNotExists} online_dup_v ON online_dup (v);\n`,
          ),
        ).then(
          () => null,
          (error: unknown) => error,
        );
      const failed = await build('t20_unique', '');
      expect(failed).toBeInstanceOf(MigrationError);
      expect(String(failed)).toMatch(
        /left INVALID: drop it \(DROP INDEX CONCURRENTLY\) before migrating again/,
      );
      // IF NOT EXISTS would skip over the broken index: the check of every index's validity refuses.
      const skipped = await build('t21_unique_again', 'IF NOT EXISTS');
      expect(String(skipped)).toMatch(/left INVALID index\(es\) online_dup_v/);
      const { rows } = await db.pool.query(
        `SELECT 1 FROM _prisma_migrations WHERE migration_name IN ('t20_unique', 't21_unique_again')`,
      );
      expect(rows).toEqual([]);
      await db.pool.query('DROP TABLE online_dup');
    });

    it('tries again after a lock timeout and succeeds once the long transaction is over', async () => {
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM likes');
      const applied = applyMigration(
        migrator,
        fileOf('t9_retry', 'ALTER TABLE likes ADD COLUMN retried int;'),
        {
          lockTimeoutMs: 300,
          lockAttempts: 3,
        },
      );
      await sleep(500);
      await holder.query('COMMIT');
      await applied;
      const { rows } = await db.pool.query<{ name: string }>(
        `SELECT migration_name AS name FROM _prisma_migrations WHERE migration_name = 't9_retry'`,
      );
      expect(rows).toEqual([{ name: 't9_retry' }]);
    });
  });
});
