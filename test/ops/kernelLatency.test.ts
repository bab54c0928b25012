import { Writable } from 'node:stream';
import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS } from '../../src/flags/exposureStats.js';
import { kernelOf } from '../../src/ops/kernels.js';
import { createTelemetry, type Telemetry } from '../../src/ops/telemetry.js';
import type { Logger } from '../../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertInterest } from '../support/fixtures.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { firstCode, metricValue, postGraphQL, seedHttpFixtures, type HttpFixtures } from '../support/http.js';
import { waitUntil } from '../support/workerHarness.js';
import { graphql } from '../support/graphql.js';

/** Runbook "Performance SLOs": every request is one sample of its kernel, written in batches. */

interface QueryCall {
  text: string;
  values: unknown[];
}

/** A stand-in for the pg pool that records every statement (and can be told to fail). */
function createFakePool(options: { fail?: () => boolean } = {}) {
  const calls: QueryCall[] = [];
  const pool = {
    query: async (text: string, values: unknown[] = []) => {
      calls.push({ text, values });
      if (options.fail?.()) throw new Error('connection refused');
      return { rows: [], rowCount: 0 };
    },
  };
  return { calls, pool: pool as unknown as Pick<pg.Pool, 'query'> };
}

/** A pino logger whose JSON lines land in `lines`. */
function createCapturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

const kernelInserts = (calls: readonly QueryCall[]) => calls.filter((c) => c.text.includes('kernel_latency'));
const exposureInserts = (calls: readonly QueryCall[]) =>
  calls.filter((c) => c.text.includes('flag_exposure_stats'));

describe('kernelOf: the kernel of an operation', () => {
  const none = new Set<string>();

  it.each([
    ['query', ['suggestions'], 'feed'],
    ['query', ['similarListings'], 'feed'],
    ['query', ['interests'], 'onboarding'],
    ['query', ['categories'], 'onboarding'],
    ['mutation', ['setInterests'], 'onboarding'],
    ['mutation', ['addInterest'], 'onboarding'],
    ['mutation', ['removeInterest'], 'onboarding'],
    ['mutation', ['likeListing'], 'write'],
    ['mutation', ['addComment'], 'write'],
    ['query', ['ops'], 'ops'],
    ['query', ['schemaMigrations'], 'ops'],
    ['query', ['listing'], 'read'],
    ['query', ['me'], 'read'],
    ['query', ['listing', 'me', 'flags'], 'read'],
    ['query', [], 'read'],
  ] as const)('%s { %s } is %s', (operation, fields, kernel) => {
    expect(kernelOf(operation, fields, none)).toBe(kernel);
  });

  it('counts admin root fields (from the schema) as ops, queries and mutations alike', () => {
    const admin = new Set(['saveFlag', 'userFeatures']);
    expect(kernelOf('mutation', ['saveFlag'], admin)).toBe('ops');
    expect(kernelOf('query', ['userFeatures'], admin)).toBe('ops');
    expect(kernelOf('mutation', ['saveFlag'], none)).toBe('write');
  });

  it('counts a mixed operation under the most critical kernel: ops > write > onboarding > feed > read', () => {
    expect(kernelOf('query', ['listing', 'suggestions'], none)).toBe('feed');
    expect(kernelOf('query', ['suggestions', 'interests'], none)).toBe('onboarding');
    expect(kernelOf('mutation', ['addInterest', 'likeListing'], none)).toBe('write');
    expect(kernelOf('query', ['suggestions', 'ops', 'me'], none)).toBe('ops');
  });
});

