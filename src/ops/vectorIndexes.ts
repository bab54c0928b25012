import pg from 'pg';
import { createBadUserInputError, createNotFoundError, createUnavailableError } from '../errors/errors.js';
import { inAdminTx, type OpsRunner } from './opsRunner.js';
import { listsTooMany, MIN_ROWS_PER_LIST, outgrown, suggestLists } from './vectorRecall.js';

/** The planner skips a vector index when too few rows have a vector (runbook "Vector Indexes"). */
export const PLANNER_MIN_NON_NULL_SHARE = 0.05;

export interface EmbeddingCoverage {
  table: string;
  rows: number;
  withEmbedding: number;
  /** withEmbedding / rows; null for an empty table. */
  share: number | null;
  /** share > 5%: the planner can use the table's vector index. */
  plannerCondition: boolean;
}

export interface VectorIndex {
  name: string;
  table: string;
  /** ivfflat or hnsw. */
  method: string;
  /** Its build parameters as `key=value` (lists, m, ef_construction). */
  options: string[];
  valid: boolean;
  sizeBytes: number;
  definition: string;
  /** Rows of its table with a vector now (what a build would index). */
  rows: number;
  /** Rows it indexed when built; null when unknown (built by a migration, perhaps on an empty table). */
  rowsAtBuild: number | null;
  builtAt: Date | null;
  /** ivfflat: pgvector's lists for `rows` (rows/1000 up to 1M, sqrt above); null for hnsw. */
  suggestedLists: number | null;
  /** ivfflat: the table grew or shrank more than 2× since the build (maintenance rebuilds it). */
  needsRebuild: boolean;
  /** Last measured recall@k against exact search; null when never measured (or no vectors). */
  recall: number | null;
  recallK: number | null;
  recallSamples: number | null;
  recallMeasuredAt: Date | null;
}

export interface VectorHealth {
  installed: boolean;
  version: string | null;
  coverage: EmbeddingCoverage[];
  indexes: VectorIndex[];
}

/** Vector health: every table with an embedding column, and every ivfflat/hnsw index in public. */
const coverageSql = `
SELECT 'profiles' AS table, count(*)::bigint AS rows, count(embedding)::bigint AS with_embedding FROM profiles
UNION ALL SELECT 'interest_catalog', count(*), count(embedding) FROM interest_catalog
UNION ALL SELECT 'marketplace_listings', count(*), count(embedding) FROM marketplace_listings`;
const indexesSql = `
SELECT c.relname AS name, t.relname AS table, am.amname AS method, coalesce(c.reloptions, '{}') AS options,
       i.indisvalid AS valid, pg_relation_size(c.oid)::bigint AS size_bytes, pg_get_indexdef(c.oid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = c.relam
WHERE n.nspname = 'public' AND am.amname IN ('ivfflat', 'hnsw')
ORDER BY t.relname, c.relname`;

interface IndexRow {
  name: string;
  table: string;
  method: string;
  options: string[];
  valid: boolean;
  size_bytes: string;
  definition: string;
}

interface StateRow {
  rows: string;
  rows_at_build: string | null;
  built_at: Date | null;
  recall: number | null;
  recall_k: number | null;
  recall_samples: number | null;
  recall_measured_at: Date | null;
}

const noState: StateRow = {
  rows: '0',
  rows_at_build: null,
  built_at: null,
  recall: null,
  recall_k: null,
  recall_samples: null,
  recall_measured_at: null,
};

const indexOf = (row: IndexRow, state: StateRow = noState): VectorIndex => {
  const rows = Number(state.rows);
  const rowsAtBuild = state.rows_at_build === null ? null : Number(state.rows_at_build);
  const ivfflat = row.method === 'ivfflat';
  return {
    name: row.name,
    table: row.table,
    method: row.method,
    options: row.options,
    valid: row.valid,
    sizeBytes: Number(row.size_bytes),
    definition: row.definition,
    rows,
    rowsAtBuild,
    builtAt: state.built_at,
    suggestedLists: ivfflat ? suggestLists(rows) : null,
    needsRebuild: ivfflat && outgrown(rows, rowsAtBuild),
    recall: state.recall,
    recallK: state.recall_k,
    recallSamples: state.recall_samples,
    recallMeasuredAt: state.recall_measured_at,
  };
};

