import { describe, expect, it } from 'vitest';
import type { ActionReport, Estimate, PolicyReportRow } from './offPolicy.js';
import { createPolicyReport } from './offPolicy.js';
import { createRng, uniformInt } from './policies/random.js';

interface LoggedEvent {
  action: string;
  propensity: number;
  reward: number;
  policy?: string;
  experiment?: string;
  arm?: string;
}

/** What learning_policy_report computes, for a list of logged impressions. */
function reportRows(events: readonly LoggedEvent[]): PolicyReportRow[] {
  const rows = new Map<string, PolicyReportRow>();
  for (const e of events) {
    const key = { policy: e.policy ?? 'epsilon-greedy', experiment: e.experiment ?? '', arm: e.arm ?? '' };
    const id = JSON.stringify([key.policy, key.experiment, key.arm, e.action]);
    const row = rows.get(id) ?? {
      ...key,
      action: e.action,
      impressions: 0,
      rewarded: 0,
      rewardSum: 0,
      wSum: 0,
      wrSum: 0,
      w2Sum: 0,
      w2rSum: 0,
      w2r2Sum: 0,
    };
    const w = 1 / e.propensity;
    row.impressions += 1;
    row.rewarded += e.reward > 0 ? 1 : 0;
    row.rewardSum += e.reward;
    row.wSum += w;
    row.wrSum += w * e.reward;
    row.w2Sum += w * w;
    row.w2rSum += w * w * e.reward;
    row.w2r2Sum += w * w * e.reward * e.reward;
    rows.set(id, row);
  }
  return [...rows.values()];
}

function expectEstimate(actual: Estimate | null, value: number, ci: [number, number] | null): void {
  expect(actual).not.toBeNull();
  expect(actual!.value).toBeCloseTo(value, 4);
  if (ci === null) {
    expect(actual!.ci).toBeNull();
  } else {
    expect(actual!.ci!.low).toBeCloseTo(ci[0], 4);
    expect(actual!.ci!.high).toBeCloseTo(ci[1], 4);
  }
}

const contains = (e: Estimate | null, truth: number): boolean =>
  e?.ci != null && e.ci.low <= truth && truth <= e.ci.high;

/** Every number anywhere in a plain value (JSON.stringify would turn NaN into null and hide it). */
const numbersIn = (value: unknown): number[] =>
  typeof value === 'number'
    ? [value]
    : value !== null && typeof value === 'object'
      ? Object.values(value).flatMap(numbersIn)
      : [];

const action = (actions: readonly ActionReport[], name: string): ActionReport => {
  const found = actions.find((a) => a.action === name);
  if (!found) throw new Error(`no action ${name}`);
  return found;
};

describe('createPolicyReport on a hand-computed log', () => {
  // N = 4: SIMILAR twice at p = 0.5 (w = 2; rewards 1, 0), POPULAR once at p = 0.25 (w = 4, reward 1),
  // RECENT once at p = 0.25 (w = 4, reward 0).
  const events: LoggedEvent[] = [
    { action: 'SIMILAR', propensity: 0.5, reward: 1 },
    { action: 'SIMILAR', propensity: 0.5, reward: 0 },
    { action: 'POPULAR', propensity: 0.25, reward: 1 },
    { action: 'RECENT', propensity: 0.25, reward: 0 },
  ];

  it('gives the group its observed CTR with a Wilson interval (2 of 4 → 0.1500..0.8500)', () => {
    const [group] = createPolicyReport(reportRows(events)).groups;
    expect(group).toMatchObject({ policy: 'epsilon-greedy', experiment: '', arm: '', impressions: 4 });
    expect(group!.rewarded).toBe(2);
    expectEstimate(group!.ctr, 0.5, [0.15004, 0.84996]);
  });

  it('computes IPS over all N impressions with the sample-variance interval', () => {
    // SIMILAR: mean = Σwr / N = 2/4; var = (Σw²r²/N − mean²)·N/(N−1) = (1 − 0.25)·4/3 = 1; half = z·√(1/4).
    // POPULAR: mean = 4/4 = 1; var = (16/4 − 1)·4/3 = 4; half = z·1, above 1 is kept, below 0 is not.
    const actions = createPolicyReport(reportRows(events), { z: 1 }).groups[0]!.actions;
    expectEstimate(action(actions, 'SIMILAR').ips, 0.5, [0, 1]);
    expectEstimate(action(actions, 'POPULAR').ips, 1, [0, 2]);
    expectEstimate(action(actions, 'RECENT').ips, 0, [0, 0]);
    const wide = createPolicyReport(reportRows(events)).groups[0]!.actions;
    expectEstimate(action(wide, 'POPULAR').ips, 1, [0, 2.96]);
  });

  it('computes SNIPS with the delta-method interval and no interval for a single impression', () => {
    // SIMILAR: V = 2/4; var = (Σw²r² − 2V·Σw²r + V²·Σw²)/(Σw)² = (4 − 4 + 2)/16 = 0.125.
    const actions = createPolicyReport(reportRows(events), { z: 1 }).groups[0]!.actions;
    const half = Math.sqrt(0.125);
    expectEstimate(action(actions, 'SIMILAR').snips, 0.5, [0.5 - half, 0.5 + half]);
    expectEstimate(action(actions, 'POPULAR').snips, 1, null);
    expectEstimate(action(actions, 'RECENT').snips, 0, null);
  });

  it("reports each action's own impressions, CTR and effective sample size, sorted by action", () => {
    const actions = createPolicyReport(reportRows(events)).groups[0]!.actions;
    expect(actions.map((a) => [a.action, a.impressions, a.rewarded, a.effectiveSampleSize])).toEqual([
      ['POPULAR', 1, 1, 1],
      ['RECENT', 1, 0, 1],
      ['SIMILAR', 2, 1, 2],
    ]);
    // 1 of 2 is a symmetric Wilson interval around 0.5.
    expectEstimate(action(actions, 'SIMILAR').ctr, 0.5, [0.09453, 0.90547]);
  });

  it('gives an effective sample size below the count when weights differ', () => {
    const rows = reportRows([
      { action: 'EXPLORE', propensity: 0.1, reward: 0 },
      { action: 'EXPLORE', propensity: 0.5, reward: 1 },
    ]);
    // (10 + 2)² / (100 + 4)
    expect(createPolicyReport(rows).groups[0]!.actions[0]!.effectiveSampleSize).toBeCloseTo(144 / 104, 10);
  });
});

