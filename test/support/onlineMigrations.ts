import pg from 'pg';
import { applyMigration, isNoTransaction, type MigrationFile } from '../../src/db/migrator.js';

/**
 * The online-migration rules of docs/operations.md ("Releases without downtime"), checked by applying a
 * migration to a real database while probes keep writing to the hot tables:
 *
 * - no hot table is rewritten (its storage file changes: a column type change, a volatile default, …);
 * - no hot table is closed to writes (a `ROW EXCLUSIVE` lock, what INSERT/UPDATE/DELETE take; reads are
 *   closed only by what also closes writes) for longer than `allowedMs`;
 * - nothing whose lock lasts as long as the table is big, which an empty test table cannot show, read
 *   from the catalog: an index built or rebuilt on a hot table inside a transaction (not `CONCURRENTLY`),
 *   a check or foreign key added validated (not `NOT VALID`), a column made NOT NULL;
 * - nothing a running gateway of the previous version may use disappears or changes (tables, views,
 *   columns and their types, functions with their arguments and results, row-level security policies,
 *   grants, enum labels), unless the migration names it in a `-- lodestar:contract <object>, …` line: the
 *   contract step of an expand/contract change, shipped a release after the code stopped using it (a
 *   table named there covers its columns, policies and grants);
 * - a new column on an existing table is nullable or has a default, so the previous version's inserts,
 *   which do not name it, still work.
 *
 * Not seen: the cost of data a migration rewrites with DML (a whole-table UPDATE backfill), and triggers
 * that change what old writers may do; review those by hand.
 */
export const HOT_TABLES = [
  'profiles',
  'marketplace_listings',
  'likes',
  'comments',
  'follows',
  'learning_events',
  'intent_signals',
  'user_interests',
  'hidden_listings',
  'feed_viewer_candidates',
  'idempotency_keys',
  'events_queue',
  'listing_coengagement',
  'marketplace_discovery_queue',
] as const;

