/**
 * Off-policy estimates from the sums `learning_policy_report(p_since)` returns: how the logged CTR of each
 * feed policy compares with what "always pick this action" would have earned, by inverse-propensity
 * scoring (IPS) and its self-normalised form (SNIPS). Pure: numbers in, plain objects out.
 *
 * The intervals treat impressions as independent draws. Slots on one page and pages of one user are not,
 * so read them as optimistic; they are for spotting arms that clearly differ, not for shipping decisions.
 */

/**
 * One row of learning_policy_report, with bigint columns converted to numbers. The weighted sums run over
 * the action's impressions with w = 1/propensity and an unrewarded impression counted as reward 0.
 */
export interface PolicyReportRow {
  policy: string;
  experiment: string;
  arm: string;
  action: string;
  impressions: number;
  rewarded: number;
  rewardSum: number;
  wSum: number;
  wrSum: number;
  w2Sum: number;
  w2rSum: number;
  w2r2Sum: number;
}

export interface PolicyReportOptions {
  /**
   * Normal quantile for the two-sided intervals.
   * @default 1.96 (95%)
   */
  z?: number;
}

/** A point estimate and its interval; `ci` is null when the sample cannot support one. */
export interface Estimate {
  value: number;
  ci: { low: number; high: number } | null;
}

export interface ActionReport {
  action: string;
  impressions: number;
  rewarded: number;
  /** Observed CTR of this action's impressions, Wilson interval. */
  ctr: Estimate | null;
  /** IPS estimate of the CTR of always picking this action; interval clamped to [0, ∞), not to 1. */
  ips: Estimate | null;
  /** Self-normalised IPS; delta-method interval clamped to [0, 1]. Null CI below two impressions. */
  snips: Estimate | null;
  /** (Σw)² / Σw²: how many unweighted impressions the weighted ones are worth. */
  effectiveSampleSize: number | null;
}

/** One logging group: a policy within one experiment arm ('' when the impression had none). */
export interface PolicyGroupReport {
  policy: string;
  experiment: string;
  arm: string;
  impressions: number;
  rewarded: number;
  /** Observed CTR of the group, Wilson interval. */
  ctr: Estimate | null;
  actions: ActionReport[];
}

export interface PolicyTotalReport {
  policy: string;
  impressions: number;
  rewarded: number;
  ctr: Estimate | null;
}

export interface PolicyReport {
  /** Sorted by policy, experiment, arm; actions within a group by name. */
  groups: PolicyGroupReport[];
  /** Per policy across its experiments and arms, sorted by policy. */
  policies: PolicyTotalReport[];
}

const numericFields = [
  'impressions',
  'rewarded',
  'rewardSum',
  'wSum',
  'wrSum',
  'w2Sum',
  'w2rSum',
  'w2r2Sum',
] as const;

type Sums = Pick<PolicyReportRow, (typeof numericFields)[number]>;

const zeroSums = (): Sums => Object.fromEntries(numericFields.map((field) => [field, 0])) as Sums;

// Code-unit order, not localeCompare: the report must sort the same on every host.
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const clamp = (x: number, low: number, high: number): number => Math.min(high, Math.max(low, x));

/**
 * Wilson score interval. Rewards in [0, 1] with mean p have variance at most p(1 − p), so using the
 * Bernoulli variance keeps it valid (conservative) for fractional rewards, and unlike the normal
 * approximation it stays inside [0, 1] and is not degenerate at 0 or N successes.
 */
function wilson(rewardSum: number, n: number, z: number): Estimate | null {
  if (n <= 0) return null;
  const p = clamp(rewardSum / n, 0, 1);
  const z2n = (z * z) / n;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  return { value: rewardSum / n, ci: { low: clamp(center - half, 0, 1), high: clamp(center + half, 0, 1) } };
}

/**
 * IPS over all N impressions of the group: x_i = 1[a_i = a]·w_i·r_i, mean Σx/N, CI from the sample
 * variance. A single unlucky low-propensity reward can push it past 1, which is the honest reading of so
 * little data, so only the lower bound is clamped (a CTR is never negative).
 */
