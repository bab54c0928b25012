import type pg from 'pg';
import { isStatementTimeout } from '../errors/databaseErrors.js';
import { repeatUntilShort } from './batches.js';
import { inAdminTx, type OpsRunner } from './opsRunner.js';

/** Rows one GC statement may delete, so each stays well inside the 5 s statement timeout. */
export const GC_STEP_ROWS = 20_000;

export type GcFunction = 'gc_intent_signals' | 'gc_learning_events';

/**
 * Deletes in bounded statements until a step deletes less than a full step; returns the total.
 * `step` runs one statement: in the caller's transaction (the worker) or one per transaction (ops).
 */
export async function gcInSteps(
  fn: GcFunction,
  retentionDays: number | undefined,
  step: (sql: string, values: unknown[]) => Promise<pg.QueryResult<{ n: string }>>,
): Promise<number> {
  // The function name is one of two constants; the retention is bound.
  const sql =
    retentionDays === undefined
      ? `SELECT ${fn}(p_max_rows => $1) AS n`
      : `SELECT ${fn}(p_retention => make_interval(days => $2), p_max_rows => $1) AS n`;
  const values = retentionDays === undefined ? [GC_STEP_ROWS] : [GC_STEP_ROWS, retentionDays];
  return repeatUntilShort(GC_STEP_ROWS, async () => Number((await step(sql, values)).rows[0]?.n ?? 0));
}

/** Runbook "Cleanup Old Signals", one bounded statement per transaction. */
export async function runGc(
  runner: OpsRunner,
  fn: GcFunction,
  args: { retentionDays?: number | undefined },
): Promise<{ deleted: number }> {
  const deleted = await gcInSteps(fn, args.retentionDays, (sql, values) =>
    inAdminTx(runner, (client) => client.query<{ n: string }>(sql, values)),
  );
  return { deleted };
}

/** Runbook "Analyze After Bulk Updates" (and the queues, which autovacuum may not reach). */
export async function analyzeHotTables(runner: OpsRunner): Promise<{ tables: string[] }> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{ tables: string[] }>('SELECT analyze_hot_tables() AS tables'),
  );
  return { tables: rows[0]?.tables ?? [] };
}

/** Runbook "Online Interest Drift": affinity × 0.98 per whole week since last reinforced or decayed. */
export async function decayInterests(runner: OpsRunner): Promise<{ decayed: number }> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{ n: string }>('SELECT decay_interest_affinity() AS n'),
  );
  return { decayed: Number(rows[0]?.n ?? 0) };
}

export interface BackfillProgress {
  total: number;
  processed: number;
  /** Users whose profile has an embedding after their recompute. */
  updated: number;
  batches: number;
  /** Batches this call ran. */
  batchesRun: number;
  remaining: number;
  /** The last user id done: the next batch starts after it. */
  cursor: string | null;
  done: boolean;
  startedAt: Date;
  finishedAt: Date | null;
  /** The batch size in use at the end (smaller than asked after statement timeouts). */
  batchSize?: number;
}

interface BackfillRow {
  cursor_user_id: string | null;
  total: string;
  processed: string;
  updated: string;
  batches: number;
  started_at: Date;
  finished_at: Date | null;
}

const BACKFILL = 'profile_embeddings';
const backfillColumns = 'cursor_user_id, total, processed, updated, batches, started_at, finished_at';
const restartSql = `
INSERT INTO ops_backfills (name, total)
SELECT $1, count(DISTINCT user_id) FROM user_interests
ON CONFLICT (name) DO UPDATE SET cursor_user_id = NULL, total = EXCLUDED.total, processed = 0, updated = 0,
  batches = 0, started_at = now(), updated_at = now(), finished_at = NULL
RETURNING ${backfillColumns}`;
const lockStateSql = `SELECT ${backfillColumns} FROM ops_backfills WHERE name = $1 FOR UPDATE`;
/** The runbook's backfill, one keyset batch: users with interests after the cursor, in id order. */
const batchSql = `
WITH batch AS (
  SELECT DISTINCT user_id FROM user_interests
  WHERE $1::uuid IS NULL OR user_id > $1::uuid
  ORDER BY user_id LIMIT $2
)
SELECT count(*)::int AS n,
       count(*) FILTER (WHERE recompute_profile_embedding(user_id))::int AS updated,
       (array_agg(user_id ORDER BY user_id DESC))[1]::text AS last
FROM batch`;
const advanceSql = `
UPDATE ops_backfills SET cursor_user_id = coalesce($2::uuid, cursor_user_id), processed = processed + $3,
  updated = updated + $4, batches = batches + 1, updated_at = now(),
  finished_at = CASE WHEN $5 THEN now() END
WHERE name = $1
RETURNING ${backfillColumns}`;

