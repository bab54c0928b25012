/**
 * The scale phase's databases: one per catalogue size, each seeded once with the project's seeder
 * (bench/shared/database.ts, same seed, 5 listings per user as lodestar_bench's 100k / 20k) and reused.
 * 100k is lodestar_bench itself, which this phase never changes: what the phase keeps of its own for
 * that size (the copied vectors and their indexes, recorded times) lives in a work database beside it.
 */
import { DEFAULT_IVFFLAT_PROBES } from '../../src/db/service.js';
import { rebuildCoengagementBatch } from '../../src/feed/coengagement.js';
import { suggestLists } from '../../src/ops/vectorRecall.js';
import {
  type BenchDatabase,
  databaseUrl,
  type DatasetInfo,
  defaultBenchDatabase,
  prepareBenchDatabase,
  withClient,
} from '../shared/database.js';
import { BENCH_DATABASE, type BenchSettings } from '../shared/settings.js';

export interface ScaleSize {
  /** `10k`, `100k`, `1m`. */
  label: string;
  /** The seeded database the gateway and the bare ANN statement run on. */
  data: BenchDatabase;
  /** Where the phase's own tables (copied vectors, their indexes, recorded times) live. */
  work: { name: string; url: string };
  /** false for lodestar_bench: the phase's own tables go to a work database beside it. */
  owned: boolean;
}

const SIZES: Record<string, { listings: number; users: number; database: string | null }> = {
  '10k': { listings: 10_000, users: 2_000, database: 'lodestar_bench_10k' },
  '100k': { listings: 100_000, users: 20_000, database: null },
  '1m': { listings: 1_000_000, users: 200_000, database: 'lodestar_bench_1m' },
};

export function scaleSizes(settings: BenchSettings): ScaleSize[] {
  return settings.scale.sizes.map((label) => {
    const size = SIZES[label];
    if (!size) throw new Error(`unknown scale size ${label}`);
    if (size.database === null) {
      const work = `${BENCH_DATABASE}_scale_100k`;
      return {
        label,
        data: defaultBenchDatabase(settings),
        work: { name: work, url: databaseUrl(settings, work) },
        owned: false,
      };
    }
    const url = databaseUrl(settings, size.database);
    return {
      label,
      data: {
        name: size.database,
        url,
        dataset: { ...settings.dataset, listings: size.listings, users: size.users },
      },
      work: { name: size.database, url },
      owned: true,
    };
  });
}

/** The phase's record of how long preparing a size took, kept in its work database across runs. */
const timingsDdl = `CREATE TABLE IF NOT EXISTS bench_scale_timings (
  step text PRIMARY KEY, seconds double precision, detail text, recorded_at timestamptz NOT NULL DEFAULT now())`;

