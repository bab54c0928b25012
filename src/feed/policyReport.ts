import type { Database } from '../db/database.js';
import { createPolicyReport, type PolicyReport } from './offPolicy.js';
import {
  readLatestRankerModel,
  type RankerChoice,
  type RankerName,
  type StoredRankerModel,
} from './rankerModel.js';
import { RANKING_FEATURES, type RankerWeights } from './ranking.js';
import { policyReportSql } from './sql.js';

export interface FeatureWeight {
  feature: string;
  weight: number;
}

/** The ranking stage: which weights serve this gateway, and the latest learned model (served or not). */
export interface RankerReport {
  serving: RankerName;
  bias: number;
  weights: FeatureWeight[];
  latest: StoredRankerModel | null;
}

export interface PolicyReportResult extends PolicyReport {
  since: Date;
  ranker: RankerReport;
}

export const featureWeights = (model: RankerWeights): FeatureWeight[] =>
  RANKING_FEATURES.map((feature) => ({ feature, weight: model.weights[feature] }));

/**
 * How each feed policy and experiment arm performs since a moment, from the logged propensities
 * (service path). Fallback fills (policy 'fallback', propensity 1) are reported as their own policy.
 * The ranker section says which ranking weights this gateway serves and shows the latest learned model.
 */
export async function policyReport(
  db: Pick<Database, 'service'>,
  since: Date,
  ranker: { current: () => RankerChoice },
): Promise<PolicyReportResult> {
  const serving = ranker.current();
  const latest = await readLatestRankerModel(db.service);
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
  return {
    since,
    ...report,
    ranker: {
      serving: serving.name,
      bias: serving.weights.bias,
      weights: featureWeights(serving.weights),
      latest,
    },
  };
}