/** The indexed column of a vector index (its first and only key column). */
const columnSql = `
SELECT a.attname AS column FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indexrelid = to_regclass('public.' || quote_ident($1))`;

/** One index's rows with a vector now, and its vector_index_state row. */
async function stateOf(client: pg.ClientBase, row: IndexRow): Promise<StateRow> {
  const column = (await client.query<{ column: string }>(columnSql, [row.name])).rows[0]?.column;
  // Identifiers from the catalogue, quoted.
  const count = column
    ? `(SELECT count(${pg.escapeIdentifier(column)}) FROM public.${pg.escapeIdentifier(row.table)})`
    : '0';
  const { rows } = await client.query<StateRow>(
    `SELECT ${count}::bigint AS rows, s.rows_at_build, s.built_at, s.recall, s.recall_k, s.recall_samples,
            s.recall_measured_at
     FROM (SELECT 1) one LEFT JOIN vector_index_state s ON s.index_name = $1`,
    [row.name],
  );
  return rows[0] ?? noState;
}

export async function vectorHealth(runner: OpsRunner): Promise<VectorHealth> {
  return inAdminTx(runner, async (client) => {
    const ext = await client.query<{ extversion: string }>(
      `SELECT extversion FROM pg_extension WHERE extname = 'vector'`,
    );
    const version = ext.rows[0]?.extversion ?? null;
    if (!version) return { installed: false, version: null, coverage: [], indexes: [] };
    const coverage = await client.query<{ table: string; rows: string; with_embedding: string }>(coverageSql);
    const indexes = await client.query<IndexRow>(indexesSql);
    const states: StateRow[] = [];
    for (const row of indexes.rows) states.push(await stateOf(client, row));
    return {
      installed: true,
      version,
      coverage: coverage.rows.map((r) => {
        const rows = Number(r.rows);
        const withEmbedding = Number(r.with_embedding);
        const share = rows === 0 ? null : withEmbedding / rows;
        return {
          table: r.table,
          rows,
          withEmbedding,
          share,
          plannerCondition: share !== null && share > PLANNER_MIN_NON_NULL_SHARE,
        };
      }),
      indexes: indexes.rows.map((row, i) => indexOf(row, states[i])),
    };
  });
}

export interface RebuildArgs {
  index: string;
  lists?: number | undefined;
  m?: number | undefined;
  efConstruction?: number | undefined;
  /** Accept an ivfflat `lists` that leaves fewer than 50 rows per list. */
  force?: boolean | undefined;
}

/**
 * The lists of an ivfflat rebuild: pgvector's suggestion when none is asked; an asked value that leaves
 * fewer than 50 rows per list (centroids of noise: low recall) only with `force`.
 */
function lists(args: RebuildArgs, rows: number): number {
  const suggested = suggestLists(rows);
  if (args.lists === undefined) return suggested;
  if (listsTooMany(args.lists, rows) && !args.force) {
    throw createBadUserInputError(
      `lists ${args.lists} leaves ${(rows / args.lists).toFixed(1)} rows per list on ${rows} rows with a vector ` +
        `(at least ${MIN_ROWS_PER_LIST} keep recall; pgvector suggests ${suggested}); pass force: true to build it anyway`,
      'lists',
    );
  }
  return args.lists;
}

