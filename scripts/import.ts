/**
 * npm run import -- --source shop --categories c.csv --users u.ndjson --listings l.ndjson ...
 *
 * Loads a marketplace's own catalogue and history (issue 15) straight into the database as the owner.
 * Exit codes: 0 imported, 1 the import failed (database or file problem; re-run to resume), 2 bad
 * command line. Docs: docs/bring-your-own-data.md, "The bulk importer".
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { sourceProblem } from '../src/catalog/rows.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.js';
import { migrateUrl } from '../src/db/migrator.js';
import { embedFromInteractions } from '../src/import/embedFromInteractions.js';
import type { KindName } from '../src/import/kinds.js';
import { createProgress } from '../src/import/progress.js';
import {
  runImport,
  type AfterImport,
  type BeforeRefresh,
  type ImportFiles,
  type ImportSummary,
} from '../src/import/runImport.js';
import { refreshDerived } from '../src/import/refreshDerived.js';
import { ownerCheckSql } from '../src/import/sql.js';
import { createPool } from '../src/platform/pool.js';
import {
  DEFAULT_INTERACTION_EMBEDDING_OPTIONS,
  MAX_RANK,
  MIN_RANK,
} from '../src/embeddings/interactionEmbeddings.js';
import { redactUrl } from '../src/db/redactUrl.js';

const DEFAULT_BATCH = 1000;
const DEFAULT_RETENTION_DAYS = 90;
const DEFAULT_REJECTS = 'import-rejects.ndjson';
/** Test hook: SIGKILL this process after that many committed batches (a crash mid-run). */
const CRASH_ENV = 'LODESTAR_IMPORT_CRASH_AFTER_BATCHES';

/** After the files: every derived structure brought up to date in bulk (src/import/refreshDerived.ts). */
const refreshWith =
  (ivfflatProbes: number | undefined): AfterImport =>
  (pool, log) =>
    refreshDerived(pool, log, ivfflatProbes === undefined ? {} : { ivfflatProbes });

/** --embed interactions: src/import/embedFromInteractions.ts with the run's source and retention. */
const embedStep =
  (embed: NonNullable<CliArgs['embed']>): BeforeRefresh =>
  async (pool, log, { source, retentionCutoff }) => {
    const counts = await embedFromInteractions(
      pool,
      {
        source,
        retentionCutoff,
        overwrite: embed.overwrite,
        ...(embed.rank === undefined ? {} : { rank: embed.rank }),
      },
      log,
    );
    return { ...counts };
  };

const FILE_FLAGS: Record<string, KindName> = {
  categories: 'categories',
  users: 'users',
  interests: 'interests',
  listings: 'listings',
  'user-interests': 'userInterests',
  interactions: 'interactions',
};

const HELP = `Usage: npm run import -- --source NAME [files] [options]

Imports a marketplace's own data, each file NDJSON (.ndjson, .jsonl) or CSV with a header row (.csv),
in this order whatever the order of the flags:
  --categories FILE      slug, name (upsert by slug)
  --users FILE           externalId, handle, displayName, createdAt
  --interests FILE       externalId, slug, name, category, embedding
  --listings FILE        externalId, title, description, price, currency, category, sellerExternalId,
                         status, embedding, createdAt
  --user-interests FILE  user, interest (or interestSlug), affinity (0..1, default 0.5), createdAt
  --interactions FILE    user, type (like, follow, view, click, dwell, share, save), target, createdAt,
                         weight

Options:
  --source NAME          the upstream system's short name (required): external ids are unique per source
  --rejects PATH         where rejected rows go, one JSON line each (default ${DEFAULT_REJECTS})
  --batch-size N         rows per transaction, 1-10000 (default ${DEFAULT_BATCH})
  --retention-days D     views and other intent signals older than D days are counted and skipped
                         (default ${DEFAULT_RETENTION_DAYS}, the intent-signal retention the gc uses)
  --embed interactions   derive embeddings from the interaction history in the database (after the files,
                         before the refresh): listings of the source without an embedding get one from a
                         seeded truncated SVD of the user x listing matrix (likes 1; save, share 0.5;
                         view, click, dwell 0.2, inside the retention window); listings nobody interacted
                         with stay without one; interests of the source without an embedding get the
                         normalised mean of their category's derived listings. A re-run writes nothing.
  --embed-rank N         the SVD's rank, ${MIN_RANK}-${MAX_RANK} (default ${DEFAULT_INTERACTION_EMBEDDING_OPTIONS.rank})
  --embed-overwrite      also replace the vectors the source's listings and interests already have
  --no-refresh           do not refresh derived structures (popularity, profiles, candidates, indexes)
  --database-url URL     default: $MIGRATION_DATABASE_URL, else $DATABASE_URL, else the embedded
                         database in $EMBEDDED_DATA_DIR (default .data/pglite; stop the gateway first)
  -h, --help             show this help

Re-running the same files changes nothing; after a crash, re-running resumes after the last batch
committed. Connect as the owner of the tables (the migration role).`;

