import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import { createPolicyReport, type PolicyReport, type PolicyReportRow } from '../feed/offPolicy.js';

/** learning policy report: IPS/SNIPS sums per policy, experiment arm and action since a moment (service path). */
const policyReportSql = `
SELECT policy, experiment, arm, action, impressions::float8 AS impressions, rewarded::float8 AS rewarded,
       reward_sum AS "rewardSum", w_sum AS "wSum", wr_sum AS "wrSum", w2_sum AS "w2Sum",
       w2r_sum AS "w2rSum", w2r2_sum AS "w2r2Sum"
FROM learning_policy_report($1)`;

const DAY_MS = 24 * 3600 * 1000;
/** learning_events are kept 180 days (gc_learning_events), so older windows add nothing. */
const MAX_WINDOW_DAYS = 180;

export interface PolicyReportResult extends PolicyReport {
  since: Date;
}

/**
 * Admin: how each feed policy and experiment arm performs, from the logged propensities. Fallback fills
 * (policy 'fallback', propensity 1) are reported as their own policy. Default window: the last 7 days.
 */
export async function policyReport(
  ctx: Context,
  since: Date | null | undefined,
): Promise<PolicyReportResult> {
  const from = since ?? new Date(Date.now() - 7 * DAY_MS);
  if (Number.isNaN(from.getTime()) || from.getTime() > Date.now()) {
    throw createBadUserInputError('since must be a moment in the past', 'since');
  }
  if (Date.now() - from.getTime() > MAX_WINDOW_DAYS * DAY_MS) {
    throw createBadUserInputError(`since must be within the last ${MAX_WINDOW_DAYS} days`, 'since');
  }
  const rows = await ctx.db.service.query<PolicyReportRow>(policyReportSql, [from]);
  return { since: from, ...createPolicyReport(rows) };
}
