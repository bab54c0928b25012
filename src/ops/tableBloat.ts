import type pg from 'pg';
import type { BloatThresholds } from '../config/alertThresholds.js';

/** One hot table's bloat, from pg_stat_user_tables (vw_table_bloat). */
export interface TableBloat {
  table: string;
  liveTuples: number;
  deadTuples: number;
  /** n_dead_tup / (n_live_tup + n_dead_tup); 0 for an empty table. */
  deadTupleShare: number;
  lastVacuum: Date | null;
  lastAutovacuum: Date | null;
  vacuumCount: number;
  autovacuumCount: number;
  autovacuumEnabled: boolean;
}

interface BloatRow {
  table_name: string;
  live_tuples: string;
  dead_tuples: string;
  dead_share: number;
  last_vacuum: Date | null;
  last_autovacuum: Date | null;
  vacuum_count: string;
  autovacuum_count: string;
  autovacuum_enabled: boolean;
}

/** Runbook "Monitor bloat with pg_stat_user_tables": every hot table, the most bloated first. */
export async function readTableBloat(db: Pick<pg.Pool, 'query'>): Promise<TableBloat[]> {
  const { rows } = await db.query<BloatRow>(
    'SELECT * FROM vw_table_bloat ORDER BY dead_share DESC, dead_tuples DESC, table_name',
  );
  return rows.map((r) => ({
    table: r.table_name,
    liveTuples: Number(r.live_tuples),
    deadTuples: Number(r.dead_tuples),
    deadTupleShare: r.dead_share,
    lastVacuum: r.last_vacuum,
    lastAutovacuum: r.last_autovacuum,
    vacuumCount: Number(r.vacuum_count),
    autovacuumCount: Number(r.autovacuum_count),
    autovacuumEnabled: r.autovacuum_enabled,
  }));
}

/** Bloated: a dead-tuple share above the threshold, with enough dead tuples to matter. */
export const isBloated = (t: TableBloat, thresholds: BloatThresholds): boolean =>
  t.deadTuples >= thresholds.deadTupleMin && t.deadTupleShare > thresholds.deadTupleShare;
