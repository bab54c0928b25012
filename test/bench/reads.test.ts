import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { checkRows, countRows, readOperations, type ReadsInputs } from '../../bench/reads/readsOps.js';
import {
  compareSides,
  evaluateReadsTargets,
  geomean,
  geomeans,
  readsMarkdown,
  type ReadsResults,
  type ReadsSlice,
} from '../../bench/reads/readsReport.js';
import { median } from '../../bench/shared/load.js';
import { readSettings } from '../../bench/shared/settings.js';

// The reads phase's pure parts (bench/reads): its queries, the row checks that keep a failing query
// from looking fast, and the medians, ratios, geometric means and targets of its report. No timing.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const inputs: ReadsInputs = {
  listingIds: [7, 8, 9],
  handles: ['ada_l', 'bob_k'],
  interestSearch: { text: 'an', pageRows: 20 },
  categories: 12,
};

const byName = (name: string) => {
  const op = readOperations(inputs).find((o) => o.name === name);
  if (!op) throw new Error(`no operation ${name}`);
  return op;
};

describe('reads operations', () => {
  it('are valid documents of the gateway’s schema (schema.graphql)', () => {
    const schema = buildSchema(fs.readFileSync(path.join(root, 'schema.graphql'), 'utf8'));
    const operations = readOperations(inputs);
    expect(operations.map((o) => o.name)).toEqual([
      'listings page',
      'one listing',
      'profile',
      'interests search',
      'categories',
    ]);
    for (const op of operations) {
      expect(validate(schema, parse(op.sides.lodestar.query)), op.name).toEqual([]);
    }
  });

  it('ask both sides for the same fields and rotate through the same rows', () => {
    const one = byName('one listing');
    expect(one.sides.lodestar.variables(4)).toEqual({ id: '8' });
    expect(one.sides.postgraphile.variables(4)).toEqual({ id: 8 });
    const profile = byName('profile');
    expect(profile.sides.lodestar.variables(3)).toEqual(profile.sides.postgraphile.variables(3));
    expect(profile.sides.lodestar.variables(3)).toEqual({ handle: 'bob_k' });
    const selection = (q: string) => /\{ nodes \{ (.*) \} \} \}$|\{ node \{ (.*) \} \} \} \}$/.exec(q);
    const page = byName('listings page');
    const [lodestar, peer] = [page.sides.lodestar.query, page.sides.postgraphile.query].map((q) => {
      const m = selection(q);
      return m?.[1] ?? m?.[2];
    });
    expect(lodestar).toBe('id title price category { name } seller { handle }');
    expect(peer).toBe(lodestar);
    expect(page.sides.postgraphile.query).toContain('condition: { status: "active" }');
    const commentsOf = (q: string) => /comments\(first: 10[^)]*\) \{ (?:nodes \{ )?([^}]*\}) \}/.exec(q)?.[1];
    expect(commentsOf(one.sides.lodestar.query)).toBe('id body createdAt author { handle }');
    expect(commentsOf(one.sides.postgraphile.query)).toBe(commentsOf(one.sides.lodestar.query));
    expect(one.sides.postgraphile.query).toContain('orderBy: [CREATED_AT_DESC, ID_DESC]');
    expect(byName('interests search').sides.postgraphile.query).toContain('nameContains: "an"');
  });

  it('expect the rows the inputs say', () => {
    expect(readOperations(inputs).map((o) => o.expectedRows)).toEqual([20, 10, 1, 20, 12]);
  });
});

describe('countRows / checkRows', () => {
  it('counts an array, an object as 1 and null as 0', () => {
    expect(countRows('{"data":{"categories":{"nodes":[{},{},{}]}}}', ['categories', 'nodes'])).toBe(3);
    expect(countRows('{"data":{"listing":{"id":"1"}}}', ['listing'])).toBe(1);
    expect(countRows('{"data":{"listing":null}}', ['listing'])).toBe(0);
  });

  it('throws on GraphQL errors, a missing path and a body that is not JSON', () => {
    expect(() => countRows('{"errors":[{"message":"boom"}],"data":null}', ['listing'])).toThrow(
      /GraphQL errors/,
    );
    expect(() => countRows('{"data":{"other":[]}}', ['listings', 'edges'])).toThrow(/no listings\.edges/);
    expect(() => countRows('{"data":null}', ['listing'])).toThrow(/no listing/);
    expect(() => countRows('<html>502</html>', ['listing'])).toThrow(/not JSON/);
  });

  it('fails a short page and a missing row, passes a full one', () => {
    const page = byName('listings page');
    const edges = (n: number) =>
      JSON.stringify({ data: { listings: { edges: Array.from({ length: n }, () => ({ node: {} })) } } });
    expect(() => checkRows(edges(20), page, 'lodestar')).not.toThrow();
    expect(() => checkRows(edges(19), page, 'lodestar')).toThrow(/expected 20 row\(s\), got 19/);
    const one = byName('one listing');
    expect(() => checkRows('{"data":{"marketplaceListing":null}}', one, 'postgraphile')).toThrow(
      /no marketplaceListing\.comments\.nodes/,
    );
    const comments = (n: number) =>
      JSON.stringify({ data: { listing: { comments: Array.from({ length: n }, () => ({})) } } });
    expect(() => checkRows(comments(10), one, 'lodestar')).not.toThrow();
    expect(() => checkRows(comments(9), one, 'lodestar')).toThrow(/expected 10 row\(s\), got 9/);
  });
});

