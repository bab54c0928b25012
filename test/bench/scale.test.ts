import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { listsOff, serviceProbesFor } from '../../bench/scale/scaleDatabases.js';
import { dblinkConnection } from '../../bench/scale/scaleIndex.js';
import { LISTINGS_QUERY } from '../../bench/scale/scalePhase.js';
import {
  feedGrowthTarget,
  formatBytes,
  type IndexSetting,
  type LoadCell,
  recallAtK,
  recallTargets,
  recommend,
  scaleMarkdown,
  type ScaleResults,
  type SizeRow,
} from '../../bench/scale/scaleReport.js';
import { readSettings } from '../../bench/shared/settings.js';
import { DEFAULT_IVFFLAT_PROBES } from '../../src/db/service.js';

// The scale phase's pure parts (bench/scale): recall@k, the setting it recommends, the
// "feed p50 at 1M ≤ 1.5× at 100k" check, the tables and its knobs. No timing.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const cell = (p50Ms: number, requestsPerSec = 100, errors = 0): LoadCell => ({
  requests: 500,
  errors,
  requestsPerSec,
  p50Ms,
});

const row = (size: string, feedP50: number, recall: number | null = 0.97, errors = 0): SizeRow => ({
  size,
  database: `db_${size}`,
  listings: size === '1m' ? 1_000_000 : 100_000,
  users: 20_000,
  action: 'reused',
  timings: { seedSec: 35, coengagementSec: 4, coengagementNote: '1000 rows', coengagementRows: 0 },
  feed: { c1: cell(feedP50, 100, errors), cHigh: cell(feedP50 * 4, 180), firstPageP50Ms: 60 },
  listingsPage: { c1: cell(3), cHigh: cell(10, 900) },
  ann: { c1: cell(2), cHigh: cell(8, 1200) },
  tableBytes: 200 * 1024 * 1024,
  toastBytes: 8192,
  serviceIndex: {
    name: 'marketplace_listings_embedding_ivfflat',
    build: 'lists=200',
    indexBytes: 1024,
    probes: 15,
    recall,
  },
});

const setting = (
  size: string,
  index: string,
  search: string,
  recall: number,
  p50Ms: number,
): IndexSetting => ({
  size,
  index,
  method: index === 'hnsw' ? 'hnsw' : 'ivfflat',
  build: index === 'hnsw' ? 'm=16,ef_construction=64' : 'lists=100',
  search,
  service: false,
  indexScan: true,
  recall,
  p50Ms,
});

describe('recallAtK', () => {
  it('is the share of the exact top k the index found, averaged over queries', () => {
    const exact = [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ];
    // First query: 3 of 4 found (order does not matter); second: all 4.
    expect(
      recallAtK(
        exact,
        [
          [4, 3, 1, 99],
          [8, 7, 6, 5],
        ],
        4,
      ),
    ).toBeCloseTo(0.875);
  });

  it('only counts the index’s first k rows', () => {
    // The right row at position 5 of a top-4 answer is a miss.
    expect(recallAtK([[1, 2, 3, 4]], [[1, 2, 3, 9, 4]], 4)).toBeCloseTo(0.75);
  });

  it('refuses answers that do not pair up with the exact ones', () => {
    expect(() => recallAtK([[1], [2]], [[1]], 1)).toThrow(/2 exact answers but 1 index answers/);
  });

  it('counts an empty index answer as zero recall', () => {
    expect(recallAtK([[1, 2]], [[]], 2)).toBe(0);
  });
});

describe('recommend', () => {
  it('picks the fastest setting that keeps recall ≥ 0.95, per size and index', () => {
    const measured = [
      setting('1m', 'rebuild', 'probes=5', 0.9, 2),
      setting('1m', 'rebuild', 'probes=20', 0.96, 6),
      setting('1m', 'rebuild', 'probes=40', 0.99, 11),
      setting('1m', 'hnsw', 'ef_search=20', 0.93, 1),
      setting('1m', 'hnsw', 'ef_search=40', 0.97, 1.5),
      setting('10k', 'rebuild', 'probes=1', 0.5, 1),
      // Exact because the planner scanned the table: not the index's recall, never recommended.
      { ...setting('10k', 'rebuild', 'probes=10', 1, 0.5), indexScan: false },
    ];
    expect(recommend(measured)).toEqual([
      { size: '1m', index: 'rebuild', search: 'probes=20', recall: 0.96, p50Ms: 6 },
      { size: '1m', index: 'hnsw', search: 'ef_search=40', recall: 0.97, p50Ms: 1.5 },
      { size: '10k', index: 'rebuild', search: null, recall: null, p50Ms: null },
    ]);
  });
});