/** The WITH (...) of the new build from the method and the asked parameters (all whole numbers). */
function buildOptions(method: string, args: RebuildArgs, current: string[], rows: number): string[] {
  const keep = new Map(current.map((o) => o.split('=') as [string, string]));
  if (method === 'ivfflat') {
    if (args.m !== undefined || args.efConstruction !== undefined) {
      throw createBadUserInputError(
        'm and efConstruction apply to hnsw indexes; ivfflat takes lists',
        args.m !== undefined ? 'm' : 'efConstruction',
      );
    }
    keep.set('lists', String(lists(args, rows)));
  } else {
    if (args.lists !== undefined) {
      throw createBadUserInputError(
        'lists applies to ivfflat indexes; hnsw takes m and efConstruction',
        'lists',
      );
    }
    if (args.m !== undefined) keep.set('m', String(args.m));
    if (args.efConstruction !== undefined) keep.set('ef_construction', String(args.efConstruction));
    // pgvector's own rule, checked before anything is built (its error would leave a half-built copy).
    const m = Number(keep.get('m') ?? 16);
    const ef = Number(keep.get('ef_construction') ?? 64);
    if (ef < 2 * m) {
      throw createBadUserInputError(
        `efConstruction (${ef}) must be at least 2 × m (${2 * m}) for an hnsw index`,
        args.efConstruction !== undefined ? 'efConstruction' : 'm',
      );
    }
  }
  return [...keep].map(([k, v]) => `${k}=${v}`);
}

/**
 * The index definition with a new name and build options, built CONCURRENTLY. pg_get_indexdef gives
 * `CREATE [UNIQUE] INDEX name ON table USING method (cols) [WITH (...)] [WHERE ...]`.
 */
export function rebuildDefinition(definition: string, newName: string, options: string[]): string {
  const withClause =
    options.length > 0 ? ` WITH (${options.map((o) => o.replace('=', ' = ')).join(', ')})` : '';
  const renamed = definition
    .replace(/^CREATE (UNIQUE )?INDEX \S+ ON /, `CREATE $1INDEX CONCURRENTLY ${newName} ON `)
    .replace(/ WITH \([^)]*\)/, '');
  const where = renamed.indexOf(' WHERE ');
  return where === -1
    ? `${renamed}${withClause}`
    : `${renamed.slice(0, where)}${withClause}${renamed.slice(where)}`;
}

/**
 * Rebuilds a vector index with new parameters without blocking the feed: builds a copy CONCURRENTLY
 * (reads and writes go on), then swaps names in one short transaction. Needs the schema owner's
 * connection, and runs under its own timeout: an index build is one statement that cannot be batched.
 */
export async function rebuildVectorIndex(runner: OpsRunner, args: RebuildArgs): Promise<RebuildResult> {
  if (!/^[a-z_][a-z0-9_]{0,54}$/.test(args.index)) {
    throw createBadUserInputError('index must be the name of a vector index in schema public', 'index');
  }
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<IndexRow>(`SELECT * FROM (${indexesSql}) v WHERE v.name = $1`, [args.index]),
  );
  const row = rows[0];
  if (!row) throw createNotFoundError('vector index', args.index);
  const current = indexOf(row, await inAdminTx(runner, (client) => stateOf(client, row)));
  const options = buildOptions(current.method, args, current.options, current.rows);
  if (!runner.ownerUrl) {
    throw createUnavailableError(
      'rebuilding an index needs the schema owner: set MIGRATION_DATABASE_URL for the gateway or use the ops CLI',
    );
  }
  const owner = new pg.Client({ connectionString: runner.ownerUrl, application_name: 'lodestar-ops' });
  // A lost connection fails the statement in progress; the event itself must not end the process.
  owner.on('error', () => undefined);
  await owner.connect();
  try {
    await owner.query(`SET statement_timeout = ${Math.trunc(runner.indexBuildTimeoutMs)}`);
    await buildAndSwapVectorIndex(owner, current, options, 'rebuildVectorIndex');
  } finally {
    await owner.end().catch(() => undefined);
  }
  return {
    index: current.name,
    table: current.table,
    method: current.method,
    previousOptions: current.options,
    options,
    rows: current.rows,
    suggestedLists: current.suggestedLists,
  };
}

/**
 * The concurrent rebuild itself, on an owner's session outside any transaction (CONCURRENTLY cannot run
 * in one): a copy built with CREATE INDEX CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on),
 * then one short transaction that drops the old index and renames the copy (ACCESS EXCLUSIVE on the
 * table for milliseconds, waiting at most 5 s for it), recording the build; then ANALYZE. Shared by
 * ops.rebuildVectorIndex and the refresh after an import (src/import/refreshDerived.ts).
 */
