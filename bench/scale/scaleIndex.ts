/**
 * The scale phase's index measurements: sizes of the listing table, its TOAST and its vector index;
 * recall@20 of that index (the service's) and of the alternatives against exact search, over sampled
 * viewers' profile embeddings. The alternatives (ivfflat at the lists the ops rebuild picks, HNSW) are
 * built on a copy of the listing vectors in the size's work database, kept and reused across runs, so
 * the database the gateway runs on keeps exactly the index the migrations and the seed give it.
 */
import type pg from 'pg';
import { vectorSearchSettings } from '../../src/db/service.js';
import { suggestLists } from '../../src/ops/vectorRecall.js';
import { percentile } from '../shared/load.js';
import { withClient } from '../shared/database.js';
import type { BenchSettings } from '../shared/settings.js';
import {
  readTimings,
  recordTiming,
  type ScaleSize,
  type ServiceIndex,
  serviceIndexOf,
} from './scaleDatabases.js';
import { type IndexBuild, type IndexSetting, recallAtK, SCALE_RECALL_K } from './scaleReport.js';

const VECTORS = 'bench_scale_vectors';
const EXACT = 'bench_scale_exact';
/** HNSW build parameters: the project's own (the profiles and interests indexes, pgvector's defaults). */
const HNSW = { m: 16, efConstruction: 64 };

export interface Sample {
  userId: string;
  /** The profile embedding as pgvector text. */
  embedding: string;
}

/** `count` viewers with a profile embedding, spread over all of them (by a hash of the id), fixed per database. */
export async function sampleViewers(url: string, count: number): Promise<Sample[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ user_id: string; embedding: string }>(
      `SELECT user_id, embedding::text AS embedding FROM profiles
        WHERE embedding IS NOT NULL AND role = 'user' ORDER BY md5(user_id::text) LIMIT $1`,
      [count],
    );
    return rows.map((r) => ({ userId: r.user_id, embedding: r.embedding }));
  });
}

/** A libpq key=value connection string for dblink from a postgresql:// URL. */
export function dblinkConnection(url: string): string {
  const u = new URL(url);
  const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const parts = [
    `host=${quote(u.hostname || '127.0.0.1')}`,
    `port=${quote(u.port || '5432')}`,
    `dbname=${quote(decodeURIComponent(u.pathname.slice(1)))}`,
    `user=${quote(decodeURIComponent(u.username || 'postgres'))}`,
  ];
  if (u.password) parts.push(`password=${quote(decodeURIComponent(u.password))}`);
  return parts.join(' ');
}

/** The listing vectors copied into the work database (once; dblink when it is another database). */
async function ensureVectors(size: ScaleSize, rows: number): Promise<void> {
  await withClient(size.work.url, async (client) => {
    const { rows: table } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
      `public.${VECTORS}`,
    ]);
    if (table[0]?.ok) {
      const { rows: have } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${VECTORS}`);
      if (Number(have[0]?.n) === rows) return;
    }
    console.log(`scale ${size.label}: copying ${rows} listing vectors into ${size.work.name}.${VECTORS}`);
    await client.query(`DROP TABLE IF EXISTS ${VECTORS}, ${EXACT}`);
    await client.query(`CREATE TABLE ${VECTORS} (id bigint PRIMARY KEY, embedding vector(384) NOT NULL)`);
    if (size.owned) {
      await client.query(
        `INSERT INTO ${VECTORS} SELECT id, embedding FROM marketplace_listings WHERE embedding IS NOT NULL`,
      );
    } else {
      await client.query('CREATE EXTENSION IF NOT EXISTS dblink');
      await client.query(
        `INSERT INTO ${VECTORS}
         SELECT id, embedding::vector(384) FROM dblink($1,
           'SELECT id, embedding::text FROM marketplace_listings WHERE embedding IS NOT NULL')
           AS t(id bigint, embedding text)`,
        [dblinkConnection(size.data.url)],
      );
    }
    await client.query(`ANALYZE ${VECTORS}`);
  });
}

/**
 * The exact top 20 per sampled viewer (index scans off: a sequential scan and a top-N sort), computed
 * once per sample and kept: at 1M it is 200 scans of the whole table.
 */
async function exactAnswers(size: ScaleSize, samples: readonly Sample[]): Promise<number[][]> {
  return withClient(size.work.url, async (client) => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${EXACT} (user_id uuid PRIMARY KEY, ids bigint[] NOT NULL)`,
    );
    const { rows } = await client.query<{ user_id: string; ids: string[] }>(
      `SELECT user_id, ids FROM ${EXACT} WHERE user_id = ANY($1::uuid[])`,
      [samples.map((s) => s.userId)],
    );
    const known = new Map(rows.map((r) => [r.user_id, r.ids.map(Number)]));
    const missing = samples.filter((s) => !known.has(s.userId));
    if (missing.length > 0) {
      console.log(
        `scale ${size.label}: exact top ${SCALE_RECALL_K} for ${missing.length} viewers (sequential scans)`,
      );
      for (const s of missing) {
        await client.query('BEGIN');
        try {
          await client.query('SET LOCAL enable_indexscan = off');
          await client.query('SET LOCAL enable_bitmapscan = off');
          const ids = await topIds(client, VECTORS, s.embedding);
          await client.query(`INSERT INTO ${EXACT} (user_id, ids) VALUES ($1, $2)`, [s.userId, ids]);
          known.set(s.userId, ids);
        } finally {
          await client.query('COMMIT');
        }
      }
    }
    return samples.map((s) => known.get(s.userId) ?? []);
  });
}

