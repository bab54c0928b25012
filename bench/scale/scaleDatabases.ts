/**
 * The scale phase's databases: one per catalogue size, each seeded once with the project's seeder
 * (bench/shared/database.ts, same seed, 5 listings per user as lodestar_bench's 100k / 20k) and reused.
 * 100k is lodestar_bench itself, which this phase never changes: what the phase keeps of its own for
 * that size (the copied vectors and their indexes, recorded times) lives in a work database beside it.
 */
import { rebuildCoengagementBatch } from '../../src/feed/coengagement.js';
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
async function timeCoengagement(size: ScaleSize, timings: Map<string, Timing>): Promise<void> {
  if (timings.has('coengagement')) return;
  console.log(`scale ${size.label}: timing the co-engagement rebuild (rolled back)`);
  const started = performance.now();
  const rows = await withClient(size.data.url, async (client) => {
    await client.query('BEGIN');
    try {
      let after: number | null = null;
      let changed = 0;
      for (;;) {
        const batch = await rebuildCoengagementBatch(client, after);
        changed += batch.changed;
        if (batch.lastId === null) return changed;
        after = batch.lastId;
      }
    } finally {
      await client.query('ROLLBACK');
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const detail = `${rows} rows (timed in a rolled-back transaction)`;
  console.log(`scale ${size.label}: co-engagement ${detail} in ${seconds.toFixed(1)} s`);
  await recordTiming(size, 'coengagement', seconds, detail);
  timings.set('coengagement', { seconds, detail, recordedAt: new Date().toISOString() });
}

export interface PreparedSize {
  size: ScaleSize;
  dataset: DatasetInfo;
  timings: Map<string, Timing>;
  coengagementRows: number;
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
    // A fresh seed has no co-engagement yet: the next step times its build.
    await withClient(size.work.url, (c) =>
      c.query(`DELETE FROM bench_scale_timings WHERE step = 'coengagement'`),
    );
  }
  const timings = await readTimings(size);
  if (load) await timeCoengagement(size, timings);
  const coengagementRows = await withClient(size.data.url, async (client) => {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM listing_coengagement');
    return Number(rows[0]?.n ?? 0);
  });
  return { size, dataset, timings, coengagementRows };
}