describe('feedGrowthTarget', () => {
  it('passes at exactly 1.5× and fails above it', () => {
    expect(feedGrowthTarget([row('100k', 20), row('1m', 30)]).pass).toBe(true);
    const fail = feedGrowthTarget([row('100k', 20), row('1m', 30.2)]);
    expect(fail.pass).toBe(false);
    expect(fail.value).toBe('1.51× (30.2 ms vs 20 ms)');
  });

  it('fails when a size is missing or its feed requests failed, rather than passing on nothing', () => {
    expect(feedGrowthTarget([row('100k', 20)])).toMatchObject({ pass: false, value: /not measured/ });
    expect(feedGrowthTarget([row('100k', 20), row('1m', 10, 0.97, 3)])).toMatchObject({
      pass: false,
      value: 'feed runs failed',
    });
  });
});

describe('recallTargets', () => {
  it('checks the service index’s recall per size against 0.95', () => {
    const targets = recallTargets([row('100k', 20, 0.96), row('1m', 25, 0.81), row('10k', 5, null)]);
    expect(targets.map((t) => [t.value, t.pass])).toEqual([
      ['0.960', true],
      ['0.810', false],
    ]);
  });
});

describe('the report', () => {
  const results: ScaleResults = {
    date: '2026-12-03T20:00:00.000Z',
    node: 'v20',
    cpus: 2,
    loadAverage: { atStart: [2, 2, 2], atEnd: [3, 3, 3], duringLoad: [[4, 3, 2]] },
    command: 'BENCH_PHASES=scale npm run bench',
    settings: {
      warmupSec: 2,
      durationSec: 9,
      rounds: 3,
      concurrencies: [1, 16],
      viewers: 300,
      recallSamples: 200,
      recallK: 20,
      feedQuery: '{ suggestions }',
      listingsQuery: LISTINGS_QUERY,
      annStatement: 'SELECT 1',
    },
    rows: [row('100k', 20), row('1m', 45, 0.8)],
    builds: [
      {
        size: '1m',
        index: 'service',
        method: 'ivfflat',
        build: 'lists=200',
        buildSec: 312,
        indexBytes: 1_600_000_000,
        note: 'seed',
      },
    ],
    settingsMeasured: [setting('1m', 'rebuild', 'probes=20', 0.96, 6)],
    recommended: [{ size: '1m', index: 'rebuild', search: 'probes=20', recall: 0.96, p50Ms: 6 }],
    exits: {},
    targets: [feedGrowthTarget([row('100k', 20), row('1m', 45)])],
  };

  it('has one row per size with the issue’s columns, and the check as FAIL', () => {
    const md = scaleMarkdown(results);
    expect(md).toContain(
      '| 1m | 1,000,000 | 60 | 45 | 180 | 3 | 900 | 2 | 1200 | ivfflat lists=200 | 1.0 kB |',
    );
    expect(md).toContain('| 312 s | 15 | 0.800 |');
    expect(md).toMatch(/feed p50 at 1m ≤ 1\.5× its p50 at 100k \| 2\.25× .* \| FAIL \|/);
    expect(md).toContain('| 1m | rebuild (ivfflat) | lists=100 | probes=20 | 0.960 | 6 | yes |');
  });

  it('runs each size at about √lists probes, never below the default, and rebuilds only lists 2× off the rule', () => {
    expect(serviceProbesFor(10)).toBe(DEFAULT_IVFFLAT_PROBES);
    expect(serviceProbesFor(200)).toBe(15);
    expect(serviceProbesFor(1000)).toBe(32);
    expect(listsOff(200, 1_000_000)).toBe(true); // the seed's 200 against the rule's 1,000
    expect(listsOff(200, 10_000)).toBe(true); // against 10
    expect(listsOff(200, 100_000)).toBe(false); // against 100: within 2×, lodestar_bench stays
    expect(listsOff(1000, 1_000_000)).toBe(false);
  });

  it('formats sizes in powers of 1024', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 kB');
    expect(formatBytes(1_600_000_000)).toBe('1.5 GB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MB');
  });
});

describe('the scale phase’s queries and knobs', () => {
  it('asks for a listings page the schema accepts', () => {
    const schema = buildSchema(fs.readFileSync(path.join(root, 'schema.graphql'), 'utf8'));
    expect(validate(schema, parse(LISTINGS_QUERY))).toEqual([]);
  });

  it('is not among the default phases (it seeds a 1M database), only when named', () => {
    expect(readSettings({}).phases.has('scale')).toBe(false);
    expect(readSettings({ BENCH_PHASES: 'scale' }).phases.has('scale')).toBe(true);
  });

  it('reads its sizes and refuses unknown ones', () => {
    expect(readSettings({ BENCH_SCALE_SIZES: '1M, 10k' }).scale.sizes).toEqual(['1m', '10k']);
    expect(() => readSettings({ BENCH_SCALE_SIZES: '5m' })).toThrow(/BENCH_SCALE_SIZES must be/);
    expect(() => readSettings({ BENCH_SCALE_PROBES: '10,zero' })).toThrow(/BENCH_SCALE_PROBES must be/);
  });

  it('quotes the dblink connection string', () => {
    expect(dblinkConnection("postgresql://postgres:p'w@127.0.0.1:5432/lodestar_bench")).toBe(
      "host='127.0.0.1' port='5432' dbname='lodestar_bench' user='postgres' password='p\\'w'",
    );
  });
});
