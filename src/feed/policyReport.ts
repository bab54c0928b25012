import type { Database } from '../db/database.js';
import { createPolicyReport, type PolicyReport } from './offPolicy.js';
import { policyReportSql } from './sql.js';

export interface PolicyReportResult extends PolicyReport {
  since: Date;
}

/**
 * How each feed policy and experiment arm performs since a moment, from the logged propensities
 * (service path). Fallback fills (policy 'fallback', propensity 1) are reported as their own policy.
 */
export async function policyReport(db: Pick<Database, 'service'>, since: Date): Promise<PolicyReportResult> {
  const rows = await db.service.query<{
    policy: string;
    experiment: string;
    arm: string;
    action: string;
    impressions: number;
    rewarded: number;
    reward_sum: number;
    w_sum: number;
    wr_sum: number;
    w2_sum: number;
    w2r_sum: number;
    w2r2_sum: number;
  }>(policyReportSql, [since]);
  const report = createPolicyReport(
    rows.map((r) => ({
      policy: r.policy,
      experiment: r.experiment,
      arm: r.arm,
      action: r.action,
      impressions: r.impressions,
      rewarded: r.rewarded,
      rewardSum: r.reward_sum,
      wSum: r.w_sum,
      wrSum: r.wr_sum,
      w2Sum: r.w2_sum,
      w2rSum: r.w2r_sum,
      w2r2Sum: r.w2r2_sum,
    })),
  );
  return { since, ...report };
}