export async function buildAndSwapVectorIndex(
  owner: Pick<pg.ClientBase, 'query'>,
  current: Pick<VectorIndex, 'name' | 'table' | 'method' | 'definition'>,
  options: string[],
  by: string,
): Promise<void> {
  const temp = `${current.name}_rebuild`;
  try {
    // A build that failed before leaves an invalid copy behind: drop it first.
    await owner.query(`DROP INDEX CONCURRENTLY IF EXISTS public.${temp}`);
    await owner.query(rebuildDefinition(current.definition, temp, options));
    // Counted before the swap takes its lock, so the table is closed for milliseconds, not for a scan.
    const rows = await countVectorRows(owner, current);
    await owner.query('BEGIN');
    await owner.query(`SET LOCAL lock_timeout = '5s'`);
    await owner.query(`DROP INDEX public.${current.name}`);
    await owner.query(`ALTER INDEX public.${temp} RENAME TO ${current.name}`);
    await recordVectorIndexBuild(owner, current, by, rows);
    await owner.query('COMMIT');
  } catch (error) {
    await owner.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await owner.query(`ANALYZE public.${current.table}`);
}

/** Every ivfflat/hnsw index in schema public with its definition and build options (WITH …). */
export async function listVectorIndexes(
  client: Pick<pg.ClientBase, 'query'>,
): Promise<Pick<VectorIndex, 'name' | 'table' | 'method' | 'options' | 'definition'>[]> {
  const { rows } = await client.query<IndexRow>(indexesSql);
  return rows.map((r) => ({
    name: r.name,
    table: r.table,
    method: r.method,
    options: r.options,
    definition: r.definition,
  }));
}

export interface RebuildResult {
  index: string;
  table: string;
  method: string;
  previousOptions: string[];
  options: string[];
  /** Rows with a vector the new build indexed. */
  rows: number;
  /** ivfflat: pgvector's lists for those rows; null for hnsw. */
  suggestedLists: number | null;
}

/** Rows of the index's table with a vector, counted as vectorHealth counts them (count(column)). */
async function countVectorRows(
  client: Pick<pg.ClientBase, 'query'>,
  index: Pick<VectorIndex, 'name' | 'table'>,
): Promise<string> {
  const column = (await client.query<{ column: string }>(columnSql, [index.name])).rows[0]?.column;
  if (!column) return '0';
  // Identifiers from the catalogue, quoted.
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(${pg.escapeIdentifier(column)}) AS n FROM public.${pg.escapeIdentifier(index.table)}`,
  );
  return rows[0]?.n ?? '0';
}

/**
 * Records a build in vector_index_state (in the build's transaction, as the owner): the rows it indexed,
 * its lists, and no recall yet (the last one measured the old build). The rows are counted as
 * vectorHealth counts them (`rows`, or now: a build in this transaction holds writers off until commit);
 * not the index's reltuples, which counts deleted rows another transaction's snapshot could still see.
 * Every path that builds a vector index calls it, so maintenance knows what each was built on.
 */
export async function recordVectorIndexBuild(
  client: Pick<pg.ClientBase, 'query'>,
  index: Pick<VectorIndex, 'name' | 'table' | 'method'>,
  by: string,
  rows?: string,
): Promise<void> {
  const built = rows ?? (await countVectorRows(client, index));
  await client.query(
    `INSERT INTO vector_index_state (index_name, table_name, method, rows_at_build, lists, built_at, built_by)
     SELECT $1, $2, $3, $5::bigint,
            (SELECT split_part(o, '=', 2)::int FROM unnest(c.reloptions) o WHERE o LIKE 'lists=%'), now(), $4
     FROM pg_class c WHERE c.oid = to_regclass('public.' || quote_ident($1))
     ON CONFLICT (index_name) DO UPDATE SET table_name = EXCLUDED.table_name, method = EXCLUDED.method,
       rows_at_build = EXCLUDED.rows_at_build, lists = EXCLUDED.lists, built_at = EXCLUDED.built_at,
       built_by = EXCLUDED.built_by, recall = NULL, recall_k = NULL, recall_samples = NULL, recall_ms = NULL,
       recall_measured_at = NULL, updated_at = now()`,
    [index.name, index.table, index.method, by, built],
  );
}
