import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { isLockNotAvailable } from '../errors/databaseErrors.js';

/** The folder holding `<timestamp>_<name>/migration.sql`, Prisma's layout. */
export const defaultMigrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

/** Prisma's own advisory lock key, so this migrator and `prisma migrate deploy` exclude each other. */
const MIGRATION_LOCK_KEY = 72707369;

/** The bookkeeping table exactly as `prisma migrate deploy` creates it. */
const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum"            VARCHAR(64) NOT NULL,
  "finished_at"         TIMESTAMPTZ,
  "migration_name"      VARCHAR(255) NOT NULL,
  "logs"                TEXT,
  "rolled_back_at"      TIMESTAMPTZ,
  "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  sql: string;
  /** sha256 hex of migration.sql, as Prisma computes it. */
  checksum: string;
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

/** Raised when the database and the migration files disagree in a way that needs a person. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/** Reads the migration folders in name order (the timestamp prefix orders them). */
export async function readMigrations(dir: string = defaultMigrationsDir): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: checksumOf(sql) };
    }),
  );
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

async function readApplied(client: pg.ClientBase): Promise<Map<string, AppliedRow>> {
  const table = await client.query<{ exists: boolean }>(
    `SELECT to_regclass('public._prisma_migrations') IS NOT NULL AS exists`,
  );
  if (!table.rows[0]?.exists) return new Map();
  // migrator: applied migrations, newest record per name wins (a rolled-back record may precede it)
  const rows = await client.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at
       FROM _prisma_migrations
      WHERE rolled_back_at IS NULL
      ORDER BY started_at`,
  );
  return new Map(rows.rows.map((r) => [r.migration_name, r]));
}

/** Compares files with the database: refuses edited or failed migrations, lists the pending ones. */
function compare(files: MigrationFile[], applied: Map<string, AppliedRow>): MigrationStatus {
  const status: MigrationStatus = { applied: [], pending: [] };
  for (const file of files) {
    const row = applied.get(file.name);
    if (!row) {
      status.pending.push(file.name);
      continue;
    }
    if (row.finished_at === null) {
      throw new MigrationError(
        `migration ${file.name} started but never finished; fix the database by hand, then mark it ` +
          `rolled back (UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = '${file.name}')`,
      );
    }
    if (row.checksum !== file.checksum) {
      throw new MigrationError(
        `migration ${file.name} was changed after it was applied (checksum ${file.checksum} differs from the ` +
          `recorded ${row.checksum}); restore the file and add a new migration instead`,
      );
    }
    status.applied.push(file.name);
  }
  return status;
}

/** What is applied and what is pending, without changing anything. */
export async function migrationStatus(
  client: pg.ClientBase,
  dir: string = defaultMigrationsDir,
): Promise<MigrationStatus> {
  const [files, applied] = await Promise.all([readMigrations(dir), readApplied(client)]);
  return compare(files, applied);
}

export interface MigrateOptions {
  dir?: string;
  onApplied?: (name: string, ms: number) => void;
  /**
   * How long one migration waits for any lock it needs before it gives up and is retried
   * (`lock_timeout`). A statement waiting for an exclusive lock queues every later query of the table
   * behind it, so the wait is kept short. @default 3000
   */
  lockTimeoutMs?: number;
  /** Tries per migration when its lock wait times out; the waits between grow 1 s, 2 s, … @default 5 */
  lockAttempts?: number;
}

/**
 * First line of a migration that must run outside a transaction (`CREATE INDEX CONCURRENTLY`, which
 * builds an index without blocking writes). Such a file holds exactly one statement; Prisma runs its
 * files as they are, so it stays Prisma-compatible.
 */
export const NO_TRANSACTION_MARKER = '-- lodestar:no-transaction';

export const isNoTransaction = (sql: string): boolean =>
  sql.trimStart().split('\n', 1)[0]?.trim() === NO_TRANSACTION_MARKER;

const recordApplied = (client: pg.ClientBase, file: MigrationFile, started: Date, finished = true) =>
  // migrator: record the migration, as prisma migrate deploy records it (finished_at NULL = started)
  client.query<{ id: string }>(
    `INSERT INTO _prisma_migrations
       (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
     VALUES ($1, $2, CASE WHEN $5 THEN clock_timestamp() END, $3, NULL, NULL, $4, CASE WHEN $5 THEN 1 ELSE 0 END)
     RETURNING id`,
    [randomUUID(), file.checksum, file.name, started, finished],
  );

/**
 * A no-transaction migration (one `CREATE INDEX CONCURRENTLY`). It waits as long as it must: a concurrent
 * build waits for every older transaction to end but blocks no writer meanwhile, and a lock timeout
 * would leave its half-built index behind. Recorded as started first (a crash leaves a record that says
 * so), finished only when no index of the schema is left INVALID; never retried on its own.
 */
async function applyWithoutTransaction(client: pg.ClientBase, file: MigrationFile): Promise<void> {
  const { rows } = await recordApplied(client, file, new Date(), false);
  const id = rows[0]!.id;
  try {
    await client.query(file.sql);
    const invalid = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid ORDER BY 1`,
    );
    if (invalid.rows.length > 0) {
      throw new Error(`it left INVALID index(es) ${invalid.rows.map((r) => r.name).join(', ')}`);
    }
  } catch (error) {
    // migrator: forget the start record of a run that failed cleanly, so the next run tries again
    await client.query('DELETE FROM _prisma_migrations WHERE id = $1', [id]);
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(
      `migration ${file.name} (no transaction) failed: ${reason}; an index it was building concurrently ` +
        `is left INVALID: drop it (DROP INDEX CONCURRENTLY) before migrating again`,
    );
  }
  // migrator: the statement succeeded and left every index valid
  await client.query(
    'UPDATE _prisma_migrations SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1',
    [id],
  );
}