describe('createPolicyReport on simulated logs', () => {
  const truth: Record<string, number> = { SIMILAR: 0.12, POPULAR: 0.3, RECENT: 0.05 };
  const actions = Object.keys(truth);

  /** A uniform-random logging policy: every action with propensity 1/3, Bernoulli rewards. */
  function uniformLog(seed: string, n: number): LoggedEvent[] {
    const rng = createRng(seed);
    return Array.from({ length: n }, () => {
      const picked = actions[uniformInt(rng, actions.length)]!;
      return { action: picked, propensity: 1 / actions.length, reward: rng.next() < truth[picked]! ? 1 : 0 };
    });
  }

  it("recovers each action's true CTR from a uniform-random log within the intervals", () => {
    const report = createPolicyReport(reportRows(uniformLog('ope-uniform', 20_000)));
    for (const name of actions) {
      const a = action(report.groups[0]!.actions, name);
      expect(contains(a.ips, truth[name]!), `IPS ${name}`).toBe(true);
      expect(contains(a.snips, truth[name]!), `SNIPS ${name}`).toBe(true);
      expect(Math.abs(a.ips!.value - truth[name]!)).toBeLessThan(0.02);
      expect(Math.abs(a.snips!.value - truth[name]!)).toBeLessThan(0.01);
      // Equal weights: SNIPS is the action's observed CTR and every impression counts fully.
      expect(a.snips!.value).toBeCloseTo(a.ctr!.value, 12);
      expect(a.effectiveSampleSize).toBeCloseTo(a.impressions, 6);
    }
  });

  it('covers the true CTR about 95% of the time over many independent logs', () => {
    const logs = 300;
    const hits = { ips: 0, snips: 0 };
    for (let i = 0; i < logs; i++) {
      const report = createPolicyReport(reportRows(uniformLog(`ope-coverage-${i}`, 600)));
      for (const name of actions) {
        const a = action(report.groups[0]!.actions, name);
        if (contains(a.ips, truth[name]!)) hits.ips++;
        if (contains(a.snips, truth[name]!)) hits.snips++;
      }
    }
    const total = logs * actions.length;
    // Normal-approximation intervals under-cover a little when rewards are rare (RECENT: 5% of ~200).
    expect(hits.ips / total).toBeGreaterThan(0.9);
    expect(hits.ips / total).toBeLessThan(0.98);
    expect(hits.snips / total).toBeGreaterThan(0.9);
    expect(hits.snips / total).toBeLessThan(0.98);
  });

  it('corrects for a skewed logging policy: IPS of a rarely logged action still finds its CTR', () => {
    const rng = createRng('ope-skewed');
    const propensity: Record<string, number> = { SIMILAR: 0.8, POPULAR: 0.1, RECENT: 0.1 };
    const events = Array.from({ length: 40_000 }, (): LoggedEvent => {
      const u = rng.next();
      const picked = u < 0.8 ? 'SIMILAR' : u < 0.9 ? 'POPULAR' : 'RECENT';
      return { action: picked, propensity: propensity[picked]!, reward: rng.next() < truth[picked]! ? 1 : 0 };
    });
    const group = createPolicyReport(reportRows(events)).groups[0]!;
    for (const name of actions) {
      const a = action(group.actions, name);
      expect(contains(a.ips, truth[name]!), `IPS ${name}`).toBe(true);
      expect(contains(a.snips, truth[name]!), `SNIPS ${name}`).toBe(true);
    }
    // The logged CTR is the policy's own, dominated by SIMILAR: 0.8·0.12 + 0.1·0.3 + 0.1·0.05 = 0.131.
    expect(contains(group.ctr, 0.131)).toBe(true);
  });
});