async function topIds(client: pg.ClientBase, table: string, embedding: string): Promise<number[]> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM ${table} ORDER BY embedding <=> $1::vector LIMIT ${SCALE_RECALL_K}`,
    [embedding],
  );
  return rows.map((r) => Number(r.id));
}

/** The sampled viewers' top 20 through whatever index the planner picks now, and the p50 of those queries. */
async function measure(
  client: pg.ClientBase,
  table: string,
  samples: readonly Sample[],
  exact: readonly number[][],
): Promise<{ recall: number; p50Ms: number; usedIndex: boolean }> {
  const plan = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN SELECT id FROM ${table} ORDER BY embedding <=> $1::vector LIMIT ${SCALE_RECALL_K}`,
    [samples[0]?.embedding],
  );
  const usedIndex = plan.rows.some((r) => r['QUERY PLAN'].includes('Index Scan'));
  const found: number[][] = [];
  const times: number[] = [];
  for (const s of samples) {
    const t0 = performance.now();
    found.push(await topIds(client, table, s.embedding));
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { recall: recallAtK(exact, found), p50Ms: Math.round(percentile(times, 50) * 100) / 100, usedIndex };
}

async function indexBytes(client: pg.ClientBase, name: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>('SELECT pg_relation_size($1::regclass) AS n', [name]);
  return Number(rows[0]?.n ?? 0);
}

async function indexExists(client: pg.ClientBase, name: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
    `public.${name}`,
  ]);
  return rows[0]?.ok === true;
}

