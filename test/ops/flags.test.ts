import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { flagBucket, flagVariant } from '../../src/flags/flagBucket.js';
import { bucketIndex, emptyBuckets, LATENCY_BUCKETS_MS, quantileOf } from '../../src/flags/exposureStats.js';
import { defaultMaintenanceTasks, runDueMaintenance } from '../../src/worker/maintenance.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertProfile } from '../support/fixtures.js';
import {
  ADVANCE,
  EVALUATE,
  FLAG_VALUES,
  flagConsole,
  insertExposureRow,
  ME_FLAGS,
  recordTraffic,
  REPORT,
  ROLLBACK,
  SET_ROLLOUT,
  stableUserIds,
  type EvaluationShown,
  type FlagValueShown,
} from '../support/flagsHarness.js';
import { createInProcess, createTestGateway, type InProcess, type TestGateway } from '../support/gateway.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { postGraphQL } from '../support/http.js';
import { waitUntil } from '../support/workerHarness.js';

/** Runbook "Feature Flags": stable bucketing, 1% → 5% → 25% → 100%, and the auto-rollback. */

const users2000 = stableUserIds(2000);
const onAt = (key: string, pct: number, ids: readonly string[]) =>
  new Set(ids.filter((id) => flagVariant(key, pct, id) === 'on'));

describe('flagBucket / flagVariant', () => {
  it('gives each user a stable bucket 0..99 per flag', () => {
    for (const id of users2000.slice(0, 200)) {
      const bucket = flagBucket('new-feed', id);
      expect(Number.isInteger(bucket)).toBe(true);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(100);
      expect(flagBucket('new-feed', id)).toBe(bucket);
    }
  });

  it('keeps every user who is on at 1% on at 5%, 25% and 100% (2,000 users)', () => {
    const at1 = onAt('new-feed', 1, users2000);
    const at5 = onAt('new-feed', 5, users2000);
    const at25 = onAt('new-feed', 25, users2000);
    const at100 = onAt('new-feed', 100, users2000);
    for (const id of at1) expect(at5.has(id)).toBe(true);
    for (const id of at5) expect(at25.has(id)).toBe(true);
    for (const id of at25) expect(at100.has(id)).toBe(true);
    expect(at100.size).toBe(2000);
    expect(onAt('new-feed', 0, users2000).size).toBe(0);
  });

  it.each([
    [1, 0.01],
    [5, 0.02],
    [25, 0.03],
    [50, 0.035],
  ])('puts about %i percent of 2,000 users on (within ±%s)', (pct, tolerance) => {
    const share = onAt('checkout-v2', pct, users2000).size / users2000.length;
    expect(Math.abs(share - pct / 100)).toBeLessThanOrEqual(tolerance);
  });

  it('buckets independently per flag (being on for one flag says nothing about another)', () => {
    const a = onAt('flag-a', 25, users2000);
    const b = onAt('flag-b', 25, users2000);
    const both = [...a].filter((id) => b.has(id)).length;
    // Independent: about 25% × 25% = 6.25% of users are on for both.
    expect(both / users2000.length).toBeGreaterThan(0.04);
    expect(both / users2000.length).toBeLessThan(0.085);
  });

  it('shows anonymous callers a flag only at 100%', () => {
    for (const pct of [0, 1, 5, 25, 50, 99]) expect(flagVariant('new-feed', pct, null)).toBe('off');
    expect(flagVariant('new-feed', 100, null)).toBe('on');
  });
});

describe('exposureStats', () => {
  it('bucketIndex puts a duration in the first bucket whose bound it does not exceed; beyond the last, +Inf', () => {
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(2)).toBe(0);
    expect(bucketIndex(2.01)).toBe(1);
    expect(bucketIndex(100)).toBe(LATENCY_BUCKETS_MS.indexOf(100));
    expect(bucketIndex(100.5)).toBe(LATENCY_BUCKETS_MS.indexOf(150));
    expect(bucketIndex(10_000)).toBe(LATENCY_BUCKETS_MS.length - 1);
    expect(bucketIndex(10_001)).toBe(LATENCY_BUCKETS_MS.length);
    expect(emptyBuckets()).toHaveLength(LATENCY_BUCKETS_MS.length + 1);
    expect(emptyBuckets().every((n) => n === 0)).toBe(true);
  });

  it('quantileOf of an empty histogram is null', () => {
    expect(quantileOf(emptyBuckets(), 0.95)).toBeNull();
    expect(quantileOf([], 0.5)).toBeNull();
  });

  it('quantileOf interpolates linearly inside the bucket', () => {
    const at = (ms: number, n: number) => {
      const b = emptyBuckets();
      b[bucketIndex(ms)] = n;
      return b;
    };
    // Ten samples in (5, 10]: the median is halfway, the p95 at 95% of the bucket.
    expect(quantileOf(at(8, 10), 0.5)).toBeCloseTo(7.5, 9);
    expect(quantileOf(at(8, 10), 0.95)).toBeCloseTo(9.75, 9);
    // 90 fast (≤ 2 ms) and 10 in (75, 100]: rank 95 is half-way into the slow bucket.
    const mixed = emptyBuckets();
    mixed[0] = 90;
    mixed[bucketIndex(80)] = 10;
    expect(quantileOf(mixed, 0.95)).toBeCloseTo(87.5, 9);
    expect(quantileOf(mixed, 0.5)).toBeCloseTo(2 * (50 / 90), 9);
  });

  it('quantileOf in the +Inf bucket is its lower bound', () => {
    const slow = emptyBuckets();
    slow[LATENCY_BUCKETS_MS.length] = 5;
    expect(quantileOf(slow, 0.95)).toBe(10_000);
  });
});