describe('createTelemetry: batched, asynchronous recording', () => {
  const open: Telemetry[] = [];
  const track = (t: Telemetry): Telemetry => {
    open.push(t);
    return t;
  };

  afterAll(async () => {
    for (const t of open) await t.close();
  });

  it('writes 100 kernel samples with one INSERT at the flush, none before it', async () => {
    const { calls, pool } = createFakePool();
    const { logger } = createCapturingLogger();
    const telemetry = track(createTelemetry({ pool, logger, flushMs: 60_000 }));
    for (let i = 0; i < 100; i += 1) telemetry.recordKernel(i % 2 ? 'read' : 'feed', i, i % 10 !== 0);
    expect(calls).toHaveLength(0);
    await telemetry.flush();
    expect(calls).toHaveLength(1);
    const [kernels, ms, ok] = calls[0]!.values as [string[], number[], boolean[]];
    expect(calls[0]!.text).toMatch(/INSERT INTO kernel_latency/);
    expect(kernels).toHaveLength(100);
    expect(kernels.slice(0, 3)).toEqual(['feed', 'read', 'feed']);
    expect(ms).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(ok.filter((v) => !v)).toHaveLength(10);
    // Nothing pending: a second flush writes nothing.
    await telemetry.flush();
    expect(calls).toHaveLength(1);
  });

  it('clamps a negative duration to 0 (the table checks duration_ms >= 0)', async () => {
    const { calls, pool } = createFakePool();
    const telemetry = track(
      createTelemetry({ pool, logger: createCapturingLogger().logger, flushMs: 60_000 }),
    );
    telemetry.recordKernel('read', -3, true);
    await telemetry.flush();
    expect(calls[0]!.values[1]).toEqual([0]);
  });

  it('folds exposures into one aggregate row per flag and variant, written with one INSERT', async () => {
    const { calls, pool } = createFakePool();
    const telemetry = track(
      createTelemetry({ pool, logger: createCapturingLogger().logger, flushMs: 60_000 }),
    );
    const both = [
      { flag: 'new-feed', variant: 'on' as const },
      { flag: 'dark-mode', variant: 'off' as const },
    ];
    telemetry.recordExposures(both, 1, true);
    telemetry.recordExposures(both, 12, false);
    telemetry.recordExposures([{ flag: 'new-feed', variant: 'on' }], 20_000, true);
    telemetry.recordExposures([{ flag: 'new-feed', variant: 'off' }], 3, true);
    telemetry.recordExposures([], 3, true);
    await telemetry.flush();
    expect(kernelInserts(calls)).toHaveLength(0);
    expect(exposureInserts(calls)).toHaveLength(1);
    const [flags, variants, requests, errors, buckets] = calls[0]!.values as [
      string[],
      string[],
      number[],
      number[],
      string[],
    ];
    const rows = flags.map((flag, i) => ({
      flag,
      variant: variants[i],
      requests: requests[i],
      errors: errors[i],
      buckets: buckets[i]!.split(',').map(Number),
    }));
    const newFeedOn = rows.find((r) => r.flag === 'new-feed' && r.variant === 'on');
    expect(rows).toHaveLength(3);
    expect(newFeedOn).toMatchObject({ requests: 3, errors: 1 });
    expect(newFeedOn!.buckets).toHaveLength(LATENCY_BUCKETS_MS.length + 1);
    // 1 ms → first bucket (≤ 2), 12 ms → ≤ 15, 20 s → +Inf.
    expect(newFeedOn!.buckets[0]).toBe(1);
    expect(newFeedOn!.buckets[LATENCY_BUCKETS_MS.indexOf(15)]).toBe(1);
    expect(newFeedOn!.buckets[LATENCY_BUCKETS_MS.length]).toBe(1);
    expect(rows.find((r) => r.flag === 'dark-mode')).toMatchObject({
      variant: 'off',
      requests: 2,
      errors: 1,
    });
    expect(rows.find((r) => r.flag === 'new-feed' && r.variant === 'off')).toMatchObject({ requests: 1 });
  });

  it('writes kernels and exposures pending together in two statements', async () => {
    const { calls, pool } = createFakePool();
    const telemetry = track(
      createTelemetry({ pool, logger: createCapturingLogger().logger, flushMs: 60_000 }),
    );
    for (let i = 0; i < 50; i += 1) {
      telemetry.recordKernel('feed', 5, true);
      telemetry.recordExposures([{ flag: 'f', variant: i % 2 ? 'on' : 'off' }], 5, true);
    }
    await telemetry.flush();
    expect(calls).toHaveLength(2);
  });

  it('flushes on its own timer, off the request path', async () => {
    const { calls, pool } = createFakePool();
    const telemetry = track(createTelemetry({ pool, logger: createCapturingLogger().logger, flushMs: 50 }));
    telemetry.recordKernel('auth', 1, true);
    telemetry.recordKernel('read', 2, true);
    await waitUntil(() => calls.length > 0, 'the timer to flush');
    expect(kernelInserts(calls)).toHaveLength(1);
    expect(calls[0]!.values[0]).toEqual(['auth', 'read']);
  });

  it('drops the batch when the write fails: counts it with onDropped, logs a warning, never throws', async () => {
    let failing = true;
    const { calls, pool } = createFakePool({ fail: () => failing });
    const { logger, lines } = createCapturingLogger();
    const dropped: number[] = [];
    const telemetry = track(
      createTelemetry({ pool, logger, flushMs: 60_000, onDropped: (n) => dropped.push(n) }),
    );
    for (let i = 0; i < 30; i += 1) telemetry.recordKernel('feed', 10, true);
    telemetry.recordExposures([{ flag: 'f', variant: 'on' }], 10, true);
    await expect(telemetry.flush()).resolves.toBeUndefined();
    expect(dropped).toEqual([30]);
    expect(lines.some((l) => typeof l.msg === 'string' && l.msg.includes('telemetry write failed'))).toBe(
      true,
    );

    // The dropped samples are gone for good; later ones are written once the database answers.
    failing = false;
    calls.length = 0;
    telemetry.recordKernel('read', 1, true);
    await telemetry.flush();
    expect(kernelInserts(calls)).toHaveLength(1);
    expect(calls[0]!.values[0]).toEqual(['read']);
    expect(exposureInserts(calls)).toHaveLength(0);
  });

  it('keeps at most maxPending kernel samples; the rest are dropped and counted', async () => {
    const { calls, pool } = createFakePool();
    const dropped: number[] = [];
    const telemetry = track(
      createTelemetry({
        pool,
        logger: createCapturingLogger().logger,
        flushMs: 60_000,
        maxPending: 10,
        onDropped: (n) => dropped.push(n),
      }),
    );
    for (let i = 0; i < 15; i += 1) telemetry.recordKernel('feed', i, true);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(5);
    await telemetry.flush();
    expect(calls[0]!.values[1]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // After a flush the buffer has room again.
    for (let i = 0; i < 10; i += 1) telemetry.recordKernel('feed', i, true);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('close() writes what is pending and stops the timer', async () => {
    const { calls, pool } = createFakePool();
    const telemetry = createTelemetry({ pool, logger: createCapturingLogger().logger, flushMs: 20 });
    telemetry.recordKernel('ops', 3, true);
    await telemetry.close();
    expect(kernelInserts(calls)).toHaveLength(1);
    telemetry.recordKernel('ops', 3, true);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(kernelInserts(calls)).toHaveLength(1);
  });
});

describe('kernel latency through the HTTP gateway', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let fixtures: HttpFixtures;
  let interestIds: number[];
  let userToken: string;
  let adminToken: string;

  const counts = async (): Promise<Record<string, { n: number; failed: number }>> => {
    const { rows } = await db.pool.query<{ kernel: string; n: number; failed: number }>(
      `SELECT kernel, count(*)::int AS n, (count(*) FILTER (WHERE NOT ok))::int AS failed
       FROM kernel_latency GROUP BY kernel ORDER BY kernel`,
    );
    return Object.fromEntries(rows.map((r) => [r.kernel, { n: r.n, failed: r.failed }]));
  };
  const total = async (): Promise<number> =>
    (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM kernel_latency')).rows[0]!.n;
  /** Waits for the gateway's flush to write exactly `expected` samples per kernel. */
  const expectSamples = async (expected: Record<string, number>): Promise<void> => {
    let last: Record<string, { n: number; failed: number }> = {};
    await waitUntil(
      async () => {
        last = await counts();
        return Object.entries(expected).every(([k, n]) => (last[k]?.n ?? 0) >= n);
      },
      `kernel samples ${JSON.stringify(expected)}`,
    );
    expect(Object.fromEntries(Object.entries(last).map(([k, v]) => [k, v.n]))).toEqual(expected);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    fixtures = await seedHttpFixtures(db.pool, 'kern');
    interestIds = [
      await insertInterest(db.pool, { categoryId: fixtures.categoryId }),
      await insertInterest(db.pool, { categoryId: fixtures.categoryId }),
    ];
    gateway = await createTestGateway(db, { TELEMETRY_FLUSH_MS: '100' });
    userToken = await gateway.token({ sub: fixtures.userId, role: 'user' });
    adminToken = await gateway.token({ sub: fixtures.adminId, role: 'admin' });
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  beforeEach(async () => {
    await db.pool.query('DELETE FROM kernel_latency');
  });

  it('records each kind of request under its kernel, and every bearer token as an auth sample', async () => {
    const anonymous = [
      ['{ suggestions(first: 2) { edges { node { listing { id } } } } }', 'feed'],
      ['{ interests(first: 5) { edges { node { id } } } }', 'onboarding'],
      ['{ categories { id } }', 'onboarding'],
      [`{ listing(id: "${fixtures.listingIds[0]}") { id } }`, 'read'],
      ['{ me { id } }', 'read'],
    ] as const;
    for (const [query, kernel] of anonymous) {
      const res = await postGraphQL(gateway, query);
      expect(res.body.errors, `${kernel}: ${res.raw}`).toBeUndefined();
    }
    const signedIn = [
      [
        'mutation S($i: [InterestInput!]!) { setInterests(interests: $i) { interestCount } }',
        { i: [{ interestId: String(interestIds[0]), affinity: 0.7 }] },
        userToken,
      ],
      [
        'mutation A($id: ID!) { addInterest(interestId: $id) { interestCount } }',
        { id: String(interestIds[1]) },
        userToken,
      ],
      [
        'mutation L($id: ID!) { likeListing(listingId: $id) { liked } }',
        { id: String(fixtures.listingIds[1]) },
        userToken,
      ],
      ['{ me { id } }', {}, userToken],
      ['{ ops { stuckLeases { events discovery } } }', {}, adminToken],
      ['mutation { saveFlag(key: "kernel-test") { flag { key } } }', {}, adminToken],
    ] as const;
    for (const [query, variables, token] of signedIn) {
      const res = await postGraphQL(gateway, query, { variables, token });
      expect(res.body.errors, res.raw).toBeUndefined();
    }
    await expectSamples({ feed: 1, onboarding: 4, read: 3, write: 1, ops: 2, auth: 6 });
    const failed = Object.values(await counts()).reduce((sum, c) => sum + c.failed, 0);
    expect(failed).toBe(0);
  });

  it('ops.kernelSlos reflects the samples after a flush', async () => {
    for (let i = 0; i < 3; i += 1) await postGraphQL(gateway, '{ categories { id } }');
    for (let i = 0; i < 2; i += 1) await postGraphQL(gateway, '{ me { id } }');
    await expectSamples({ onboarding: 3, read: 2 });
    const res = await postGraphQL(gateway, graphql('{ ops { kernelSlos { kernel n p95Ms errorRate } } }'), {
      token: adminToken,
    });
    expect(res.body.errors).toBeUndefined();
    const slos = res.body.data!.ops.kernelSlos;
    // The admin's token was verified before the resolver read the table; its sample may or may not be in.
    const byKernel = Object.fromEntries(slos.filter((s) => s.kernel !== 'auth').map((s) => [s.kernel, s]));
    expect(Object.keys(byKernel).sort()).toEqual(['onboarding', 'read']);
    expect(byKernel.onboarding).toMatchObject({ n: 3, errorRate: 0 });
    expect(byKernel.read).toMatchObject({ n: 2, errorRate: 0 });
    for (const slo of slos) {
      expect(slo.p95Ms).toBeGreaterThanOrEqual(0);
      expect(slo.p95Ms).toBeLessThan(30_000);
    }
    await expectSamples({ onboarding: 3, read: 2, ops: 1, auth: 1 });
  });

  it('a request that fails parsing or validation is no kernel run', async () => {
    const invalid = await postGraphQL(gateway, '{ noSuchField }');
    expect(invalid.status).toBe(400);
    expect(firstCode(invalid.body)).toBe('GRAPHQL_VALIDATION_FAILED');
    const unparsable = await postGraphQL(gateway, '{ listing(id: ');
    expect(firstCode(unparsable.body)).toBe('GRAPHQL_PARSE_FAILED');
    // A valid request after them: once its sample is written, theirs would have been too.
    await postGraphQL(gateway, '{ categories { id } }');
    await expectSamples({ onboarding: 1 });
    expect(await total()).toBe(1);
  });

  it('a refused token is an auth sample (ok: the caller’s fault) and no operation', async () => {
    const res = await postGraphQL(gateway, '{ me { id } }', { authorization: 'Bearer not-a-token' });
    expect(res.status).toBe(401);
    await postGraphQL(gateway, '{ categories { id } }');
    await expectSamples({ auth: 1, onboarding: 1 });
    expect((await counts()).auth).toEqual({ n: 1, failed: 0 });
  });

  it('a caller error (FORBIDDEN) counts as ok; a server error counts as not ok', async () => {
    const forbidden = await postGraphQL(gateway, '{ ops { stuckLeases { events } } }', { token: userToken });
    expect(firstCode(forbidden.body)).toBe('FORBIDDEN');
    await expectSamples({ ops: 1, auth: 1 });
    expect((await counts()).ops).toEqual({ n: 1, failed: 0 });

    // Provoke a server error cleanly: the gateway role loses its read on categories for a moment.
    await db.pool.query('REVOKE SELECT ON categories FROM lodestar_app');
    try {
      const broken = await postGraphQL(gateway, '{ categories { id } }');
      expect(firstCode(broken.body)).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await db.pool.query('GRANT SELECT ON categories TO lodestar_app');
    }
    await expectSamples({ ops: 1, auth: 1, onboarding: 1 });
    expect((await counts()).onboarding).toEqual({ n: 1, failed: 1 });
  });

  it('N requests are N samples written by one statement per flush, never on the request path', async () => {
    // A gateway whose timer never fires during the test: only its close() flushes.
    const slow = await createTestGateway(db, { TELEMETRY_FLUSH_MS: '60000' });
    const n = 50;
    try {
      await Promise.all(Array.from({ length: n }, () => postGraphQL(slow, '{ categories { id } }')));
      expect(await total()).toBe(0);
      const text = (await slow.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metricValue(text, 'lodestar_telemetry_dropped_total', {})).toBe(0);
    } finally {
      await slow.close();
    }
    expect(await counts()).toEqual({ onboarding: { n, failed: 0 } });
    // Every row of one INSERT shares its statement's now(): the 50 samples are one batch.
    const { rows } = await db.pool.query<{ batches: number }>(
      'SELECT count(DISTINCT at)::int AS batches FROM kernel_latency',
    );
    expect(rows[0]!.batches).toBe(1);
  });
});
