import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, onTestFinished } from 'vitest';
import { createProgress } from '../../src/import/progress.js';
import { runImport, type ImportOptions, type ImportSummary } from '../../src/import/runImport.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { test } from '../support/testFixtures.js';
import { snapshot, updatedAts, writeImportDataset, type ImportDataset } from './importData.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

const quiet = createProgress({ write: () => undefined, tty: false });

function options(db: TestDatabase, data: ImportDataset, extra: Partial<ImportOptions> = {}): ImportOptions {
  return {
    pool: db.pool,
    source: 'shop',
    files: data.files,
    rejectsPath: path.join(data.dir, 'rejects.ndjson'),
    batchSize: 4,
    retentionDays: 90,
    progress: quiet,
    log: () => undefined,
    ...extra,
  };
}

/** Each test imports into a database of its own (the file's \`db\` fixture is shared by its tests). */
async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  onTestFinished(() => db.drop());
  return db;
}

const byKind = (summary: ImportSummary) => Object.fromEntries(summary.files.map((f) => [f.kind, f]));

/** Runs the CLI as a child process (npm run import's script) and collects its output. */
async function runCli(
  db: TestDatabase,
  data: ImportDataset,
  env: Record<string, string> = {},
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx/esm',
      'scripts/import.ts',
      '--source',
      'shop',
      '--categories',
      data.files.categories,
      '--users',
      data.files.users,
      '--interests',
      data.files.interests,
      '--listings',
      data.files.listings,
      '--user-interests',
      data.files.userInterests,
      '--interactions',
      data.files.interactions,
      '--rejects',
      path.join(data.dir, 'cli-rejects.ndjson'),
      '--batch-size',
      '3',
    ],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: db.url, ...env },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  return { code, signal, stdout, stderr };
}