describe('feature flags through GraphQL', () => {
  let db: TestDatabase;
  let h: InProcess;
  let admin: Viewer;
  let console_: ReturnType<typeof flagConsole>;
  let telemetryPool: pg.Pool;

  const flags = async (viewer: Viewer): Promise<Map<string, FlagValueShown>> => {
    const data = dataOf(await h.execute(FLAG_VALUES, { viewer }));
    return new Map(data.flags.map((f) => [f.key, f]));
  };
  const evaluationOf = (evaluations: EvaluationShown[], key: string): EvaluationShown => {
    const found = evaluations.find((e) => e.key === key);
    if (!found) throw new Error(`no evaluation of ${key}: ${JSON.stringify(evaluations)}`);
    return found;
  };
  const user = (userId: string): Viewer => ({ role: 'user', userId });
  /** A flag at `pct` (created, then set), with no traffic yet. */
  const rollingFlag = async (
    key: string,
    pct: number,
    extra: Record<string, unknown> = {},
  ): Promise<void> => {
    await console_.save(key, extra);
    await console_.setRollout(key, pct, 'test setup');
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = { role: 'admin', userId: await insertProfile(db.pool, { role: 'admin' }) };
    // Users report problems repeatedly in these tests: the comments rate limit is raised for them.
    h = createInProcess(db, { RATE_LIMIT_COMMENTS_PER_MIN: '1000' });
    console_ = flagConsole(h, admin);
    telemetryPool = new pg.Pool({ connectionString: db.appUrl, max: 2 });
    telemetryPool.on('error', () => undefined);
  });

  afterAll(async () => {
    await h?.close();
    await telemetryPool?.end();
    await db?.drop();
  });

  beforeEach(async () => {
    // Every test judges only its own flags: earlier ones are gone (history and reports cascade).
    await db.pool.query('DELETE FROM feature_flags');
    await db.pool.query('DELETE FROM flag_exposure_stats');
  });

  describe('bucketing as the rollout grows', () => {
    it('flags { key on variant } keeps users on as 5% grows to 25% and 100%; anonymous are off below 100%', async () => {
      const ids = users2000.slice(0, 200);
      const anonymous: Viewer = { role: 'anonymous', userId: null };
      await console_.save('grow');
      const seen: Record<number, Set<string>> = {};
      for (const pct of [5, 25, 100]) {
        await console_.setRollout('grow', pct);
        const on = new Set<string>();
        seen[pct] = on;
        for (const id of ids) {
          const value = (await flags(user(id))).get('grow');
          expect(value, id).toEqual({
            key: 'grow',
            on: value?.variant === 'on',
            variant: flagVariant('grow', pct, id),
          });
          if (value?.on) on.add(id);
        }
        expect((await flags(anonymous)).get('grow')).toEqual({
          key: 'grow',
          on: pct === 100,
          variant: pct === 100 ? 'on' : 'off',
        });
      }
      for (const id of seen[5]!) expect(seen[25]!.has(id)).toBe(true);
      for (const id of seen[25]!) expect(seen[100]!.has(id)).toBe(true);
      expect(seen[5]!.size).toBeGreaterThan(0);
      expect(seen[25]!.size).toBeGreaterThan(seen[5]!.size);
      expect(seen[100]!.size).toBe(ids.length);
      expect(Math.abs(seen[25]!.size / ids.length - 0.25)).toBeLessThan(0.08);
    });

    it('me { flags } shows the signed-in person the same variants', async () => {
      await console_.save('me-flag');
      await console_.setRollout('me-flag', 50);
      const ids = await Promise.all(Array.from({ length: 12 }, () => insertProfile(db.pool)));
      for (const id of ids) {
        const data = dataOf(await h.execute(ME_FLAGS, { viewer: user(id) }));
        expect(data.me?.id).toBe(id);
        const variant = flagVariant('me-flag', 50, id);
        expect(data.me?.flags.find((f) => f.key === 'me-flag')).toEqual({
          key: 'me-flag',
          on: variant === 'on',
          variant,
        });
      }
    });
  });

  describe('rollout steps', () => {
    it('saveFlag creates a flag at 0% OFF with the runbook thresholds', async () => {
      const saved = await console_.save('checkout', { description: '  New checkout  ' });
      expect(saved.saveFlag.auditId).toMatch(/^\d+$/);
      expect(saved.saveFlag.flag).toEqual({
        key: 'checkout',
        description: 'New checkout',
        rolloutPct: 0,
        state: 'OFF',
        baselineP95Ms: null,
        thresholds: { maxErrorRate: 0.02, maxP95Multiplier: 2, maxComplaints: 10 },
      });
      // Saving again changes the description and limits, never the rollout.
      await console_.setRollout('checkout', 5);
      const again = await console_.save('checkout', { baseline: 120, thresholds: { maxComplaints: 3 } });
      expect(again.saveFlag.flag).toMatchObject({
        rolloutPct: 5,
        state: 'ROLLING',
        description: 'New checkout',
        baselineP95Ms: 120,
        thresholds: { maxErrorRate: 0.02, maxP95Multiplier: 2, maxComplaints: 3 },
      });
      // Thresholds left out keep their value: changing one never resets the others to the defaults.
      await console_.save('checkout', { thresholds: { maxErrorRate: 0.05, maxP95Multiplier: 3 } });
      const third = await console_.save('checkout', { thresholds: { maxComplaints: 7 } });
      expect(third.saveFlag.flag.thresholds).toEqual({
        maxErrorRate: 0.05,
        maxP95Multiplier: 3,
        maxComplaints: 7,
      });
    });

    it('advanceRollout goes 0 → 1 → 5 → 25 → 100 (ROLLING, then COMPLETE), then refuses with BAD_USER_INPUT', async () => {
      await console_.save('steps');
      const steps: [number, number, string][] = [];
      for (let i = 0; i < 4; i += 1) {
        const data = dataOf(
          await h.execute(ADVANCE, {
            viewer: admin,
            variables: { key: 'steps', reason: `step ${i + 1}` },
          }),
        );
        expect(data.advanceRollout.changed).toBe(true);
        steps.push([
          data.advanceRollout.previousRolloutPct,
          data.advanceRollout.flag.rolloutPct,
          data.advanceRollout.flag.state,
        ]);
      }
      expect(steps).toEqual([
        [0, 1, 'ROLLING'],
        [1, 5, 'ROLLING'],
        [5, 25, 'ROLLING'],
        [25, 100, 'COMPLETE'],
      ]);
      const past = await h.execute(ADVANCE, { viewer: admin, variables: { key: 'steps' } });
      expect(expectErrorCode(past, 'BAD_USER_INPUT').message).toMatch(/already at 100%/);
      const flag = await console_.flag('steps');
      expect(flag).toMatchObject({ rolloutPct: 100, state: 'COMPLETE' });
      expect(flag.history.map((c) => [c.fromPct, c.toPct, c.reason])).toEqual([
        [25, 100, 'step 4'],
        [5, 25, 'step 3'],
        [1, 5, 'step 2'],
        [0, 1, 'step 1'],
      ]);
    });

    it('advanceRollout from a hand-set percentage goes to the next step above it', async () => {
      await rollingFlag('between', 10);
      const data = dataOf(
        await h.execute(ADVANCE, {
          viewer: admin,
          variables: { key: 'between' },
        }),
      );
      expect(data.advanceRollout.flag).toMatchObject({ rolloutPct: 25, state: 'ROLLING' });
    });

    it.each([101, -1])('setRollout to %i is BAD_USER_INPUT and changes nothing', async (pct) => {
      await rollingFlag('bounds', 5);
      const result = await h.execute(SET_ROLLOUT, { viewer: admin, variables: { key: 'bounds', pct } });
      expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toMatch(/rolloutPct/);
      expect(await console_.flag('bounds')).toMatchObject({ rolloutPct: 5, state: 'ROLLING' });
    });

    it('setRollout to 0 turns a flag OFF; to 100 COMPLETE', async () => {
      await rollingFlag('direct', 25);
      expect((await console_.setRollout('direct', 100)).flag).toMatchObject({
        rolloutPct: 100,
        state: 'COMPLETE',
      });
      expect((await console_.setRollout('direct', 0)).flag).toMatchObject({ rolloutPct: 0, state: 'OFF' });
    });

    it('rollback goes to 0% ROLLED_BACK with a history row naming the admin and the reason', async () => {
      await rollingFlag('undo', 25);
      const data = dataOf(
        await h.execute(ROLLBACK, {
          viewer: admin,
          variables: { key: 'undo', reason: 'checkout errors in the EU' },
        }),
      );
      expect(data.rollback).toMatchObject({
        previousRolloutPct: 25,
        changed: true,
        flag: { rolloutPct: 0, state: 'ROLLED_BACK' },
      });
      const flag = await console_.flag('undo');
      expect(flag).toMatchObject({ rolloutPct: 0, state: 'ROLLED_BACK' });
      expect(flag.history[0]).toMatchObject({
        fromPct: 25,
        toPct: 0,
        fromState: 'rolling',
        toState: 'rolled_back',
        actor: `admin:${admin.userId}`,
        reason: 'checkout errors in the EU',
      });
      expect(flag.history.map((c) => c.toPct)).toEqual([0, 25]);
      // Without a reason the history still says why.
      await console_.setRollout('undo', 5);
      await h.execute(ROLLBACK, { viewer: admin, variables: { key: 'undo' } });
      expect((await console_.flag('undo')).history[0]).toMatchObject({ toPct: 0, reason: 'manual rollback' });
    });

    it('setting a flag to where it is, or rolling back a rolled-back flag, changes nothing: no history row, complaints kept', async () => {
      await rollingFlag('same', 10);
      for (const id of stableUserIds(3, 0x5a)) {
        dataOf(await h.execute(REPORT, { viewer: user(id), variables: { key: 'same' } }));
      }
      const before = await console_.flag('same');
      expect(before).toMatchObject({ rolloutPct: 10, state: 'ROLLING', complaints: 3 });
      // A retried or replayed call must not restart the window auto-rollback judges complaints in.
      for (let i = 0; i < 3; i += 1) {
        expect(await console_.setRollout('same', 10, 'retry')).toMatchObject({
          changed: false,
          previousRolloutPct: 10,
          flag: { rolloutPct: 10, state: 'ROLLING' },
        });
      }
      const after = await console_.flag('same');
      expect(after.complaints).toBe(3);
      expect(after.history).toEqual(before.history);

      dataOf(await h.execute(ROLLBACK, { viewer: admin, variables: { key: 'same', reason: 'errors' } }));
      const rolledBack = await console_.flag('same');
      const again = dataOf(await h.execute(ROLLBACK, { viewer: admin, variables: { key: 'same' } }));
      expect(again.rollback).toMatchObject({ changed: false, flag: { rolloutPct: 0, state: 'ROLLED_BACK' } });
      expect((await console_.flag('same')).history).toEqual(rolledBack.history);
      // A flag at 0% that was never rolled back still can be: the state changes.
      await rollingFlag('off-then-back', 0);
      const fromOff = dataOf(
        await h.execute(ROLLBACK, { viewer: admin, variables: { key: 'off-then-back' } }),
      );
      expect(fromOff.rollback).toMatchObject({
        changed: true,
        flag: { rolloutPct: 0, state: 'ROLLED_BACK' },
      });
    });

    it('an unknown flag is NOT_FOUND for advanceRollout, setRollout and rollback', async () => {
      for (const [source, variables] of [
        [ADVANCE, { key: 'nope' }],
        [SET_ROLLOUT, { key: 'nope', pct: 5 }],
        [ROLLBACK, { key: 'nope' }],
      ] as const) {
        // Three documents of different result types: only the error matters here.
        expectErrorCode(await h.execute<unknown>(source, { viewer: admin, variables }), 'NOT_FOUND');
      }
    });

    it('saveFlag refuses a malformed key or thresholds with BAD_USER_INPUT', async () => {
      expectErrorCode(
        await h.execute(`mutation { saveFlag(key: "Bad Key!") { auditId } }`, { viewer: admin }),
        'BAD_USER_INPUT',
      );
      expectErrorCode(
        await h.execute(
          `mutation { saveFlag(key: "ok-key", thresholds: { maxErrorRate: 1.5 }) { auditId } }`,
          {
            viewer: admin,
          },
        ),
        'BAD_USER_INPUT',
      );
    });

    it('is admin only: a user is FORBIDDEN, an anonymous caller UNAUTHENTICATED', async () => {
      const someone = user(await insertProfile(db.pool));
      expectErrorCode(
        await h.execute(SET_ROLLOUT, { viewer: someone, variables: { key: 'x', pct: 5 } }),
        'FORBIDDEN',
      );
      expectErrorCode(
        await h.execute(EVALUATE, { viewer: { role: 'anonymous', userId: null }, variables: {} }),
        'UNAUTHENTICATED',
      );
    });
  });

  describe('evaluateRollouts (auto-rollback)', () => {
    it('rolls back a 5% flag with 3% errors, and leaves a healthy one (1% errors) alone', async () => {
      await rollingFlag('bad-errors', 5);
      await rollingFlag('fine-errors', 5);
      await recordTraffic(telemetryPool, 'bad-errors', {
        on: { requests: 1000, errors: 30 },
        off: { requests: 1000 },
      });
      await recordTraffic(telemetryPool, 'fine-errors', {
        on: { requests: 1000, errors: 10 },
        off: { requests: 1000 },
      });

      const evaluations = await console_.evaluate();
      const bad = evaluationOf(evaluations, 'bad-errors');
      expect(bad).toMatchObject({
        rolloutPct: 5,
        decision: 'rolled_back',
        on: { requests: 1000, errors: 30 },
      });
      expect(bad.on.errorRate).toBeCloseTo(0.03, 9);
      expect(bad.reasons).toHaveLength(1);
      expect(bad.reasons[0]).toMatch(/error rate 3\.0% > 2\.0%/);
      const fine = evaluationOf(evaluations, 'fine-errors');
      expect(fine).toMatchObject({ decision: 'healthy', reasons: [], on: { requests: 1000, errors: 10 } });

      const rolledBack = await console_.flag('bad-errors');
      expect(rolledBack).toMatchObject({ rolloutPct: 0, state: 'ROLLED_BACK' });
      expect(rolledBack.history[0]).toMatchObject({ fromPct: 5, toPct: 0, toState: 'rolled_back' });
      expect(rolledBack.history[0]!.reason).toMatch(/^auto-rollback: error rate 3\.0%/);
      expect(rolledBack.history[0]!.actor).toBe(`admin:${admin.userId}`);
      expect(await console_.flag('fine-errors')).toMatchObject({ rolloutPct: 5, state: 'ROLLING' });
      // This instance sees the rollback at once: nobody is on any more.
      expect([...onAt('bad-errors', 5, users2000)].length).toBeGreaterThan(0);
      for (const id of users2000.slice(0, 100))
        expect((await flags(user(id))).get('bad-errors')?.on).toBe(false);
      // A flag at 0% is not judged again.
      expect((await console_.evaluate()).map((e) => e.key)).toEqual(['fine-errors']);
    });

    it('rolls back when the p95 is more than 2× the baseline measured on the traffic without the flag', async () => {
      await rollingFlag('slow', 25);
      await rollingFlag('not-slow', 25);
      await recordTraffic(telemetryPool, 'slow', {
        on: { requests: 300, ms: 100 },
        off: { requests: 300, ms: 20 },
      });
      await recordTraffic(telemetryPool, 'not-slow', {
        on: { requests: 300, ms: 30 },
        off: { requests: 300, ms: 20 },
      });
      const evaluations = await console_.evaluate();
      const slow = evaluationOf(evaluations, 'slow');
      expect(slow.decision).toBe('rolled_back');
      expect(slow.on.p95Ms).toBeCloseTo(98.75, 6);
      expect(slow.off.p95Ms).toBeCloseTo(19.75, 6);
      expect(slow.baselineP95Ms).toBeCloseTo(19.75, 6);
      expect(slow.reasons).toEqual([expect.stringMatching(/^p95 98\.8 ms > 2× baseline 19\.8 ms/)]);
      const notSlow = evaluationOf(evaluations, 'not-slow');
      expect(notSlow).toMatchObject({ decision: 'healthy', reasons: [] });
      expect(notSlow.on.p95Ms).toBeCloseTo(29.5, 6);
      expect((await console_.flag('slow')).history[0]!.reason).toMatch(/p95 98\.8 ms > 2× baseline/);
    });

    it('uses baseline_p95_ms from saveFlag when it is set, with or without traffic off the flag', async () => {
      await rollingFlag('slow-vs-set', 100, { baseline: 20 });
      await rollingFlag('no-baseline', 100);
      await recordTraffic(telemetryPool, 'slow-vs-set', { on: { requests: 300, ms: 50 } });
      await recordTraffic(telemetryPool, 'no-baseline', { on: { requests: 300, ms: 50 } });
      const evaluations = await console_.evaluate();
      const judged = evaluationOf(evaluations, 'slow-vs-set');
      expect(judged).toMatchObject({ decision: 'rolled_back', baselineP95Ms: 20 });
      expect(judged.reasons[0]).toMatch(/p95 49\.5 ms > 2× baseline 20\.0 ms/);
      // No baseline at all (100%, none set): latency cannot be judged, errors still can.
      expect(evaluationOf(evaluations, 'no-baseline')).toMatchObject({
        decision: 'healthy',
        baselineP95Ms: null,
      });
    });

    it('rolls back when more than maxComplaints distinct users report a problem; one user reporting 20 times counts once', async () => {
      await rollingFlag('complained', 5);
      await rollingFlag('one-complainer', 5);
      await rollingFlag('ten-complainers', 5);
      const reporters = stableUserIds(11, 7);
      for (const id of reporters) {
        const result = await h.execute(REPORT, {
          viewer: user(id),
          variables: { key: 'complained', message: 'the page is blank' },
        });
        expect(dataOf(result).reportProblem).toBe(true);
      }
      for (let i = 0; i < 20; i += 1) {
        dataOf(
          await h.execute(REPORT, {
            viewer: user(reporters[0]!),
            variables: { key: 'one-complainer', message: `again ${i}` },
          }),
        );
      }
      for (const id of reporters.slice(0, 10)) {
        dataOf(await h.execute(REPORT, { viewer: user(id), variables: { key: 'ten-complainers' } }));
      }
      const stored = await db.pool.query<{ flag_key: string; n: number }>(
        'SELECT flag_key, count(*)::int AS n FROM flag_problem_reports GROUP BY flag_key ORDER BY flag_key',
      );
      expect(stored.rows).toEqual([
        { flag_key: 'complained', n: 11 },
        { flag_key: 'one-complainer', n: 20 },
        { flag_key: 'ten-complainers', n: 10 },
      ]);

      // What the console shows before the worker judges: distinct complaining users per flag.
      expect(await console_.flag('complained')).toMatchObject({ complaints: 11 });
      expect(await console_.flag('one-complainer')).toMatchObject({ complaints: 1 });
      expect(await console_.flag('ten-complainers')).toMatchObject({ complaints: 10 });

      const evaluations = await console_.evaluate();
      const complained = evaluationOf(evaluations, 'complained');
      // Complaints count even without enough traffic to judge errors and latency.
      expect(complained).toMatchObject({ decision: 'rolled_back', complaints: 11 });
      expect(complained.reasons).toEqual(['11 users reported problems (limit 10)']);
      expect(evaluationOf(evaluations, 'one-complainer')).toMatchObject({
        decision: 'insufficient_data',
        complaints: 1,
        reasons: [],
      });
      expect(evaluationOf(evaluations, 'ten-complainers')).toMatchObject({
        decision: 'insufficient_data',
        complaints: 10,
      });
      // The rollback starts a new window: complaints from before it no longer count.
      expect(await console_.flag('complained')).toMatchObject({
        rolloutPct: 0,
        state: 'ROLLED_BACK',
        complaints: 0,
      });
      expect(await console_.flag('one-complainer')).toMatchObject({ rolloutPct: 5, state: 'ROLLING' });
    });

    it('below FLAGS_MIN_REQUESTS exposed requests the decision is insufficient_data and nothing is rolled back', async () => {
      await rollingFlag('thin', 5);
      await recordTraffic(telemetryPool, 'thin', {
        on: { requests: 199, errors: 100, ms: 5000 },
        off: { requests: 500 },
      });
      const evaluation = evaluationOf(await console_.evaluate(), 'thin');
      expect(evaluation).toMatchObject({
        decision: 'insufficient_data',
        reasons: [],
        on: { requests: 199, errors: 100 },
      });
      expect(await console_.flag('thin')).toMatchObject({ rolloutPct: 5, state: 'ROLLING' });
    });

    it('FLAGS_MIN_REQUESTS sets how much traffic is enough', async () => {
      await rollingFlag('thin-but-enough', 5);
      await recordTraffic(telemetryPool, 'thin-but-enough', { on: { requests: 60, errors: 6 } });
      const strict = createInProcess(db, { FLAGS_MIN_REQUESTS: '50' });
      try {
        const evaluations = await flagConsole(strict, admin).evaluate();
        expect(evaluationOf(evaluations, 'thin-but-enough').decision).toBe('rolled_back');
      } finally {
        await strict.close();
      }
    });

    it('weighs errors per user: FLAGS_MAX_ERRORS_PER_USER caps each, FLAGS_MIN_AFFECTED_USERS must have errors', async () => {
      // 4 users with 10 errors each (40 of 1000 = 4%): under the default 5 users, held.
      await rollingFlag('four-users', 5);
      await recordTraffic(telemetryPool, 'four-users', {
        on: { requests: 1000, errors: 40, errorUsers: stableUserIds(4, 0xb) },
      });
      // 5 users, one of them with 100 errors, the others 2 each (108 raw; counted 10 + 8 = 18 = 1.8%).
      await rollingFlag('one-heavy', 5);
      const heavy = stableUserIds(5, 0xc);
      await recordTraffic(telemetryPool, 'one-heavy', {
        on: {
          requests: 1000,
          errors: 108,
          errorUsers: [...Array.from({ length: 100 }, () => heavy[0]!), ...heavy.slice(1), ...heavy.slice(1)],
        },
      });
      const evaluations = await console_.evaluate(true);
      const four = evaluationOf(evaluations, 'four-users');
      expect(four).toMatchObject({
        decision: 'healthy',
        reasons: [],
        on: { requests: 1000, errors: 40, countedErrors: 40, affectedUsers: 4 },
      });
      expect(four.held).toEqual([
        'error rate 4.0% > 2.0% over 1000 exposed requests, but from 4 user(s) (at least 5 needed)',
      ]);
      const oneHeavy = evaluationOf(evaluations, 'one-heavy');
      expect(oneHeavy).toMatchObject({
        decision: 'healthy',
        held: [],
        on: { requests: 1000, errors: 108, countedErrors: 18, affectedUsers: 5 },
      });
      expect(oneHeavy.on.errorRate).toBeCloseTo(0.018, 9);

      const lenient = createInProcess(db, {
        FLAGS_MIN_AFFECTED_USERS: '4',
        FLAGS_MAX_ERRORS_PER_USER: '100',
      });
      try {
        const judged = await flagConsole(lenient, admin).evaluate(true);
        expect(evaluationOf(judged, 'four-users')).toMatchObject({
          decision: 'would_roll_back',
          reasons: ['error rate 4.0% > 2.0% over 1000 exposed requests from 4 users'],
        });
        expect(evaluationOf(judged, 'one-heavy')).toMatchObject({
          decision: 'would_roll_back',
          on: { countedErrors: 108 },
        });
      } finally {
        await lenient.close();
      }
    });

    it('dryRun reports would_roll_back and changes nothing', async () => {
      await rollingFlag('dry', 5);
      await recordTraffic(telemetryPool, 'dry', { on: { requests: 500, errors: 50 } });
      const before = await console_.flag('dry');
      const evaluation = evaluationOf(await console_.evaluate(true), 'dry');
      expect(evaluation.decision).toBe('would_roll_back');
      expect(evaluation.reasons[0]).toMatch(/error rate 10\.0%/);
      const after = await console_.flag('dry');
      expect(after).toMatchObject({ rolloutPct: 5, state: 'ROLLING' });
      expect(after.history).toEqual(before.history);
    });

    it('ignores traffic from before the last rollout change', async () => {
      await rollingFlag('moved-on', 5);
      await recordTraffic(telemetryPool, 'moved-on', { on: { requests: 1000, errors: 500 } });
      await console_.setRollout('moved-on', 25, 'fixed, widening');
      const first = evaluationOf(await console_.evaluate(), 'moved-on');
      expect(first).toMatchObject({
        rolloutPct: 25,
        decision: 'insufficient_data',
        on: { requests: 0, errors: 0 },
      });
      const lastChange = (await console_.flag('moved-on')).history[0]!.at;
      expect(new Date(first.since).getTime()).toBeGreaterThanOrEqual(new Date(lastChange).getTime());
      // Healthy traffic since the change is judged on its own.
      await recordTraffic(telemetryPool, 'moved-on', { on: { requests: 300, errors: 3 } });
      expect(evaluationOf(await console_.evaluate(), 'moved-on')).toMatchObject({
        decision: 'healthy',
        on: { requests: 300, errors: 3 },
      });
      expect(await console_.flag('moved-on')).toMatchObject({ rolloutPct: 25, state: 'ROLLING' });
    });

    it('ignores traffic older than FLAGS_EVALUATION_WINDOW_SEC (rows written with the histogram layout)', async () => {
      await rollingFlag('windowed', 5);
      // The last change was long ago; only the window bounds what is judged.
      await db.pool.query(
        `UPDATE feature_flag_history SET at = now() - interval '3 hours' WHERE flag_key = 'windowed'`,
      );
      await insertExposureRow(db.pool, {
        flag: 'windowed',
        variant: 'on',
        requests: 400,
        errors: 200,
        ms: 40,
        ago: '1 hour',
      });
      await insertExposureRow(db.pool, {
        flag: 'windowed',
        variant: 'on',
        requests: 250,
        errors: 1,
        ms: 40,
        ago: '5 minutes',
      });
      await insertExposureRow(db.pool, {
        flag: 'windowed',
        variant: 'on',
        requests: 50,
        errors: 0,
        ms: 40,
        ago: '1 minute',
      });
      const evaluation = evaluationOf(await console_.evaluate(), 'windowed');
      expect(evaluation).toMatchObject({ decision: 'healthy', on: { requests: 300, errors: 1 } });
      expect(evaluation.on.p95Ms).toBeCloseTo(30 + 0.95 * 10, 6);
    });
  });

  describe('the worker’s scheduled evaluate_rollouts', () => {
    /** A pool as the worker connects: its own role, acting as the service identity (src/worker/startWorker.ts). */
    const asWorker = () =>
      new pg.Pool({
        connectionString: db.url,
        max: 2,
        options: '-c role=lodestar_worker -c lodestar.role=service',
      });

    it('rolls a bad flag back and records an ops_audit row with actor_role worker', async () => {
      await rollingFlag('worker-bad', 5);
      await rollingFlag('worker-fine', 5);
      await recordTraffic(telemetryPool, 'worker-bad', { on: { requests: 400, errors: 40 } });
      await recordTraffic(telemetryPool, 'worker-fine', { on: { requests: 400, errors: 2 } });
      await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'evaluate_rollouts'`);
      const tasks = defaultMaintenanceTasks({ rollouts: { windowSec: 900, minRequests: 200 } }).filter(
        (t) => t.name === 'evaluate_rollouts',
      );
      const workerPool = asWorker();
      workerPool.on('error', () => undefined);
      try {
        expect(await runDueMaintenance(workerPool, tasks, pino({ level: 'silent' }))).toEqual([
          'evaluate_rollouts',
        ]);
      } finally {
        await workerPool.end();
      }
      expect(await console_.flag('worker-fine')).toMatchObject({ rolloutPct: 5, state: 'ROLLING' });
      const bad = await console_.flag('worker-bad');
      expect(bad).toMatchObject({ rolloutPct: 0, state: 'ROLLED_BACK' });
      expect(bad.history[0]).toMatchObject({ toPct: 0, actor: 'worker:evaluate_rollouts' });
      expect(bad.history[0]!.reason).toMatch(/error rate 10\.0%/);
      const audit = await db.pool.query<{
        actor_id: string | null;
        actor_role: string;
        action: string;
        result: unknown;
        ok: boolean;
      }>(`SELECT actor_id, actor_role, action, result, ok FROM ops_audit WHERE actor_role = 'worker'`);
      expect(audit.rows).toHaveLength(1);
      expect(audit.rows[0]).toMatchObject({
        actor_id: null,
        actor_role: 'worker',
        action: 'evaluateRollouts',
        ok: true,
      });
      expect(audit.rows[0]!.result).toEqual([
        { key: 'worker-bad', reasons: [expect.stringMatching(/error rate 10\.0%/)] },
      ]);
      const run = await db.pool.query<{ last_result: unknown }>(
        `SELECT last_result FROM maintenance_runs WHERE task = 'evaluate_rollouts'`,
      );
      expect(run.rows[0]!.last_result).toEqual([{ key: 'worker-bad', reasons: [expect.any(String)] }]);
    });

    it('counts complaints too (distinct users): more than maxComplaints rolls the flag back', async () => {
      await rollingFlag('worker-complained', 5, { thresholds: { maxComplaints: 2 } });
      for (const id of stableUserIds(3, 9)) {
        dataOf(await h.execute(REPORT, { viewer: user(id), variables: { key: 'worker-complained' } }));
      }
      await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'evaluate_rollouts'`);
      const tasks = defaultMaintenanceTasks().filter((t) => t.name === 'evaluate_rollouts');
      const workerPool = asWorker();
      workerPool.on('error', () => undefined);
      try {
        await runDueMaintenance(workerPool, tasks, pino({ level: 'silent' }));
      } finally {
        await workerPool.end();
      }
      const flag = await console_.flag('worker-complained');
      expect(flag).toMatchObject({ rolloutPct: 0, state: 'ROLLED_BACK' });
      expect(flag.history[0]!.reason).toBe('auto-rollback: 3 users reported problems (limit 2)');
    });
  });

  describe('reportProblem', () => {
    it('records the report with the variant the user sees', async () => {
      await rollingFlag('reported', 50);
      const id = users2000[3]!;
      expect(
        dataOf(
          await h.execute(REPORT, { viewer: user(id), variables: { key: 'reported', message: '  slow  ' } }),
        ),
      ).toEqual({
        reportProblem: true,
      });
      const { rows } = await db.pool.query<{ user_id: string; variant: string; message: string }>(
        `SELECT user_id, variant, message FROM flag_problem_reports WHERE flag_key = 'reported'`,
      );
      expect(rows).toEqual([{ user_id: id, variant: flagVariant('reported', 50, id), message: 'slow' }]);
    });

    it('refuses anonymous callers (UNAUTHENTICATED), unknown flags (NOT_FOUND), long or control-character messages (BAD_USER_INPUT)', async () => {
      await rollingFlag('reported', 5);
      const someone = user(users2000[4]!);
      expectErrorCode(
        await h.execute(REPORT, {
          viewer: { role: 'anonymous', userId: null },
          variables: { key: 'reported' },
        }),
        'UNAUTHENTICATED',
      );
      expectErrorCode(
        await h.execute(REPORT, { viewer: someone, variables: { key: 'no-such-flag' } }),
        'NOT_FOUND',
      );
      const long = await h.execute(REPORT, {
        viewer: someone,
        variables: { key: 'reported', message: 'x'.repeat(1001) },
      });
      expect(expectErrorCode(long, 'BAD_USER_INPUT').message).toMatch(/1000/);
      expectErrorCode(
        await h.execute(REPORT, {
          viewer: someone,
          variables: { key: 'reported', message: 'bad\u0007bell' },
        }),
        'BAD_USER_INPUT',
      );
      dataOf(
        await h.execute(REPORT, {
          viewer: someone,
          variables: { key: 'reported', message: 'x'.repeat(1000) },
        }),
      );
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM flag_problem_reports WHERE flag_key = 'reported'`,
      );
      expect(rows[0]!.n).toBe(1);
    });
  });
});

describe('flag exposure through the real request path', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let h: InProcess;
  let admin: Viewer;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = { role: 'admin', userId: await insertProfile(db.pool, { role: 'admin' }) };
    h = createInProcess(db);
    // Started before the flags exist: it learns of them only by re-reading (FLAGS_REFRESH_SEC).
    gateway = await createTestGateway(db, { TELEMETRY_FLUSH_MS: '100', FLAGS_REFRESH_SEC: '1' });
  });

  afterAll(async () => {
    await gateway?.close();
    await h?.close();
    await db?.drop();
  });

  it('counts signed-in requests towards each variant of a 50% flag; anonymous requests count for nothing', async () => {
    const console_ = flagConsole(h, admin);
    await console_.save('half');
    await console_.setRollout('half', 50);
    // A flag at 100% shows to anonymous callers: once the gateway sees it on, it has re-read both.
    await console_.save('everyone');
    await console_.setRollout('everyone', 100);
    await waitUntil(async () => {
      const res = await postGraphQL(gateway, FLAG_VALUES);
      return res.body.data?.flags.some((f) => f.key === 'everyone' && f.on) ?? false;
    }, 'the gateway to re-read the flags');

    const ids = stableUserIds(40, 3);
    const expectedOn = ids.filter((id) => flagVariant('half', 50, id) === 'on').length;
    expect(expectedOn).toBeGreaterThan(5);
    expect(expectedOn).toBeLessThan(35);
    // A token counts only for a user who exists (the gateway reads their role from profiles).
    await db.pool.query(
      `INSERT INTO profiles (user_id, handle, display_name)
       SELECT u.id, 'flag_user_' || u.n, 'flag user' FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)`,
      [ids],
    );
    for (const id of ids) {
      const token = await gateway.token({ sub: id, role: 'user' });
      const res = await postGraphQL(gateway, FLAG_VALUES, { token });
      expect(res.body.data?.flags.find((f) => f.key === 'half')?.variant).toBe(flagVariant('half', 50, id));
      // Anonymous requests in between: no identity, no exposure.
      await postGraphQL(gateway, '{ categories { id } }');
    }

    const sums = async () =>
      (
        await db.pool.query<{
          flag_key: string;
          variant: string;
          requests: number;
          errors: number;
          in_buckets: number;
        }>(
          `SELECT flag_key, variant, sum(requests)::int AS requests, sum(errors)::int AS errors,
                  (SELECT sum(n)::int FROM flag_exposure_stats y, unnest(y.latency_buckets) n
                    WHERE y.flag_key = x.flag_key AND y.variant = x.variant) AS in_buckets
           FROM flag_exposure_stats x GROUP BY flag_key, variant ORDER BY flag_key, variant`,
        )
      ).rows;
    await waitUntil(async () => {
      const rows = await sums();
      return rows.filter((r) => r.flag_key === 'half').reduce((n, r) => n + r.requests, 0) >= ids.length;
    }, 'the exposures of 40 requests to be written');
    expect(await sums()).toEqual([
      { flag_key: 'everyone', variant: 'on', requests: ids.length, errors: 0, in_buckets: ids.length },
      {
        flag_key: 'half',
        variant: 'off',
        requests: ids.length - expectedOn,
        errors: 0,
        in_buckets: ids.length - expectedOn,
      },
      { flag_key: 'half', variant: 'on', requests: expectedOn, errors: 0, in_buckets: expectedOn },
    ]);
  });
});