function ips(s: Sums, n: number, z: number): Estimate | null {
  if (n <= 0) return null;
  const mean = s.wrSum / n;
  if (n < 2) return { value: mean, ci: null };
  // max(0, …): cancellation can leave a tiny negative where the true variance is 0.
  const variance = Math.max(0, ((s.w2r2Sum / n - mean * mean) * n) / (n - 1));
  const half = z * Math.sqrt(variance / n);
  return { value: mean, ci: { low: Math.max(0, mean - half), high: mean + half } };
}

/** SNIPS Σwr/Σw with the delta-method variance Σw²(r − V)² / (Σw)², expanded into the report's sums. */
function snips(s: Sums, z: number): Estimate | null {
  if (!(s.wSum > 0)) return null;
  const value = s.wrSum / s.wSum;
  // One impression gives V = r and a zero-width "interval" that would only look precise.
  if (s.impressions < 2) return { value, ci: null };
  const variance = Math.max(0, (s.w2r2Sum - 2 * value * s.w2rSum + value * value * s.w2Sum) / s.wSum ** 2);
  const half = z * Math.sqrt(variance);
  return { value, ci: { low: clamp(value - half, 0, 1), high: clamp(value + half, 0, 1) } };
}

function add(into: Sums, row: Sums): Sums {
  for (const field of numericFields) into[field] += row[field];
  return into;
}

function actionReport(action: string, s: Sums, groupImpressions: number, z: number): ActionReport {
  return {
    action,
    impressions: s.impressions,
    rewarded: s.rewarded,
    ctr: wilson(s.rewardSum, s.impressions, z),
    ips: ips(s, groupImpressions, z),
    snips: snips(s, z),
    effectiveSampleSize: s.w2Sum > 0 ? s.wSum ** 2 / s.w2Sum : null,
  };
}

const keyFields = ['policy', 'experiment', 'arm', 'action'] as const;

/**
 * Turns learning_policy_report rows into per-group and per-policy estimates. Rows repeating a
 * (policy, experiment, arm, action) are summed, so partial reports can be concatenated.
 *
 * @throws RangeError on a negative or non-finite number, or a non-positive z.
 */
export function createPolicyReport(
  rows: readonly PolicyReportRow[],
  options: PolicyReportOptions = {},
): PolicyReport {
  const { z = 1.96 } = options;
  if (!(z > 0 && Number.isFinite(z))) throw new RangeError(`z must be a positive number, got ${z}`);
  for (const row of rows) {
    for (const field of numericFields) {
      if (!(row[field] >= 0 && Number.isFinite(row[field])))
        throw new RangeError(`${field} must be a finite number >= 0, got ${row[field]} (${row.action})`);
    }
  }
  // Sorted by the full key, a group's rows and an action's repeats are adjacent.
  const sorted = [...rows].sort((a, b) => keyFields.reduce((c, f) => c || compareText(a[f], b[f]), 0));
  const groups: { row: PolicyReportRow; actions: [string, Sums][] }[] = [];
  for (const row of sorted) {
    const group = groups.at(-1);
    if (!group || keyFields.slice(0, 3).some((f) => group.row[f] !== row[f])) {
      groups.push({ row, actions: [[row.action, add(zeroSums(), row)]] });
      continue;
    }
    const action = group.actions.at(-1);
    if (action?.[0] === row.action) add(action[1], row);
    else group.actions.push([row.action, add(zeroSums(), row)]);
  }

  const totals = new Map<string, Sums>();
  const groupReports = groups.map(({ row: { policy, experiment, arm }, actions }): PolicyGroupReport => {
    const all = zeroSums();
    for (const [, s] of actions) add(all, s);
    totals.set(policy, add(totals.get(policy) ?? zeroSums(), all));
    return {
      policy,
      experiment,
      arm,
      impressions: all.impressions,
      rewarded: all.rewarded,
      ctr: wilson(all.rewardSum, all.impressions, z),
      actions: actions.map(([action, s]) => actionReport(action, s, all.impressions, z)),
    };
  });
  // Map order is insertion order, and groups arrive sorted by policy first.
  const policies = [...totals].map(([policy, s]) => ({
    policy,
    impressions: s.impressions,
    rewarded: s.rewarded,
    ctr: wilson(s.rewardSum, s.impressions, z),
  }));
  return { groups: groupReports, policies };
}
