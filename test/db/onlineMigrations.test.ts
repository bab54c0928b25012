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
import { checkOnlineMigration, refusedStatements } from '../support/onlineMigrations.js';

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
    for (const file of files.slice(cutoff + 1)) {
      // A database at the version before it, as a deploy finds it.
      const db = await createTestDatabase({ template: null });
      const dir = await mkdtemp(path.join(tmpdir(), 'lodestar-online-'));
      try {
        for (const earlier of files.slice(0, files.indexOf(file))) {
          await cp(path.join(defaultMigrationsDir, earlier.name), path.join(dir, earlier.name), {
            recursive: true,
          });
        }
        await migrateUrl(db.url, { dir });
        const report = await checkOnlineMigration(db.url, file, { allowedMs: ALLOWED_MS });
        expect({ migration: file.name, ...report, longestWaitMs: undefined }).toEqual({
          migration: file.name,
          rewritten: [],
          blocked: [],
          refused: [],
          removed: [],
          breaksOldWriters: [],
          longestWaitMs: undefined,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
        await db.drop();
      }
    }
  });

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
        'profiles: CREATE INDEX without CONCURRENTLY (blocks writes while it builds)',
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

    it('refuses by their text the statements whose lock grows with the table', () => {
      expect(
        refusedStatements('ALTER TABLE likes ADD CONSTRAINT k FOREIGN KEY (user_id) REFERENCES profiles;'),
      ).toHaveLength(1);
      expect(
        refusedStatements(
          'ALTER TABLE likes ADD CONSTRAINT k FOREIGN KEY (user_id) REFERENCES profiles NOT VALID;',
        ),
      ).toEqual([]);
      expect(refusedStatements('ALTER TABLE public.comments ALTER COLUMN body SET NOT NULL;')).toHaveLength(
        1,
      );
      expect(refusedStatements('CREATE UNIQUE INDEX CONCURRENTLY x ON likes (user_id);')).toEqual([]);
      // Small tables are not hot: an ordinary index on them is fine.
      expect(refusedStatements('CREATE INDEX x ON categories (slug);')).toEqual([]);
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