/** The ivfflat and HNSW indexes on a table of the work database. */
async function vectorIndexesOf(client: pg.ClientBase, table: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_index i
       JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      WHERE i.indrelid = to_regclass($1) AND am.amname IN ('ivfflat', 'hnsw')`,
    [`public.${table}`],
  );
  return rows.map((r) => r.name);
}

interface Variant {
  index: 'rebuild' | 'hnsw';
  method: 'ivfflat' | 'hnsw';
  name: string;
  build: string;
  ddl: string;
  searches: { search: string; set: string[] }[];
}

function variants(settings: BenchSettings, rows: number): Variant[] {
  const lists = suggestLists(rows);
  const out: Variant[] = [
    {
      index: 'rebuild',
      method: 'ivfflat',
      name: `${VECTORS}_ivfflat_${lists}`,
      build: `lists=${lists}`,
      ddl: `USING ivfflat (embedding vector_cosine_ops) WITH (lists = ${lists})`,
      searches: settings.scale.probes
        .filter((p) => p <= lists)
        .map((p) => ({
          search: `probes=${p}`,
          set: [`SET LOCAL ivfflat.probes = ${p}`, `SET LOCAL ivfflat.iterative_scan = relaxed_order`],
        })),
    },
  ];
  if (rows <= settings.scale.hnswMaxRows) {
    out.push({
      index: 'hnsw',
      method: 'hnsw',
      name: `${VECTORS}_hnsw_${HNSW.m}_${HNSW.efConstruction}`,
      build: `m=${HNSW.m},ef_construction=${HNSW.efConstruction}`,
      ddl: `USING hnsw (embedding vector_cosine_ops) WITH (m = ${HNSW.m}, ef_construction = ${HNSW.efConstruction})`,
      searches: settings.scale.efSearch.map((ef) => ({
        search: `ef_search=${ef}`,
        set: [`SET LOCAL hnsw.ef_search = ${ef}`],
      })),
    });
  }
  return out;
}

export interface IndexResults {
  service: ServiceIndex;
  /** Recall of the service's index at the service's probes. */
  serviceRecall: number;
  builds: IndexBuild[];
  measured: IndexSetting[];
}

/**
 * Everything index-related at one size. The service's index is only read. Alternatives are built (once,
 * timed, with maintenance_work_mem raised and parallel workers as pgvector allows) on the copy, and
 * each measured alone: the others are dropped inside a transaction that is rolled back.
 */
export async function measureIndexes(
  settings: BenchSettings,
  size: ScaleSize,
  rows: number,
  samples: readonly Sample[],
  /** The probes the size's gateway searches with (VECTOR_IVFFLAT_PROBES). */
  serviceProbes: number,
): Promise<IndexResults> {
  const service = await serviceIndexOf(size.data.url);
  await ensureVectors(size, rows);
  const exact = await exactAnswers(size, samples);
  const timings = await readTimings(size);

  const measured: IndexSetting[] = [];
  const probesTried = [...new Set([...settings.scale.probes, serviceProbes])]
    .filter((p) => p <= service.lists)
    .sort((a, b) => a - b);
  let serviceRecall = Number.NaN;
  // The service's index, read only: plain SETs on a connection of this phase's own.
  await withClient(size.data.url, async (client) => {
    await client.query(`SET ivfflat.iterative_scan = ${vectorSearchSettings()['ivfflat.iterative_scan']}`);
    for (const probes of probesTried) {
      await client.query(`SET ivfflat.probes = ${probes}`);
      const m = await measure(client, 'marketplace_listings', samples, exact);
      if (!m.usedIndex) console.warn(`scale ${size.label}: the planner did not use ${service.name}`);
      measured.push({
        size: size.label,
        index: 'service',
        method: 'ivfflat',
        build: service.build,
        search: `probes=${probes}`,
        service: probes === serviceProbes,
        indexScan: m.usedIndex,
        recall: m.recall,
        p50Ms: m.p50Ms,
      });
      if (probes === serviceProbes) serviceRecall = m.recall;
    }
  });
  // The phase's rebuild with pgvector's lists when it made one (scaleDatabases.ts), else the seed's.
  const rebuilt = timings.get('service_index');
  const seeded = rebuilt ?? timings.get('seed_reindex');
  const builds: IndexBuild[] = [
    {
      size: size.label,
      index: 'service',
      method: 'ivfflat',
      build: service.build,
      buildSec: seeded?.seconds ?? null,
      indexBytes: service.indexBytes,
      note: seeded
        ? `${rebuilt ? "the phase's rebuild_ivfflat_index" : "the seed's reindex"}, ${seeded.recordedAt.slice(0, 10)}`
        : 'built before this phase timed it',
    },
  ];

  // A service index already built with pgvector's lists (scaleDatabases.ts) is the rebuild: measured above.
  const all = variants(settings, rows).filter((v) => !(v.index === 'rebuild' && v.build === service.build));
  await withClient(size.work.url, async (client) => {
    for (const v of all) {
      if (!(await indexExists(client, v.name))) {
        console.log(`scale ${size.label}: building ${v.name} (${v.build}) on ${rows} rows`);
        await client.query(`SET maintenance_work_mem = '${rows > 200_000 ? '6GB' : '1GB'}'`);
        await client.query('SET max_parallel_maintenance_workers = 2');
        const started = performance.now();
        await client.query(`CREATE INDEX ${v.name} ON ${VECTORS} ${v.ddl}`);
        const seconds = (performance.now() - started) / 1000;
        console.log(`scale ${size.label}: ${v.name} built in ${seconds.toFixed(1)} s`);
        await recordTiming(size, `build_${v.name}`, seconds, v.build);
        timings.set(`build_${v.name}`, { seconds, detail: v.build, recordedAt: new Date().toISOString() });
        await client.query('RESET maintenance_work_mem');
      }
      const t = timings.get(`build_${v.name}`);
      builds.push({
        size: size.label,
        index: v.index,
        method: v.method,
        build: v.build,
        buildSec: t?.seconds ?? null,
        indexBytes: await indexBytes(client, v.name),
        note: t ? `built ${t.recordedAt.slice(0, 16).replace('T', ' ')}` : 'not timed',
      });
    }
    for (const v of all) {
      for (const s of v.searches) {
        await client.query('BEGIN');
        try {
          // Every other vector index on the copy, also one a run with other settings built.
          for (const other of await vectorIndexesOf(client, VECTORS)) {
            if (other !== v.name) await client.query(`DROP INDEX ${other}`);
          }
          for (const statement of s.set) await client.query(statement);
          // Recall of the index itself: at a few lists and many probes the planner would rather scan.
          await client.query('SET LOCAL enable_seqscan = off');
          const m = await measure(client, VECTORS, samples, exact);
          if (!m.usedIndex) console.warn(`scale ${size.label}: the planner did not use ${v.name}`);
          measured.push({
            size: size.label,
            index: v.index,
            method: v.method,
            build: v.build,
            search: s.search,
            service: false,
            indexScan: m.usedIndex,
            recall: m.recall,
            p50Ms: m.p50Ms,
          });
        } finally {
          await client.query('ROLLBACK');
        }
      }
    }
  });
  for (const m of measured.filter((x) => x.size === size.label)) {
    console.log(
      `  ${size.label} ${m.index} ${m.build} ${m.search}: recall@${SCALE_RECALL_K} ${m.recall.toFixed(3)}, ` +
        `p50 ${m.p50Ms} ms${m.indexScan ? '' : ' (the planner chose a sequential scan)'}`,
    );
  }
  return { service, serviceRecall, builds, measured };
}
