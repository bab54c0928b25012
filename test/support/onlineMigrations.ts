import pg from 'pg';
import { applyMigration, type MigrationFile } from '../../src/db/migrator.js';

/**
 * The online-migration rules of docs/operations.md ("Releases without downtime"), checked by applying a
 * migration to a real database while probes keep writing to the hot tables:
 *
 * - no hot table is rewritten (its storage file changes: a column type change, a volatile default, …);
 * - no hot table is closed to writes (a `ROW EXCLUSIVE` lock, what INSERT/UPDATE/DELETE take; reads are
 *   closed only by what also closes writes) for longer than `allowedMs`;
 * - statements whose lock lasts as long as the table is big, which a small test table cannot show, are
 *   refused by their text: `CREATE INDEX` without `CONCURRENTLY`, a foreign key or check constraint
 *   added without `NOT VALID`, `SET NOT NULL`;
 * - nothing a running gateway of the previous version may use disappears or changes type (tables, views,
 *   columns, functions), unless the migration names it in a `-- lodestar:contract <object>, …` line: the
 *   contract step of an expand/contract change, shipped a release after the code stopped using it;
 * - a new column on an existing table is nullable or has a default, so the previous version's inserts,
 *   which do not name it, still work.
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
  /** Statements refused by their text, with the rule. */
  refused: string[];
  /** Objects that existed before and are gone or changed after, not named as contracted. */
  removed: string[];
  /** New NOT NULL columns without a default on existing tables: the previous version's inserts fail. */
  breaksOldWriters: string[];
  /** Longest wait of any probe for its write lock, ms. */
  longestWaitMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Statements whose lock time grows with the table, refused on hot tables. */
export function refusedStatements(sql: string): string[] {
  const hot = `(?:ONLY\\s+)?(?:public\\.)?"?(${HOT_TABLES.join('|')})"?\\b`;
  const rules: [RegExp, string][] = [
    [
      new RegExp(`CREATE\\s+(?:UNIQUE\\s+)?INDEX\\s+(?!CONCURRENTLY)[^;]*?\\bON\\s+${hot}`, 'gi'),
      'CREATE INDEX without CONCURRENTLY (blocks writes while it builds)',
    ],
    [
      new RegExp(
        `ALTER\\s+TABLE\\s+${hot}[^;]*?ADD\\s+(?:CONSTRAINT\\s+\\S+\\s+)?(?:FOREIGN\\s+KEY|CHECK)(?![^;]*NOT\\s+VALID)[^;]*`,
        'gi',
      ),
      'a constraint added without NOT VALID (scans the table under lock; VALIDATE it in a later step)',
    ],
    [
      new RegExp(`ALTER\\s+TABLE\\s+${hot}[^;]*?SET\\s+NOT\\s+NULL[^;]*`, 'gi'),
      'SET NOT NULL (scans the table under an exclusive lock; add a NOT VALID check and validate it)',
    ],
  ];
  const found: string[] = [];
  for (const [rule, why] of rules) {
    for (const match of sql.matchAll(rule)) found.push(`${match[1]}: ${why}`);
  }
  return found;
}

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
    SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.proname
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`);
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
        } catch (error) {
          if ((error as { code?: string }).code !== '55P03') throw error;
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
    const tablesBefore = new Set([...surfaceBefore.values()].filter((o) => !o.includes('.')));
    const allowedGone = contracted(file.sql);
    return {
      rewritten: [...before].filter(([table, node]) => after.get(table) !== node).map(([table]) => table),
      blocked: [...blocked].sort(),
      refused: refusedStatements(file.sql),
      removed: [...surfaceBefore]
        .filter(([key, object]) => !surfaceAfter.has(key) && !allowedGone.has(object))
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
