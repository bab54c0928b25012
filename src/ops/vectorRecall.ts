import pg from 'pg';
import { vectorSearchSettings } from '../db/service.js';

/**
 * Vector index recall (issue 13, item 18): how many of the true k nearest neighbours an index returns,
 * measured against exact search on query vectors sampled from the indexed table itself; and which
 * ivfflat indexes have outgrown (or outshrunk) the build their centroids come from.
 */

/** Neighbours compared per query (recall@20). */
export const RECALL_K = 20;
/** Query vectors sampled per index. */
export const RECALL_SAMPLES = 200;
/** pgvector's advice: fewer rows per list than this and the centroids describe noise. */
export const MIN_ROWS_PER_LIST = 50;
/** Maintenance rebuilds an ivfflat index once its table holds more than this factor more (or less). */
export const REBUILD_GROWTH_FACTOR = 2;

/**
 * pgvector's rule for ivfflat lists: rows / 1000 up to 1M rows, sqrt(rows) above (at least 1).
 * The runbook's 200 (and 400–800) are this rule's values at its own catalogue sizes.
 */
export function suggestLists(rows: number): number {
  if (rows <= 1_000_000) return Math.max(1, Math.floor(rows / 1000));
  return Math.floor(Math.sqrt(rows));
}

/** A lists value leaves fewer than MIN_ROWS_PER_LIST rows per list (one list is exact search: always fine). */
export const listsTooMany = (lists: number, rows: number): boolean =>
  lists > 1 && rows / lists < MIN_ROWS_PER_LIST;

/** What an index searches: its column, the distance operator of its operator class, the table's key. */
export interface IndexShape {
  name: string;
  table: string;
  method: string;
  column: string;
  operator: '<->' | '<=>' | '<#>' | '<+>';
  key: string;
}

const operatorOf = (opclass: string): IndexShape['operator'] | undefined =>
  opclass.includes('cosine')
    ? '<=>'
    : opclass.includes('_ip_')
      ? '<#>'
      : opclass.includes('l1')
        ? '<+>'
        : opclass.includes('l2')
          ? '<->'
          : undefined;

/** Every valid ivfflat/hnsw index in public on one vector column of a table with a one-column key. */
const shapesSql = `
SELECT c.relname AS name, t.relname AS table, am.amname AS method, a.attname AS column,
       oc.opcname AS opclass, k.attname AS key
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = c.relam
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
JOIN pg_opclass oc ON oc.oid = i.indclass[0]
JOIN pg_index p ON p.indrelid = t.oid AND p.indisprimary AND p.indnatts = 1
JOIN pg_attribute k ON k.attrelid = t.oid AND k.attnum = p.indkey[0]
WHERE n.nspname = 'public' AND am.amname IN ('ivfflat', 'hnsw') AND i.indisvalid AND i.indnatts = 1
ORDER BY t.relname, c.relname`;

export async function vectorIndexShapes(client: pg.ClientBase): Promise<IndexShape[]> {
  const { rows } = await client.query<{
    name: string;
    table: string;
    method: string;
    column: string;
    opclass: string;
    key: string;
  }>(shapesSql);
  return rows.flatMap((r) => {
    const operator = operatorOf(r.opclass);
    return operator
      ? [{ name: r.name, table: r.table, method: r.method, column: r.column, operator, key: r.key }]
      : [];
  });
}

export interface RecallMeasurement {
  index: string;
  table: string;
  method: string;
  /** Share of the exact k nearest neighbours the index returned, over all sampled queries; null: no vectors. */
  recall: number | null;
  k: number;
  samples: number;
  ms: number;
  measuredAt: Date;
}

const setting = async (client: pg.ClientBase, name: string, value: string) =>
  client.query('SELECT set_config($1, $2, true)', [name, value]);

/**
 * recall@k of one index, inside the caller's transaction: `samples` vectors of the table are the
 * queries; each asks for its k nearest other rows once through the index (sequential scans off, the
 * production search settings: ivfflat.probes, iterative scans) and once exactly (index scans off). The
 * settings are transaction-local and put back afterwards. Stores the result in vector_index_state.
 */
