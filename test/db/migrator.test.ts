import { appendFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checksumOf,
  defaultMigrationsDir,
  migrate,
  migrateUrl,
  migrationStatus,
  readMigrations,
} from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

interface Recorded {
  id: string;
  checksum: string;
  migration_name: string;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
  logs: string | null;
}

async function recorded(db: TestDatabase): Promise<Recorded[]> {
  const { rows } = await db.pool.query<Recorded>('SELECT * FROM _prisma_migrations ORDER BY migration_name');
  return rows;
}

async function addMigration(dir: string, name: string, sql: string): Promise<void> {
  await cp(path.join(dir, '20261128000000_init'), path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, 'migration.sql'), sql);
}

describe('migrator', () => {
  let db: TestDatabase;
  let dir: string;

  beforeEach(async () => {
    db = await createTestDatabase({ template: null });
    dir = await mkdtemp(path.join(tmpdir(), 'lodestar-migrations-'));
    await cp(defaultMigrationsDir, dir, { recursive: true });
  });

  afterEach(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('applies every migration on a fresh database and records it the way prisma migrate deploy does', async () => {
    const files = await readMigrations(dir);
    const applied = await migrateUrl(db.url, { dir });
    expect(applied).toEqual(files.map((f) => f.name));

    const rows = await recorded(db);
    expect(rows.map((r) => r.migration_name)).toEqual(files.map((f) => f.name));
    rows.forEach((row, i) => {
      expect(row.checksum).toBe(checksumOf(files[i]!.sql));
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
    });
    const { rows: views } = await db.pool.query<{ viewname: string }>(
      `SELECT viewname FROM pg_views WHERE schemaname = 'public' AND viewname LIKE 'vw\\_%' ORDER BY viewname`,
    );
    // The runbook's four views, and the bloat view over pg_stat_user_tables.
    expect(views.map((v) => v.viewname)).toEqual(
      expect.arrayContaining([
        'vw_discovery_queue_health',
        'vw_events_queue_health',
        'vw_gap_severity',
        'vw_kernel_slos',
        'vw_table_bloat',
      ]),
    );
  });

  it('does nothing on a second run', async () => {
    await migrateUrl(db.url, { dir });
    const before = await recorded(db);
    expect(await migrateUrl(db.url, { dir })).toEqual([]);
    expect(await recorded(db)).toEqual(before);
  });

  it('applies only a migration added later', async () => {
    await migrateUrl(db.url, { dir });
    await addMigration(dir, '29991231000000_extra', 'CREATE TABLE extra_t (id int);\n');
    expect(await migrateUrl(db.url, { dir })).toEqual(['29991231000000_extra']);
    const client = await db.pool.connect();
    try {
      expect((await migrationStatus(client, dir)).pending).toEqual([]);
    } finally {
      client.release();
    }
  });

  it('refuses a migration whose file changed after it was applied, naming it', async () => {
    await migrateUrl(db.url, { dir });
    await appendFile(path.join(dir, '20261128000100_views_functions', 'migration.sql'), '\n-- edited\n');
    await expect(migrateUrl(db.url, { dir })).rejects.toThrow(
      /migration 20261128000100_views_functions was changed after it was applied/,
    );
  });

  it('rolls a failing migration back completely and names it', async () => {
    await migrateUrl(db.url, { dir });
    await addMigration(
      dir,
      '29991231000000_broken',
      'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n',
    );
    await expect(migrateUrl(db.url, { dir })).rejects.toThrow(
      /migration 29991231000000_broken failed and was rolled back: relation "no_such_table" does not exist/,
    );
    const { rows } = await db.pool.query<{ t: string | null }>(
      `SELECT to_regclass('public.half_done')::text AS t`,
    );
    expect(rows[0]!.t).toBeNull();
    expect((await recorded(db)).map((r) => r.migration_name)).not.toContain('29991231000000_broken');
  });

  it('applies each migration once when two processes migrate at the same time', async () => {
    const clients = [
      new pg.Client({ connectionString: db.url }),
      new pg.Client({ connectionString: db.url }),
    ];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      await Promise.all(clients.map((c) => c.query('SET client_min_messages = warning')));
      const [first, second] = await Promise.all(clients.map((c) => migrate(c, { dir })));
      const files = await readMigrations(dir);
      expect([...first!, ...second!].sort()).toEqual(files.map((f) => f.name).sort());
      expect(await recorded(db)).toHaveLength(files.length);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('reports pending migrations without applying them', async () => {
    const client = await db.pool.connect();
    try {
      const status = await migrationStatus(client, dir);
      expect(status.applied).toEqual([]);
      expect(status.pending).toHaveLength((await readMigrations(dir)).length);
      const { rows } = await client.query<{ t: string | null }>(
        `SELECT to_regclass('public.profiles')::text AS t`,
      );
      expect(rows[0]!.t).toBeNull();
    } finally {
      client.release();
    }
  });
});