describe('createPolicyReport grouping and edge cases', () => {
  it('sorts groups by policy, experiment and arm and totals each policy across them', () => {
    const rows = reportRows([
      { policy: 'thompson', action: 'POPULAR:3', propensity: 0.2, reward: 1 },
      {
        policy: 'epsilon-greedy',
        experiment: 'exp',
        arm: 'b',
        action: 'SIMILAR',
        propensity: 0.9,
        reward: 0,
      },
      {
        policy: 'epsilon-greedy',
        experiment: 'exp',
        arm: 'a',
        action: 'SIMILAR',
        propensity: 0.9,
        reward: 1,
      },
      { policy: 'epsilon-greedy', action: 'RECENT', propensity: 0.1, reward: 0 },
      { policy: 'thompson', action: 'SIMILAR', propensity: 0.7, reward: 0 },
    ]).reverse();
    const report = createPolicyReport(rows);
    expect(report.groups.map((g) => [g.policy, g.experiment, g.arm, g.impressions])).toEqual([
      ['epsilon-greedy', '', '', 1],
      ['epsilon-greedy', 'exp', 'a', 1],
      ['epsilon-greedy', 'exp', 'b', 1],
      ['thompson', '', '', 2],
    ]);
    expect(report.groups[3]!.actions.map((a) => a.action)).toEqual(['POPULAR:3', 'SIMILAR']);
    expect(report.policies.map((p) => [p.policy, p.impressions, p.rewarded])).toEqual([
      ['epsilon-greedy', 3, 1],
      ['thompson', 2, 1],
    ]);
    expectEstimate(report.policies[0]!.ctr, 1 / 3, [0.06149, 0.79234]);
  });

  it('sums rows that repeat a (policy, experiment, arm, action)', () => {
    const events: LoggedEvent[] = [
      { action: 'SIMILAR', propensity: 0.5, reward: 1 },
      { action: 'SIMILAR', propensity: 0.25, reward: 0 },
    ];
    const split = createPolicyReport([...reportRows(events.slice(0, 1)), ...reportRows(events.slice(1))]);
    expect(split).toEqual(createPolicyReport(reportRows(events)));
    expect(split.groups[0]!.actions).toHaveLength(1);
  });

  it('returns an empty report for no rows', () => {
    expect(createPolicyReport([])).toEqual({ groups: [], policies: [] });
  });

  it('gives null estimates, not NaN, for a group without impressions', () => {
    const [row] = reportRows([{ action: 'SIMILAR', propensity: 1, reward: 0 }]);
    const empty = { ...row!, impressions: 0, rewarded: 0, rewardSum: 0, wSum: 0, wrSum: 0, w2Sum: 0 };
    const report = createPolicyReport([{ ...empty, w2rSum: 0, w2r2Sum: 0 }]);
    expect(report.groups[0]).toMatchObject({ impressions: 0, ctr: null });
    expect(report.groups[0]!.actions[0]).toMatchObject({
      ctr: null,
      ips: null,
      snips: null,
      effectiveSampleSize: null,
    });
    expect(report.policies[0]!.ctr).toBeNull();
  });

  it('gives point estimates without IPS or SNIPS intervals for a single impression', () => {
    const report = createPolicyReport(reportRows([{ action: 'EXPLORE', propensity: 0.2, reward: 1 }]));
    const a = report.groups[0]!.actions[0]!;
    expectEstimate(a.ips, 5, null);
    expectEstimate(a.snips, 1, null);
    // Wilson stays defined at N = 1: 1 of 1 at z = 1.96.
    expectEstimate(a.ctr, 1, [0.20654, 1]);
  });

  it('keeps every number finite when no impression was rewarded', () => {
    const report = createPolicyReport(
      reportRows([
        { action: 'SIMILAR', propensity: 0.9, reward: 0 },
        { action: 'SIMILAR', propensity: 0.9, reward: 0 },
        { action: 'POPULAR', propensity: 0.1, reward: 0 },
      ]),
    );
    expect(numbersIn(report).every(Number.isFinite)).toBe(true);
    expect(action(report.groups[0]!.actions, 'SIMILAR').snips).toEqual({ value: 0, ci: { low: 0, high: 0 } });
  });

  it('rejects a negative or non-finite sum and a non-positive z', () => {
    const [row] = reportRows([{ action: 'SIMILAR', propensity: 0.5, reward: 1 }]);
    expect(() => createPolicyReport([{ ...row!, wSum: Number.NaN }])).toThrow(RangeError);
    expect(() => createPolicyReport([{ ...row!, impressions: -1 }])).toThrow(/impressions/);
    expect(() => createPolicyReport([row!], { z: 0 })).toThrow(/z must be/);
  });
});