export async function ensureWorkDatabase(settings: BenchSettings, size: ScaleSize): Promise<void> {
  if (size.owned) return;
  await withClient(settings.adminUrl, async (admin) => {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [size.work.name]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${size.work.name}`);
  });
  await withClient(size.work.url, (c) => c.query('CREATE EXTENSION IF NOT EXISTS vector'));
}

export interface Timing {
  seconds: number | null;
  detail: string | null;
  recordedAt: string;
}

export async function readTimings(size: ScaleSize): Promise<Map<string, Timing>> {
  return withClient(size.work.url, async (client) => {
    await client.query(timingsDdl);
    const { rows } = await client.query<{
      step: string;
      seconds: number | null;
      detail: string | null;
      recorded_at: Date;
    }>('SELECT step, seconds, detail, recorded_at FROM bench_scale_timings');
    return new Map(
      rows.map((r) => [
        r.step,
        { seconds: r.seconds, detail: r.detail, recordedAt: r.recorded_at.toISOString() },
      ]),
    );
  });
}

export async function recordTiming(
  size: ScaleSize,
  step: string,
  seconds: number | null,
  detail: string | null = null,
): Promise<void> {
  await withClient(size.work.url, async (client) => {
    await client.query(timingsDdl);
    await client.query(
      `INSERT INTO bench_scale_timings (step, seconds, detail) VALUES ($1, $2, $3)
       ON CONFLICT (step) DO UPDATE SET seconds = EXCLUDED.seconds, detail = EXCLUDED.detail, recorded_at = now()`,
      [step, seconds, detail],
    );
  });
}

/**
 * Co-engagement (src/feed/coengagement.ts), which the seeder does not build and the feed reads: timed
 * once per size, batch by batch as rebuildCoengagement runs it, inside one transaction that is rolled
 * back. Every size then keeps an empty listing_coengagement, the state lodestar_bench is in for the
 * other phases, so the sizes' feeds do the same work (and lodestar_bench is not changed).
 */
async function timeCoengagement(
  size: ScaleSize,
  timings: Map<string, Timing>,
  listings: number,
  budgetSec: number,
): Promise<void> {
  if (timings.has('coengagement')) return;
  console.log(`scale ${size.label}: timing the co-engagement rebuild (rolled back, at most ${budgetSec} s)`);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const { rows, done, finished } = await withClient(size.data.url, async (client) => {
    await client.query('BEGIN');
    try {
      let after: number | null = null;
      let changed = 0;
      let listingsDone = 0;
      for (;;) {
        const batch = await rebuildCoengagementBatch(client, after);
        changed += batch.changed;
        listingsDone += batch.listings;
        if (batch.lastId === null) return { rows: changed, done: listingsDone, finished: true };
        // At 1M the rebuild takes hours on this machine: a budget, and the rate it reached.
        if (elapsed() > budgetSec) return { rows: changed, done: listingsDone, finished: false };
        after = batch.lastId;
      }
    } finally {
      await client.query('ROLLBACK');
    }
  });
  const seconds = elapsed();
  const detail = finished
    ? `${rows} rows (timed in a rolled-back transaction)`
    : `did not finish: ${done} of ${listings} listings in ${seconds.toFixed(0)} s, ` +
      `about ${((seconds * listings) / Math.max(1, done) / 3600).toFixed(1)} h by extrapolation (rolled back)`;
  console.log(`scale ${size.label}: co-engagement ${detail}${finished ? ` in ${seconds.toFixed(1)} s` : ''}`);
  await recordTiming(size, 'coengagement', seconds, detail);
  timings.set('coengagement', { seconds, detail, recordedAt: new Date().toISOString() });
}

export interface PreparedSize {
  size: ScaleSize;
  dataset: DatasetInfo;
  timings: Map<string, Timing>;
  coengagementRows: number;
  /** The listings' ivfflat lists during the load, and the probes the size's gateway searches with. */
  lists: number;
  probes: number;
}

/**
 * The probes a size's gateway runs with (VECTOR_IVFFLAT_PROBES): pgvector's starting point √lists, never
 * below the default, so every size searches at comparable recall (about 0.96–0.99, docs/benchmarks.md).
 */
export const serviceProbesFor = (lists: number): number =>
  Math.max(DEFAULT_IVFFLAT_PROBES, Math.ceil(Math.sqrt(lists)));

/** A lists value more than 2× away from pgvector's rule for `rows` (what the importer's refresh rebuilds). */
export const listsOff = (lists: number, rows: number): boolean => {
  const suggested = suggestLists(rows);
  return lists > 2 * suggested || 2 * lists < suggested;
};

export interface ServiceIndex {
  name: string;
  /** `lists=200`. */
  build: string;
  lists: number;
  indexBytes: number;
  tableBytes: number;
  toastBytes: number;
}

/** The ivfflat index on marketplace_listings.embedding (the one the service searches) and the table's sizes. */
export async function serviceIndexOf(url: string): Promise<ServiceIndex> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{
      name: string;
      options: string[] | null;
      index_bytes: string;
      table_bytes: string;
      toast_bytes: string;
    }>(
      `SELECT c.relname AS name, c.reloptions AS options, pg_relation_size(c.oid) AS index_bytes,
              pg_relation_size(t.oid) AS table_bytes,
              coalesce(pg_relation_size(NULLIF(t.reltoastrelid, 0)), 0) AS toast_bytes
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_am am ON am.oid = c.relam
        WHERE t.oid = 'public.marketplace_listings'::regclass AND am.amname = 'ivfflat'
        ORDER BY c.relname LIMIT 1`,
    );
    const r = rows[0];
    if (!r) throw new Error('marketplace_listings has no ivfflat index');
    const lists = Number(/lists=(\d+)/.exec((r.options ?? []).join(','))?.[1] ?? 100);
    return {
      name: r.name,
      build: `lists=${lists}`,
      lists,
      indexBytes: Number(r.index_bytes),
      tableBytes: Number(r.table_bytes),
      toastBytes: Number(r.toast_bytes),
    };
  });
}

/**
 * The seed builds the listings' index with the migration's 200 lists at every size; a catalogue loaded
 * by the importer gets pgvector's rule instead (refreshDerived). A size this phase owns is given the
 * latter once (rebuild_ivfflat_index, timed and recorded), so 1M searches 1,000 lists as it would in
 * production; lodestar_bench (100k: 200 lists, within 2× of the rule's 100) is left as it is.
 */
async function alignServiceIndex(
  size: ScaleSize,
  rows: number,
  timings: Map<string, Timing>,
): Promise<number> {
  const { name, lists } = await serviceIndexOf(size.data.url);
  if (!size.owned || !listsOff(lists, rows)) return lists;
  const target = suggestLists(rows);
  console.log(`scale ${size.label}: rebuilding ${name} with lists = ${target} (was ${lists})`);
  const started = performance.now();
  await withClient(size.data.url, async (client) => {
    await client.query(`SET maintenance_work_mem = '${rows > 200_000 ? '6GB' : '1GB'}'`);
    await client.query('SET max_parallel_maintenance_workers = 2');
    await client.query('SET statement_timeout = 0');
    await client.query('SELECT rebuild_ivfflat_index($1, $2)', [name, target]);
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(`scale ${size.label}: rebuilt in ${seconds.toFixed(1)} s`);
  await recordTiming(size, 'service_index', seconds, `lists=${target} (rebuild_ivfflat_index)`);
  timings.set('service_index', { seconds, detail: `lists=${target}`, recordedAt: new Date().toISOString() });
  return target;
}

/** Seeds (first time) or reuses a size's database, records the times, times co-engagement. */
export async function prepareSize(settings: BenchSettings, size: ScaleSize): Promise<PreparedSize> {
  const load = settings.scale.steps.includes('load');
  await ensureWorkDatabase(settings, size);
  const dataset = await prepareBenchDatabase(settings, size.data);
  if (dataset.seedSeconds !== null) {
    await recordTiming(size, 'seed', dataset.seedSeconds, 'scripts/seed.ts, whole run');
    const reindexMs = dataset.seedPhasesMs?.reindex;
    if (reindexMs !== undefined)
      await recordTiming(size, 'seed_reindex', reindexMs / 1000, 'seed phase reindex');
    // A fresh seed has no co-engagement and the migration's index: the next steps time their builds.
    await withClient(size.work.url, (c) =>
      c.query(`DELETE FROM bench_scale_timings WHERE step IN ('coengagement', 'service_index')`),
    );
  }
  const timings = await readTimings(size);
  const lists = await alignServiceIndex(size, dataset.listings, timings);
  if (load) await timeCoengagement(size, timings, dataset.listings, settings.scale.coengagementBudgetSec);
  const coengagementRows = await withClient(size.data.url, async (client) => {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM listing_coengagement');
    return Number(rows[0]?.n ?? 0);
  });
  return { size, dataset, timings, coengagementRows, lists, probes: serviceProbesFor(lists) };
}