function progressOf(row: BackfillRow, batchesRun: number): BackfillProgress {
  const total = Number(row.total);
  const processed = Number(row.processed);
  return {
    total,
    processed,
    updated: Number(row.updated),
    batches: row.batches,
    batchesRun,
    remaining: row.finished_at ? 0 : Math.max(0, total - processed),
    cursor: row.cursor_user_id,
    done: row.finished_at !== null,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/**
 * Runbook "Backfill Profile Embeddings" in batches of `batchSize` (1,000), each its own transaction
 * under the statement timeout, with the cursor saved as it commits: an interrupted backfill (a crash,
 * a timeout, `maxBatches`) resumes where it stopped. A finished one (or `restart`) starts over.
 */
export async function backfillProfileEmbeddings(
  runner: OpsRunner,
  args: { batchSize: number; maxBatches?: number | undefined; restart: boolean },
): Promise<BackfillProgress> {
  let batchesRun = 0;
  let size = args.batchSize;
  for (;;) {
    let outcome: { row: BackfillRow; finished: boolean };
    try {
      outcome = await runBackfillBatch(runner, size, batchesRun === 0, args.restart);
    } catch (error) {
      // A batch that outlives the statement timeout (a loaded server, index upkeep) rolled back whole:
      // retry the same users in smaller batches rather than fail the backfill.
      if (isStatementTimeout(error) && size > MIN_BATCH) {
        size = Math.max(MIN_BATCH, Math.floor(size / 2));
        continue;
      }
      throw error;
    }
    batchesRun += 1;
    if (outcome.finished || (args.maxBatches !== undefined && batchesRun >= args.maxBatches)) {
      return { ...progressOf(outcome.row, batchesRun), batchSize: size };
    }
  }
}

/** Smallest batch the backfill shrinks to after statement timeouts. */
const MIN_BATCH = 50;

/** One batch in its own admin transaction: lock the state, recompute `size` users, move the cursor. */
function runBackfillBatch(
  runner: OpsRunner,
  size: number,
  firstOfCall: boolean,
  restart: boolean,
): Promise<{ row: BackfillRow; finished: boolean }> {
  return inAdminTx(runner, async (client) => {
    let state = (await client.query<BackfillRow>(lockStateSql, [BACKFILL])).rows[0];
    // A call starts over when nothing ran yet, the last backfill finished, or it is asked to.
    if (!state || (firstOfCall && (state.finished_at !== null || restart))) {
      state = (await client.query<BackfillRow>(restartSql, [BACKFILL])).rows[0];
    }
    if (!state) throw new Error('the backfill state row is missing');
    const { rows } = await client.query<{ n: number; updated: number; last: string | null }>(batchSql, [
      state.cursor_user_id,
      size,
    ]);
    const batch = rows[0] ?? { n: 0, updated: 0, last: null };
    const done = batch.n < size;
    const next = await client.query<BackfillRow>(advanceSql, [
      BACKFILL,
      batch.last,
      batch.n,
      batch.updated,
      done,
    ]);
    return { row: next.rows[0] ?? state, finished: done };
  });
}

/** The backfill's saved progress, or null when none ever ran. */
export async function backfillProgress(runner: OpsRunner): Promise<BackfillProgress | null> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<BackfillRow>(`SELECT ${backfillColumns} FROM ops_backfills WHERE name = $1`, [BACKFILL]),
  );
  return rows[0] ? progressOf(rows[0], 0) : null;
}