class UsageError extends Error {}

interface CliArgs {
  source: string;
  files: ImportFiles;
  rejectsPath: string;
  batchSize: number;
  retentionDays: number;
  refresh: boolean;
  /** --embed interactions: null when not asked for. */
  embed: { rank: number | undefined; overwrite: boolean } | null;
  databaseUrl: string | null;
  /** $VECTOR_IVFFLAT_PROBES: the lists the discovery refresh searches, as the gateway and worker do. */
  ivfflatProbes: number | undefined;
  help: boolean;
}

/** `name` as the user wrote it: an option (`--batch-size`) or an environment variable (`$VECTOR_IVFFLAT_PROBES`). */
function whole(name: string, raw: string, min: number, max: number): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliArgs {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  const valueFlags = new Set([
    ...Object.keys(FILE_FLAGS),
    'source',
    'rejects',
    'batch-size',
    'retention-days',
    'database-url',
    'embed',
    'embed-rank',
  ]);
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') {
      switches.add('help');
      continue;
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (match === null)
      throw new UsageError(`unexpected argument "${arg}": options look like --users u.ndjson`);
    const name = match[1] ?? '';
    if (name === 'no-refresh' || name === 'embed-overwrite') {
      switches.add(name);
    } else if (valueFlags.has(name)) {
      const value = match[2] ?? argv[i + 1];
      if (match[2] === undefined) i += 1;
      if (value === undefined || value === '' || (match[2] === undefined && value.startsWith('--'))) {
        throw new UsageError(`--${name} needs a value`);
      }
      if (values.has(name)) throw new UsageError(`--${name} was given twice; pass it once`);
      values.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}; run with --help to see the options`);
    }
  }
  const files: ImportFiles = {};
  for (const [flag, kind] of Object.entries(FILE_FLAGS)) {
    const file = values.get(flag);
    if (file === undefined) continue;
    if (!/\.(ndjson|jsonl|csv)$/i.test(file)) {
      throw new UsageError(`--${flag} ${file}: the file must end in .ndjson, .jsonl or .csv`);
    }
    files[kind] = file;
  }
  const help = switches.has('help');
  const source = values.get('source') ?? '';
  if (!help) {
    if (source === '') throw new UsageError('--source is required: the short name of the upstream system');
    const problem = sourceProblem(source);
    if (problem) throw new UsageError(`--source ${problem}`);
    if (Object.keys(files).length === 0 && !values.has('embed')) {
      throw new UsageError(
        `give at least one file (or --embed interactions): ${Object.keys(FILE_FLAGS)
          .map((f) => `--${f}`)
          .join(', ')}`,
      );
    }
  }
  const embedFrom = values.get('embed');
  if (embedFrom !== undefined && embedFrom !== 'interactions') {
    throw new UsageError(`--embed ${embedFrom}: the only way to derive embeddings is --embed interactions`);
  }
  const rank = values.get('embed-rank');
  if (embedFrom === undefined && (rank !== undefined || switches.has('embed-overwrite'))) {
    throw new UsageError('--embed-rank and --embed-overwrite go with --embed interactions');
  }
  const batch = values.get('batch-size');
  const retention = values.get('retention-days');
  return {
    source,
    files,
    rejectsPath: values.get('rejects') ?? DEFAULT_REJECTS,
    batchSize: batch === undefined ? DEFAULT_BATCH : whole('--batch-size', batch, 1, 10_000),
    retentionDays:
      retention === undefined ? DEFAULT_RETENTION_DAYS : whole('--retention-days', retention, 1, 36_500),
    refresh: !switches.has('no-refresh'),
    embed:
      embedFrom === undefined
        ? null
        : {
            rank: rank === undefined ? undefined : whole('--embed-rank', rank, MIN_RANK, MAX_RANK),
            overwrite: switches.has('embed-overwrite'),
          },
    databaseUrl: values.get('database-url') || env.MIGRATION_DATABASE_URL || env.DATABASE_URL || null,
    ivfflatProbes: env.VECTOR_IVFFLAT_PROBES
      ? whole('$VECTOR_IVFFLAT_PROBES', env.VECTOR_IVFFLAT_PROBES, 1, 32768)
      : undefined,
    help,
  };
}

function printSummary(summary: ImportSummary): void {
  const header = ['file', 'read', 'inserted', 'updated', 'unchanged', 'rejected', 'skipped-old'];
  const rows = summary.files.map((f) => [
    f.kind,
    ...[f.read, f.inserted, f.updated, f.unchanged, f.rejected, f.skippedOld].map((n) =>
      n.toLocaleString('en-US'),
    ),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const rejected = summary.files.reduce((n, f) => n + f.rejected, 0);
  console.log(
    `imported in ${(summary.elapsedMs / 1000).toFixed(1)} s` +
      (rejected > 0
        ? `; ${rejected.toLocaleString('en-US')} rejected rows in ${summary.rejectsPath}`
        : '; no rejected rows'),
  );
  if (summary.embedded) {
    const parts = Object.entries(summary.embedded).map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`);
    console.log(`embedded: ${parts.join(', ')}`);
  }
  if (summary.derived) {
    const parts = Object.entries(summary.derived).map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`);
    console.log(`derived: ${parts.join(', ')}`);
  }
}

async function main(): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`import: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  for (const file of Object.values(args.files)) {
    try {
      await access(file);
    } catch {
      console.error(`import: cannot read ${file}`);
      return 2;
    }
  }

  let embedded: EmbeddedPostgres | null = null;
  let url = args.databaseUrl;
  if (url === null) {
    // No server given: the embedded default, the same data folder the gateway uses (one process at a time).
    const dataDir = path.resolve(process.env.EMBEDDED_DATA_DIR || '.data/pglite');
    console.error(`import: no DATABASE_URL: importing into the embedded database in ${dataDir}`);
    try {
      embedded = await startEmbeddedPostgres(dataDir);
      url = embedded.url;
      await migrateUrl(url);
    } catch (error) {
      console.error(
        `import: cannot open the embedded database: ${error instanceof Error ? error.message : String(error)}`,
      );
      await embedded?.close();
      return 1;
    }
  }
  const pool = createPool({
    url,
    applicationName: 'lodestar-import',
    // PGlite is one session; on a server, one connection writes and one is spare for the refresh hook.
    max: embedded ? 1 : 2,
    onError: (error) => console.error(`import: idle database connection lost: ${error.message}`),
  });
  const crashAfter = Number(process.env[CRASH_ENV] ?? 0);
  try {
    const { rows } = await pool.query<{ owner: boolean; login: string }>(ownerCheckSql);
    if (!rows[0]?.owner) {
      console.error(
        `import: ${redactUrl(url)} connects as ${rows[0]?.login ?? '?'}, which does not own the tables; ` +
          'connect as the owner (the migration role, MIGRATION_DATABASE_URL)',
      );
      return 1;
    }
    console.error(`import: source "${args.source}" -> ${embedded ? 'embedded database' : redactUrl(url)}`);
    const summary = await runImport({
      pool,
      source: args.source,
      files: args.files,
      rejectsPath: args.rejectsPath,
      batchSize: args.batchSize,
      retentionDays: args.retentionDays,
      progress: createProgress({ write: (t) => process.stderr.write(t), tty: process.stderr.isTTY === true }),
      log: (line) => console.error(line),
      ...(args.embed ? { beforeRefresh: embedStep(args.embed) } : {}),
      ...(args.refresh ? { afterImport: refreshWith(args.ivfflatProbes) } : {}),
      onBatchCommitted: (batches) => {
        if (crashAfter > 0 && batches >= crashAfter) process.kill(process.pid, 'SIGKILL');
      },
    });
    printSummary(summary);
    return 0;
  } catch (error) {
    console.error(`import: ${error instanceof Error ? error.message : String(error)}`);
    console.error('import: batches committed so far are kept; re-run the same command to resume');
    return 1;
  } finally {
    await pool.end();
    await embedded?.close();
  }
}

process.exitCode = await main();