describe('bulk import', () => {
  test('imports every kind of file with original timestamps, exact counters and rejects', async () => {
    const db = await freshDatabase();
    const data = await writeImportDataset();
    const summary = await runImport(options(db, data));
    const files = byKind(summary);
    for (const [kind, n] of Object.entries(data.expected.rejected))
      expect(files[kind]?.rejected, kind).toBe(n);
    expect(files.interactions?.skippedOld).toBe(data.expected.skippedOld);
    expect(files.listings).toMatchObject({ inserted: 8, rejected: 2 });

    const counts = await db.pool.query<{ likes: number; follows: number; signals: number }>(
      `SELECT (SELECT count(*)::int FROM likes) AS likes, (SELECT count(*)::int FROM follows) AS follows,
              (SELECT count(*)::int FROM intent_signals) AS signals`,
    );
    expect(counts.rows[0]).toEqual({
      likes: data.expected.likes,
      follows: data.expected.follows,
      signals: data.expected.signals,
    });
    // Counters come from the triggers, one step per row actually inserted.
    const { rows: listings } = await db.pool.query<{ external_id: string; like_count: number }>(
      `SELECT external_id, like_count FROM marketplace_listings WHERE source = 'shop'`,
    );
    for (const l of listings)
      expect(l.like_count, l.external_id).toBe(data.expected.likeCounts[l.external_id] ?? 0);
    const { rows: u0 } = await db.pool.query(
      `SELECT follower_count, following_count FROM profiles WHERE source = 'shop' AND external_id = 'u0'`,
    );
    expect(u0[0]).toEqual({ follower_count: 2, following_count: 1 });
    // Likes keep their original time.
    const { rows: like } = await db.pool.query<{ created_at: Date }>(
      `SELECT k.created_at FROM likes k JOIN marketplace_listings l ON l.id = k.listing_id
       WHERE l.external_id = 'l2' AND k.created_at < now() - interval '100 days'`,
    );
    expect(like).toHaveLength(1);

    const rejects = (await readFile(path.join(data.dir, 'rejects.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; line: number; field: string; message: string });
    expect(rejects).toHaveLength(Object.values(data.expected.rejected).reduce((a, b) => a + b, 0));
    expect(rejects).toContainEqual({
      file: data.files.listings,
      line: 5, // the header, then l0 over two lines (a quoted newline), l1, then this one
      field: 'category',
      message: 'names no category ("gardening")',
    });
    expect(rejects).toContainEqual(
      expect.objectContaining({
        file: data.files.interactions,
        field: 'target',
        message: expect.stringMatching(/no listing/) as unknown,
      }),
    );
    expect(rejects).toContainEqual(
      expect.objectContaining({ file: data.files.users, line: 8, field: '(record)' }),
    );
    expect(rejects).toContainEqual(
      expect.objectContaining({ file: data.files.userInterests, field: 'affinity' }),
    );
    // Checkpoints are gone once a run completes.
    const { rows: left } = await db.pool.query(`SELECT * FROM import_checkpoints`);
    expect(left).toEqual([]);
  });

  test('defers the like and follow counters and leaves them exact, without the refresh', async () => {
    const db = await freshDatabase();
    const data = await writeImportDataset();
    const logs: string[] = [];
    const summary = await runImport(options(db, data, { log: (line) => logs.push(line) }));
    expect(summary.derived).toBeNull();
    // The triggers skipped the imported rows (the recount had to write them), and the recount fixed all.
    expect(summary.recounted.listings).toBeGreaterThan(0);
    expect(summary.recounted.profiles).toBeGreaterThan(0);
    expect(logs.some((l) => /^counters recounted \(\d+ listings, \d+ profiles\)/.test(l))).toBe(true);
    const { rows: wrong } = await db.pool.query(
      `SELECT 'listing' AS t, id::text FROM marketplace_listings l
       WHERE like_count <> (SELECT count(*) FROM likes k WHERE k.listing_id = l.id)
       UNION ALL
       SELECT 'profile', user_id::text FROM profiles p
       WHERE follower_count <> (SELECT count(*) FROM follows f WHERE f.followee_id = p.user_id)
          OR following_count <> (SELECT count(*) FROM follows f WHERE f.follower_id = p.user_id)`,
    );
    expect(wrong).toEqual([]);
    // A re-run inserts nothing and has nothing to correct.
    const again = await runImport(options(db, data));
    expect(again.recounted).toEqual({ listings: 0, profiles: 0 });
  });

  test('a run interrupted in the interactions recounts every counter when resumed', async () => {
    const db = await freshDatabase();
    const data = await writeImportDataset();
    let kind = '';
    const tracking = { ...quiet, start: (label: string) => (kind = label) };
    const interrupted = runImport(
      options(db, data, {
        progress: tracking,
        onBatchCommitted: () => {
          if (kind === 'interactions') throw new Error('crash');
        },
      }),
    );
    await expect(interrupted).rejects.toThrow('crash');
    // The committed history batch deferred its counters: they are short until the re-run completes.
    const { rows: short } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM marketplace_listings l
       WHERE like_count <> (SELECT count(*) FROM likes k WHERE k.listing_id = l.id)`,
    );
    expect(short[0]?.n).toBeGreaterThan(0);

    const logs: string[] = [];
    await runImport(options(db, data, { log: (line) => logs.push(line) }));
    expect(logs).toContainEqual(expect.stringMatching(/^counters recounted \(all, after a resumed run\)/));
    const clean = await createTestDatabase();
    try {
      await runImport(options(clean, data));
      expect(await snapshot(db.pool)).toEqual(await snapshot(clean.pool));
    } finally {
      await clean.drop();
    }
  });

  test('a re-run of the same files changes nothing', async () => {
    const db = await freshDatabase();
    const data = await writeImportDataset();
    await runImport(options(db, data));
    const before = await snapshot(db.pool);
    const stamps = await updatedAts(db.pool);
    const again = await runImport(options(db, data, { batchSize: 5 }));
    for (const file of again.files) {
      expect({ kind: file.kind, inserted: file.inserted, updated: file.updated }).toEqual({
        kind: file.kind,
        inserted: 0,
        updated: 0,
      });
    }
    expect(byKind(again).interactions?.unchanged).toBeGreaterThan(0);
    expect(await snapshot(db.pool)).toEqual(before);
    expect(await updatedAts(db.pool)).toEqual(stamps);
  });

  test('runs the afterImport hook on the same pool once the files are in', async () => {
    const db = await freshDatabase();
    const data = await writeImportDataset();
    const seen: number[] = [];
    const summary = await runImport(
      options(db, data, {
        files: { categories: data.files.categories },
        afterImport: async (pool, log) => {
          log('refreshing');
          const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM categories`);
          seen.push(rows[0]?.n ?? -1);
          return { categories: rows[0]?.n ?? -1 };
        },
      }),
    );
    expect(seen).toEqual([3]);
    expect(summary.derived).toEqual({ categories: 3 });
    const without = await runImport(options(db, data, { files: { categories: data.files.categories } }));
    expect(without.derived).toBeNull();
  });

  test('a changed row is updated in place; the rest stays', async () => {
    const db = await freshDatabase();
    const data = await writeImportDataset();
    await runImport(options(db, data, { files: { categories: data.files.categories } }));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(data.files.categories, 'slug,name\nshoes,Footwear\nbikes,"Bikes, bicycles"\n');
    const summary = await runImport(options(db, data, { files: { categories: data.files.categories } }));
    expect(summary.files[0]).toMatchObject({ read: 2, inserted: 0, updated: 1, unchanged: 1 });
  });

  test('resumes after a crash where it stopped, and ends as a clean import does', async () => {
    const db = await freshDatabase();
    const data = await writeImportDataset();
    const crashed = await runCli(db, data, { LODESTAR_IMPORT_CRASH_AFTER_BATCHES: '9' });
    expect(crashed.signal).toBe('SIGKILL');
    const { rows: checkpoints } = await db.pool.query<{ kind: string; rows_done: string; finished: boolean }>(
      `SELECT kind, rows_done, finished FROM import_checkpoints ORDER BY kind`,
    );
    expect(checkpoints.some((c) => !c.finished && Number(c.rows_done) > 0)).toBe(true);

    const resumed = await runCli(db, data);
    expect(resumed.stderr).toMatch(/resum/);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/interactions\s+\d+/);

    const clean = await createTestDatabase();
    try {
      const reference = await runImport(options(clean, data));
      expect(await snapshot(db.pool)).toEqual(await snapshot(clean.pool));
      // The resumed run's summary covers both runs' rows (carried in the checkpoint).
      const summaryLine = resumed.stdout.split('\n').find((l) => l.startsWith('interactions')) ?? '';
      const interactions = byKind(reference).interactions;
      expect(summaryLine.split(/\s+/).slice(1, 2)).toEqual([String(interactions?.read)]);
    } finally {
      await clean.drop();
    }
  });

  test('the CLI prints plain progress lines off a terminal, and refuses a bad command line', async () => {
    const db = await freshDatabase();
    const data = await writeImportDataset();
    const run = await runCli(db, data);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^interactions: starting \(\d[\d,]* bytes\)$/m);
    expect(run.stderr).toMatch(/^interactions: done, \d+ rows in [\d.]+ s \([\d,]+ rows\/s/m);
    expect(run.stderr).not.toContain('\r');
    expect(run.stdout).toMatch(/^file\s+read\s+inserted\s+updated\s+unchanged\s+rejected\s+skipped-old$/m);

    const bad = spawn(process.execPath, ['--import', 'tsx/esm', 'scripts/import.ts', '--users', 'u.txt'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '' },
    });
    let err = '';
    bad.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const [code] = (await once(bad, 'exit')) as [number];
    expect(code).toBe(2);
    expect(err).toMatch(/\.ndjson, \.jsonl or \.csv/);

    // The discovery refresh's probes come from the environment, as the gateway's do: checked the same way.
    const probes = spawn(
      process.execPath,
      ['--import', 'tsx/esm', 'scripts/import.ts', '--source', 'shop', '--users', 'u.ndjson'],
      { cwd: root, env: { PATH: process.env.PATH ?? '', VECTOR_IVFFLAT_PROBES: '0' } },
    );
    let probesErr = '';
    probes.stderr.on('data', (c: Buffer) => (probesErr += c.toString()));
    const [probesCode] = (await once(probes, 'exit')) as [number];
    expect(probesCode).toBe(2);
    expect(probesErr).toContain('$VECTOR_IVFFLAT_PROBES must be a whole number from 1 to 32768, got "0"');
  });
});

describe('progress', () => {
  test('draws a bar with rows/s and an ETA from bytes on a terminal', () => {
    let t = 0;
    let out = '';
    const progress = createProgress({ write: (s) => (out += s), tty: true, now: () => t });
    progress.start('likes', 1000, 0);
    progress.update(0, 0);
    t = 2000;
    progress.update(500, 250);
    expect(out).toContain('\r\x1b[K[######------------------] likes: 500 rows 250 rows/s 25% ETA 0:06');
    t = 4000;
    progress.finish(1000, 1000);
    expect(out.endsWith('likes: done, 1,000 rows in 4.0 s (250 rows/s, 1,000 bytes)\n')).toBe(true);
  });
});