const slice = (
  operation: string,
  side: ReadsSlice['side'],
  concurrency: number,
  requestsPerSec: number,
  p50Ms: number,
  errors = 0,
): ReadsSlice => ({ operation, side, concurrency, round: 0, requests: 10, errors, requestsPerSec, p50Ms });

describe('reads report maths', () => {
  it('median and geometric mean', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(geomean([2, 8])).toBeCloseTo(4, 10);
    expect(geomean([0.5, 2])).toBeCloseTo(1, 10);
    expect(geomean([])).toBeNaN();
    expect(geomean([1, 0])).toBeNaN();
  });

  it('compares the medians of each side’s slices', () => {
    const rows = compareSides([
      slice('a', 'lodestar', 16, 100, 9),
      slice('a', 'lodestar', 16, 300, 1),
      slice('a', 'lodestar', 16, 200, 5),
      slice('a', 'postgraphile', 16, 400, 2),
      slice('a', 'postgraphile', 16, 400, 2),
      slice('a', 'postgraphile', 16, 1000, 10, 1),
    ]);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row?.lodestar).toMatchObject({
      slices: 3,
      requests: 30,
      errors: 0,
      requestsPerSec: 200,
      p50Ms: 5,
    });
    expect(row?.postgraphile).toMatchObject({ requestsPerSec: 400, p50Ms: 2, errors: 1 });
    expect(row?.throughputRatio).toBe(0.5);
    expect(row?.latencyRatio).toBe(0.4);
  });

  it('passes the targets only when every operation and the means clear their bounds', () => {
    const at = (c: number, a: number, b: number) => [
      slice('a', 'lodestar', c, 100 * a, 10 / a),
      slice('a', 'postgraphile', c, 100, 10),
      slice('b', 'lodestar', c, 100 * b, 10 / b),
      slice('b', 'postgraphile', c, 100, 10),
    ];
    const judge = (slices: ReadsSlice[]) => {
      const rows = compareSides(slices);
      return evaluateReadsTargets(rows, geomeans(rows), 1, 16).map((t) => t.pass);
    };
    // 0.95× and 1.1×: each ≥ 0.9×, geomean 1.02×.
    expect(judge([...at(1, 0.95, 1.1), ...at(16, 0.95, 1.1)])).toEqual([true, true, true, true, true]);
    // 0.85× and 1.3×: geomean 1.05× but one operation under 0.9×.
    expect(judge([...at(1, 0.95, 1.1), ...at(16, 0.85, 1.3)])).toEqual([false, true, true, true, true]);
    // 0.92× and 1.0×: each ≥ 0.9× but geomean 0.96× at c=1.
    expect(judge([...at(1, 0.92, 1.0), ...at(16, 1, 1)])).toEqual([true, true, true, false, true]);
    const failed = [...at(1, 1, 1), ...at(16, 1, 1)].map((s, i) => (i === 0 ? { ...s, errors: 2 } : s));
    expect(judge(failed)).toEqual([true, true, true, true, false]);
  });

  it('writes a table row per operation with both ratios and the geometric means', () => {
    const slices = [
      slice('listings page', 'lodestar', 1, 100, 4),
      slice('listings page', 'postgraphile', 1, 300, 2),
      slice('listings page', 'lodestar', 16, 200, 40),
      slice('listings page', 'postgraphile', 16, 800, 10),
    ];
    const rows = compareSides(slices);
    const means = geomeans(rows);
    const results: ReadsResults = {
      date: '2026-12-03T00:00:00.000Z',
      node: 'v20',
      cpus: 2,
      loadAverage: { atStart: [1, 2, 3], atEnd: [1, 2, 3] },
      settings: {
        rounds: 5,
        warmupSec: 2,
        sliceSec: 2,
        concurrencies: [1, 16],
        poolMax: 10,
        peer: 'PostGraphile',
        identity: 'anonymous',
      },
      operations: [{ name: 'listings page', description: 'a page', lodestar: '{}', postgraphile: '{}' }],
      slices,
      rows,
      geomeans: means,
      rss: { lodestarPeakMb: 250, postgraphilePeakMb: null },
      exits: { lodestar: 'exit 0', postgraphile: 'exit 0' },
      targets: evaluateReadsTargets(rows, means, 1, 16),
    };
    const md = readsMarkdown(results);
    expect(md).toContain('| listings page | 200 | 800 | 0.25× | 4 ms | 2 ms | 0.50× |');
    expect(md).toContain('| **geometric mean** | | | **0.25×** | | | **0.50×** |');
    expect(md).toContain('Lodestar 250 MB, PostGraphile n/a');
    expect(md).toMatch(/geometric mean of the req\/s ratios at c=16 \| 0\.25× \| ≥ 1\.0× \| FAIL/);
  });
});

describe('bench settings', () => {
  it('run the reads phase alone and default to 5 rounds of 2 s slices', () => {
    const settings = readSettings({ BENCH_PHASES: 'reads' });
    expect([...settings.phases]).toEqual(['reads']);
    expect(settings.reads).toEqual({ rounds: 5, sliceSec: 2 });
    expect(readSettings({ BENCH_READS_ROUNDS: '7' }).reads.rounds).toBe(7);
    expect(() => readSettings({ BENCH_READS_ROUNDS: '0' })).toThrow(/BENCH_READS_ROUNDS/);
  });
});