/**
 * Applies one migration and records it. A transactional migration runs in one transaction with its
 * record; every lock it asks for is waited on for at most `lockTimeoutMs`, and a migration that timed
 * out waiting is rolled back and tried again. A no-transaction one: see `applyWithoutTransaction`.
 */
export async function applyMigration(
  client: pg.ClientBase,
  file: MigrationFile,
  options: Pick<MigrateOptions, 'lockTimeoutMs' | 'lockAttempts'> = {},
): Promise<void> {
  if (isNoTransaction(file.sql)) return applyWithoutTransaction(client, file);
  const lockTimeoutMs = options.lockTimeoutMs ?? 3000;
  const attempts = options.lockAttempts ?? 5;
  for (let attempt = 1; ; attempt += 1) {
    const started = new Date();
    try {
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL lock_timeout = ${Math.round(lockTimeoutMs)}`);
        await client.query(file.sql);
        await recordApplied(client, file, started);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      return;
    } catch (error) {
      if (isLockNotAvailable(error) && attempt < attempts) {
        await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
        continue;
      }
      const reason = error instanceof Error ? error.message : String(error);
      const why = isLockNotAvailable(error)
        ? `it waited more than ${lockTimeoutMs} ms for a lock in each of ${attempt} tries (a long ` +
          `transaction holds the table; see pg_stat_activity): ${reason}`
        : reason;
      throw new MigrationError(`migration ${file.name} failed and was rolled back: ${why}`);
    }
  }
}

/**
 * Prisma's advisory lock, session-level (released in `migrate`'s finally even when a migration fails).
 * Polled with pg_try_advisory_lock rather than waited for in pg_advisory_lock: a waiting statement is a
 * transaction, and a CREATE INDEX CONCURRENTLY in the lock holder's no-transaction migration waits for
 * every transaction older than it to end, so two migrators (two gateways starting at once) deadlocked.
 */
async function takeMigrationLock(client: pg.ClientBase): Promise<void> {
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
      MIGRATION_LOCK_KEY,
    ]);
    if (rows[0]?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * Applies pending migrations in name order, each in its own transaction (or alone, when marked
 * no-transaction), and records each in `_prisma_migrations` the way `prisma migrate deploy` does.
 * Holds Prisma's advisory lock for the whole run, so concurrent migrators (ours or Prisma's) apply each
 * migration once.
 */
export async function migrate(client: pg.ClientBase, options: MigrateOptions = {}): Promise<string[]> {
  const dir = options.dir ?? defaultMigrationsDir;
  const files = await readMigrations(dir);
  await takeMigrationLock(client);
  try {
    await client.query(createMigrationsTable);
    const { pending } = compare(files, await readApplied(client));
    const appliedNow: string[] = [];
    for (const name of pending) {
      const file = files.find((f) => f.name === name);
      if (!file) continue;
      const t0 = performance.now();
      await applyMigration(client, file, options);
      appliedNow.push(file.name);
      options.onApplied?.(file.name, performance.now() - t0);
    }
    await restrictTemporaryObjects(client);
    return appliedNow;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}

/**
 * TEMP on the database is granted to PUBLIC by default, so every role (the gateway's, the worker's)
 * could create temporary tables and views, which shadow the schema's own for any code that does not
 * search pg_temp last. Only the database owner keeps it. Database-level grants are not copied by
 * `CREATE DATABASE ... TEMPLATE` and are not part of any migration's objects, so this runs on every
 * migrate (idempotent, also when nothing is pending) rather than once in a migration file. A migrating
 * role that may not grant on the database (neither owner nor superuser) changes nothing here; the
 * gateway and the worker then refuse to start in production while their role still has TEMP.
 */
export async function restrictTemporaryObjects(client: pg.ClientBase): Promise<void> {
  await client.query(`
DO $$
DECLARE
  v_db text := current_database();
  v_owner text := (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database());
BEGIN
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', v_db);
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', v_db, v_owner);
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING 'could not revoke TEMPORARY on database % from PUBLIC: %', v_db, SQLERRM;
END $$`);
}

/** Connects with a URL, migrates, disconnects. */
export async function migrateUrl(url: string, options: MigrateOptions = {}): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  // A lost connection fails the statement in progress; the event itself must not end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`SET client_min_messages = warning`);
    return await migrate(client, options);
  } finally {
    await client.end();
  }
}