export interface OnlineReport {
  /** Hot tables whose storage was rewritten. */
  rewritten: string[];
  /** Hot tables a probe could not write to within `allowedMs`. */
  blocked: string[];
  /** What the catalog shows was built or validated under a lock that grows with the table. */
  refused: string[];
  /** Objects that existed before and are gone or changed after, not named as contracted. */
  removed: string[];
  /** New NOT NULL columns without a default on existing tables: the previous version's inserts fail. */
  breaksOldWriters: string[];
  /** Longest wait of any probe for its write lock, ms. */
  longestWaitMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a test compares for one migration: its report with the name, without the timing. */
export const verdictOf = (migration: string, report: OnlineReport) => ({
  migration,
  ...report,
  longestWaitMs: undefined,
});

/** The verdict of a migration that broke no rule. */
export const onlineVerdict = (migration: string) => ({
  migration,
  rewritten: [],
  blocked: [],
  refused: [],
  removed: [],
  breaksOldWriters: [],
  longestWaitMs: undefined,
});

/** The contract header's object names (`-- lodestar:contract likes.note, old_function`). */
function contracted(sql: string): Set<string> {
  const names = new Set<string>();
  for (const match of sql.matchAll(/^--\s*lodestar:contract\s+(.+)$/gim)) {
    for (const name of match[1]!.split(',')) names.add(name.trim());
  }
  return names;
}

/** What a gateway can depend on: tables, views, columns with types, functions with signatures. */
async function surface(client: pg.ClientBase): Promise<Map<string, string>> {
  const { rows } = await client.query<{ key: string; object: string }>(`
    SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) AS key,
           c.relname || '.' || a.attname AS object
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
       AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> '_prisma_migrations'
    UNION ALL
    SELECT c.relname, c.relname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relname <> '_prisma_migrations'
    UNION ALL
    SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || '): ' || pg_get_function_result(p.oid),
           p.proname
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'policy ' || tablename || '.' || policyname || ' ' || cmd || ' ' || roles::text || ' '
             || coalesce(qual, '') || ' ' || coalesce(with_check, ''),
           tablename || '.' || policyname
      FROM pg_policies WHERE schemaname = 'public'
    UNION ALL
    SELECT 'grant ' || c.relname || ' ' || g.grantee::regrole::text || ' ' || g.privilege_type, c.relname
      FROM pg_class c, aclexplode(c.relacl) g
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND g.grantee <> 0
    UNION ALL
    SELECT 'enum ' || t.typname || '.' || e.enumlabel, t.typname
      FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
     WHERE t.typnamespace = 'public'::regnamespace`);
  return new Map(rows.map((r) => [r.key, r.object]));
}

/** NOT NULL columns without a default, as `table.column`. */
async function requiredColumns(client: pg.ClientBase): Promise<Set<string>> {
  const { rows } = await client.query<{ key: string }>(`
    SELECT c.relname || '.' || a.attname AS key
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT a.atthasdef
       AND a.attidentity = '' AND a.attgenerated = ''`);
  return new Set(rows.map((r) => r.key));
}

/**
 * Indexes, constraints and NOT NULL columns of the hot tables, each with what identifies its build. A hot
 * table's partitions count as the table (a partitioned table's own index has no storage: its partitions'
 * indexes are what a build writes), and indexes are known by their storage (relfilenode), so an index
 * renamed with its table (a table attached as a partition under a new name) is not seen as built.
 */
async function hotCatalog(client: pg.ClientBase): Promise<{
  /** Storage of every index of a hot table or its partitions, with its table's oid and `table.index` name. */
  indexes: Map<number, { table: number; name: string }>;
  /** Check and foreign-key constraints, each with whether it is validated. */
  constraints: Map<string, boolean>;
  notNull: Set<string>;
}> {
  const tables = [[...HOT_TABLES]];
  const indexes = await client.query<{ name: string; node: number; table: number }>(
    `WITH RECURSIVE hot AS (
       SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)
       UNION SELECT i.inhrelid FROM pg_inherits i JOIN hot ON hot.oid = i.inhparent)
     SELECT t.relname || '.' || c.relname AS name, c.relfilenode AS node, t.oid::int AS table
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.oid IN (SELECT oid FROM hot) AND c.relkind = 'i'`,
    tables,
  );
  const constraints = await client.query<{ name: string; validated: boolean }>(
    `SELECT t.relname || '.' || k.conname AS name, k.convalidated AS validated
       FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
      WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY($1)
        AND k.contype IN ('c', 'f')`,
    tables,
  );
  const notNull = await client.query<{ name: string }>(
    `SELECT t.relname || '.' || a.attname AS name
       FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid
      WHERE t.relnamespace = 'public'::regnamespace AND t.relname = ANY($1)
        AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull`,
    tables,
  );
  return {
    indexes: new Map(indexes.rows.map((r) => [r.node, { table: r.table, name: r.name }])),
    constraints: new Map(constraints.rows.map((r) => [r.name, r.validated])),
    notNull: new Set(notNull.rows.map((r) => r.name)),
  };
}

async function storage(client: pg.ClientBase): Promise<Map<string, number>> {
  const { rows } = await client.query<{ relname: string; relfilenode: number }>(
    `SELECT relname, relfilenode FROM pg_class
      WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relname = ANY($1)`,
    [[...HOT_TABLES]],
  );
  return new Map(rows.map((r) => [r.relname, r.relfilenode]));
}

/**
 * Applies `file` with the real migrator (`applyMigration`) to the database at `url` (already migrated up to
 * the migration before it) while one probe per hot table writes-locks it every 20 ms, and reports what
 * broke the rules.
 */
export async function checkOnlineMigration(
  url: string,
  file: MigrationFile,
  options: { allowedMs: number },
): Promise<OnlineReport> {
  const connect = async () => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const migrator = await connect();
  const probes = await Promise.all(HOT_TABLES.map(connect));
  try {
    const before = await storage(migrator);
    const surfaceBefore = await surface(migrator);
    const requiredBefore = await requiredColumns(migrator);
    const catalogBefore = await hotCatalog(migrator);
    let stop = false;
    let longestWaitMs = 0;
    const blocked = new Set<string>();
    const probing = probes.map(async (probe, i) => {
      const table = HOT_TABLES[i]!;
      if (!before.has(table)) return;
      while (!stop) {
        const t = performance.now();
        try {
          await probe.query('BEGIN');
          await probe.query(`SET LOCAL lock_timeout = ${options.allowedMs}`);
          await probe.query(`LOCK TABLE ${table} IN ROW EXCLUSIVE MODE`);
          // Planning opens every index of the table: an index locked exclusively blocks this too.
          await probe.query(`EXPLAIN SELECT * FROM ${table}`);
        } catch (error) {
          const code = (error as { code?: string }).code;
          // The migration dropped the table (a contract step): nothing left to probe.
          if (code === '42P01') return;
          if (code !== '55P03') throw error;
          blocked.add(table);
        } finally {
          await probe.query('ROLLBACK');
        }
        longestWaitMs = Math.max(longestWaitMs, performance.now() - t);
        await sleep(20);
      }
    });
    // Every probe has locked once before the migration starts.
    await sleep(100);
    try {
      await applyMigration(migrator, file, { lockTimeoutMs: 30_000, lockAttempts: 1 });
    } finally {
      stop = true;
      await Promise.all(probing);
    }
    const after = await storage(migrator);
    const surfaceAfter = await surface(migrator);
    const requiredAfter = await requiredColumns(migrator);
    const catalogAfter = await hotCatalog(migrator);
    const tablesBefore = new Set([...surfaceBefore.values()].filter((o) => !o.includes('.')));
    const objectsBefore = new Set(surfaceBefore.values());
    const gone = contracted(file.sql);
    const allowedGone = (object: string) => gone.has(object) || gone.has(object.split('.')[0]!);
    const transactional = !isNoTransaction(file.sql);
    const tablesBeforeByOid = new Set([...catalogBefore.indexes.values()].map((i) => i.table));
    const namesBefore = new Set([...catalogBefore.indexes.values()].map((i) => i.name));
    const refused = [
      ...[...catalogAfter.indexes]
        // Storage that did not exist, on a table that did (a new table's indexes are built empty).
        .filter(([node, index]) => !catalogBefore.indexes.has(node) && tablesBeforeByOid.has(index.table))
        .filter(([, index]) => namesBefore.has(index.name) || transactional)
        .map(([, index]) =>
          namesBefore.has(index.name)
            ? `${index.name}: index rebuilt (blocks writes while it builds)`
            : `${index.name}: index built inside a transaction (blocks writes while it builds; use a no-transaction migration with CREATE INDEX CONCURRENTLY)`,
        ),
      // Validating one added NOT VALID before (VALIDATE CONSTRAINT) blocks no writer: not refused.
      ...[...catalogAfter.constraints]
        .filter(([name, validated]) => validated && !catalogBefore.constraints.has(name))
        .map(([name]) => name)
        .filter((name) => before.has(name.split('.')[0]!))
        .map(
          (name) =>
            `${name}: constraint added validated (scans the table under lock; add it NOT VALID, VALIDATE it later)`,
        ),
      ...[...catalogAfter.notNull]
        .filter((name) => !catalogBefore.notNull.has(name) && objectsBefore.has(name))
        .map(
          (name) =>
            `${name}: made NOT NULL (scans the table under an exclusive lock; keep a validated CHECK instead)`,
        ),
    ].sort();
    return {
      rewritten: [...before]
        .filter(([table, node]) => after.has(table) && after.get(table) !== node)
        .map(([table]) => table),
      blocked: [...blocked].sort(),
      refused,
      removed: [...surfaceBefore]
        .filter(([key, object]) => !surfaceAfter.has(key) && !allowedGone(object))
        .map(([key]) => key)
        .sort(),
      breaksOldWriters: [...requiredAfter]
        .filter((key) => !requiredBefore.has(key) && tablesBefore.has(key.split('.')[0]!))
        .sort(),
      longestWaitMs,
    };
  } finally {
    await Promise.all([migrator, ...probes].map((c) => c.end().catch(() => undefined)));
  }
}