export async function measureIndexRecall(
  client: pg.ClientBase,
  shape: IndexShape,
  options: { k?: number; samples?: number; probes?: number } = {},
): Promise<RecallMeasurement> {
  const k = options.k ?? RECALL_K;
  const samples = options.samples ?? RECALL_SAMPLES;
  const started = performance.now();
  const t = pg.escapeIdentifier(shape.table);
  const col = pg.escapeIdentifier(shape.column);
  const key = pg.escapeIdentifier(shape.key);
  // Identifiers from the catalogue, quoted; the operator is one of four constants.
  const queries = await client.query<{ id: string; v: string }>(
    `SELECT ${key}::text AS id, ${col}::text AS v FROM ${t} WHERE ${col} IS NOT NULL ORDER BY random() LIMIT $1`,
    [samples],
  );
  const nearestSql = `SELECT ${key}::text AS id FROM ${t} WHERE ${col} IS NOT NULL AND ${key}::text <> $2
    ORDER BY ${col} ${shape.operator} $1 LIMIT $3`;
  const nearest = async (q: { id: string; v: string }) =>
    new Set((await client.query<{ id: string }>(nearestSql, [q.v, q.id, k])).rows.map((r) => r.id));

  const saved = (
    await client.query<{ seq: string; idx: string }>(
      `SELECT current_setting('enable_seqscan') AS seq, current_setting('enable_indexscan') AS idx`,
    )
  ).rows[0];
  for (const [name, value] of Object.entries(vectorSearchSettings(options.probes)))
    await setting(client, name, value);
  await setting(client, 'enable_seqscan', 'off');
  // The approximate half must go through this index; if the planner will not use it, there is no
  // recall to speak of (an exact scan would report 1.0): nothing is measured.
  const first = queries.rows[0];
  const usesIndex =
    first !== undefined &&
    (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${nearestSql}`, [first.v, first.id, k])).rows.some(
      (r) => r['QUERY PLAN'].includes(shape.name),
    );
  const approximate: Set<string>[] = [];
  if (usesIndex) for (const q of queries.rows) approximate.push(await nearest(q));
  await setting(client, 'enable_seqscan', saved?.seq ?? 'on');
  await setting(client, 'enable_indexscan', 'off');
  let found = 0;
  let expected = 0;
  for (const [i, q] of usesIndex ? queries.rows.entries() : []) {
    const exact = await nearest(q);
    expected += exact.size;
    for (const id of exact) if (approximate[i]?.has(id)) found += 1;
  }
  await setting(client, 'enable_indexscan', saved?.idx ?? 'on');
  const measurement: RecallMeasurement = {
    index: shape.name,
    table: shape.table,
    method: shape.method,
    recall: expected === 0 || !usesIndex ? null : found / expected,
    k,
    samples: queries.rows.length,
    ms: performance.now() - started,
    measuredAt: new Date(),
  };
  await client.query(
    `INSERT INTO vector_index_state (index_name, table_name, method, recall, recall_k, recall_samples, recall_ms,
       recall_measured_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (index_name) DO UPDATE SET table_name = EXCLUDED.table_name, method = EXCLUDED.method,
       recall = EXCLUDED.recall, recall_k = EXCLUDED.recall_k, recall_samples = EXCLUDED.recall_samples,
       recall_ms = EXCLUDED.recall_ms, recall_measured_at = EXCLUDED.recall_measured_at, updated_at = now()`,
    [
      shape.name,
      shape.table,
      shape.method,
      measurement.recall,
      k,
      measurement.samples,
      measurement.ms,
      measurement.measuredAt,
    ],
  );
  return measurement;
}

/** recall@k of every vector index (or only `index`), each in `inTx`'s own transaction. */
export async function measureVectorRecall(
  inTx: <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>,
  options: { index?: string | undefined; k?: number; samples?: number; probes?: number } = {},
): Promise<RecallMeasurement[]> {
  const shapes = (await inTx((client) => vectorIndexShapes(client))).filter(
    (s) => options.index === undefined || s.name === options.index,
  );
  const results: RecallMeasurement[] = [];
  for (const shape of shapes)
    results.push(await inTx((client) => measureIndexRecall(client, shape, options)));
  return results;
}

export interface RebuildCandidate {
  index: string;
  table: string;
  /** Rows with a vector now. */
  rows: number;
  /** Rows it indexed when built; null when unknown (built by a migration). */
  rowsAtBuild: number | null;
  lists: number;
}

/** Whether an ivfflat index built on `rowsAtBuild` rows should be rebuilt now that the table has `rows`. */
export function outgrown(rows: number, rowsAtBuild: number | null): boolean {
  if (rows === 0) return false;
  if (rowsAtBuild === null || rowsAtBuild === 0) return true;
  return rows > REBUILD_GROWTH_FACTOR * rowsAtBuild || rows * REBUILD_GROWTH_FACTOR < rowsAtBuild;
}

/** Every ivfflat index with its table's rows now and at its build (from vector_index_state). */
export async function ivfflatSizes(client: pg.ClientBase): Promise<RebuildCandidate[]> {
  const shapes = (await vectorIndexShapes(client)).filter((s) => s.method === 'ivfflat');
  const out: RebuildCandidate[] = [];
  for (const shape of shapes) {
    const { rows } = await client.query<{ n: string; at_build: string | null; lists: number | null }>(
      `SELECT (SELECT count(${pg.escapeIdentifier(shape.column)}) FROM ${pg.escapeIdentifier(shape.table)})::bigint AS n,
              (SELECT rows_at_build FROM vector_index_state WHERE index_name = $1) AS at_build,
              (SELECT split_part(o, '=', 2)::int FROM pg_class c, unnest(c.reloptions) o
                WHERE c.oid = to_regclass('public.' || quote_ident($1)) AND o LIKE 'lists=%') AS lists`,
      [shape.name],
    );
    const row = rows[0];
    out.push({
      index: shape.name,
      table: shape.table,
      rows: Number(row?.n ?? 0),
      rowsAtBuild: row?.at_build == null ? null : Number(row.at_build),
      lists: row?.lists ?? 100,
    });
  }
  return out;
}

/**
 * The worker's pass: rebuilds (through rebuild_ivfflat_index, in the caller's transaction) every ivfflat
 * index whose table grew or shrank more than 2× since its build, or whose build size is unknown, with
 * lists by pgvector's rule. Returns what it rebuilt.
 */
export async function rebuildOutgrownIvfflat(
  client: pg.ClientBase,
  buildTimeoutMs: number,
  /** Tables with more rows are left alone (listed with `skipped`): a build this big would hold the connection too long. */
  maxRows = Number.POSITIVE_INFINITY,
): Promise<{ index: string; rowsAtBuild: number | null; rows: number; lists: number; skipped?: true }[]> {
  const rebuilt: {
    index: string;
    rowsAtBuild: number | null;
    rows: number;
    lists: number;
    skipped?: true;
  }[] = [];
  for (const candidate of await ivfflatSizes(client)) {
    if (!outgrown(candidate.rows, candidate.rowsAtBuild)) continue;
    const lists = suggestLists(candidate.rows);
    if (candidate.rows > maxRows) {
      rebuilt.push({
        index: candidate.index,
        rowsAtBuild: candidate.rowsAtBuild,
        rows: candidate.rows,
        lists,
        skipped: true,
      });
      continue;
    }
    // One statement that cannot be batched: its own timeout; writers wait at most 5 s for its lock.
    const saved = (
      await client.query<{ st: string; lt: string }>(
        `SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt`,
      )
    ).rows[0];
    await setting(client, 'statement_timeout', String(Math.trunc(buildTimeoutMs)));
    await setting(client, 'lock_timeout', '5s');
    const { rows } = await client.query<{ n: string }>('SELECT rebuild_ivfflat_index($1, $2) AS n', [
      candidate.index,
      lists,
    ]);
    await setting(client, 'statement_timeout', saved?.st ?? '0');
    await setting(client, 'lock_timeout', saved?.lt ?? '0');
    rebuilt.push({
      index: candidate.index,
      rowsAtBuild: candidate.rowsAtBuild,
      rows: Number(rows[0]?.n ?? candidate.rows),
      lists,
    });
  }
  return rebuilt;
}
