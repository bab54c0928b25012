import { builder } from '../builder.js';
import type { ActionReport, Estimate, PolicyGroupReport, PolicyTotalReport } from '../feed/offPolicy.js';
import { featureWeights, type FeatureWeight, type RankerReport } from '../feed/policyReport.js';
import type { StoredRankerModel } from '../feed/rankerModel.js';
import type { HoldoutMetrics } from '../feed/rankerTraining.js';
import * as experiments from '../resolvers/experiments.js';
import * as policyReport from '../resolvers/policyReport.js';
import { ExperimentRef } from './experiments.js';

/** The admin tools' root: the runbook's diagnostics live under `ops`. */
export const OpsRef = builder.objectRef<Record<string, never>>('Ops').implement({
  description: 'Admin only: production diagnostics and reports.',
});

const EstimateRef = builder.objectRef<Estimate>('Estimate').implement({
  description: 'A point estimate with its 95% confidence interval (null when there is too little data).',
  fields: (t) => ({
    value: t.exposeFloat('value'),
    low: t.float({ nullable: true, resolve: (e) => e.ci?.low ?? null }),
    high: t.float({ nullable: true, resolve: (e) => e.ci?.high ?? null }),
  }),
});

const ActionEstimateRef = builder.objectRef<ActionReport>('PolicyActionEstimate').implement({
  description:
    'What the logging policy chose: a source (ε-greedy) or SOURCE:categoryId (Thompson exploration arms).',
  fields: (t) => ({
    action: t.exposeString('action'),
    impressions: t.exposeInt('impressions'),
    rewarded: t.exposeInt('rewarded'),
    ctr: t.field({
      type: EstimateRef,
      nullable: true,
      description: 'Observed CTR (Wilson).',
      resolve: (a) => a.ctr,
    }),
    ips: t.field({
      type: EstimateRef,
      nullable: true,
      description:
        'Inverse propensity scoring: the CTR of always choosing this action (may exceed 1 on little data).',
      resolve: (a) => a.ips,
    }),
    snips: t.field({
      type: EstimateRef,
      nullable: true,
      description: 'Self-normalised IPS: lower variance, slightly biased.',
      resolve: (a) => a.snips,
    }),
    effectiveSampleSize: t.float({ nullable: true, resolve: (a) => a.effectiveSampleSize }),
  }),
});

const PolicyGroupRef = builder.objectRef<PolicyGroupReport>('PolicyArmReport').implement({
  description: 'One policy within one experiment arm.',
  fields: (t) => ({
    policy: t.exposeString('policy'),
    experiment: t.string({ nullable: true, resolve: (g) => g.experiment || null }),
    arm: t.string({ nullable: true, resolve: (g) => g.arm || null }),
    impressions: t.exposeInt('impressions'),
    rewarded: t.exposeInt('rewarded'),
    ctr: t.field({ type: EstimateRef, nullable: true, resolve: (g) => g.ctr }),
    actions: t.field({ type: [ActionEstimateRef], resolve: (g) => g.actions }),
  }),
});

const PolicyTotalRef = builder.objectRef<PolicyTotalReport>('PolicyTotal').implement({
  fields: (t) => ({
    policy: t.exposeString('policy'),
    impressions: t.exposeInt('impressions'),
    rewarded: t.exposeInt('rewarded'),
    ctr: t.field({ type: EstimateRef, nullable: true, resolve: (p) => p.ctr }),
  }),
});

const RankerServingEnum = builder.enumType('RankerServing', {
  description: 'Which ranking weights order the personalised feed (FEED_RANKER).',
  values: {
    LEARNED: { value: 'learned', description: 'The latest model the worker learned from feedback.' },
    DEFAULT: {
      value: 'default',
      description:
        'The fixed weights: the defaults, or FEED_RANKER_WEIGHTS where set (no learned model yet, or FEED_RANKER=fixed).',
    },
    OFF: { value: 'off', description: 'No ranking stage: similarity order only (FEED_RANKER=off).' },
  } as const,
});

const FeatureWeightRef = builder.objectRef<FeatureWeight>('RankerFeatureWeight').implement({
  fields: (t) => ({
    feature: t.exposeString('feature'),
    weight: t.exposeFloat('weight'),
  }),
});

const HoldoutMetricsRef = builder.objectRef<HoldoutMetrics>('RankerHoldoutMetrics').implement({
  description: 'A model scored on the latest 20% of its training window (IPS-weighted).',
  fields: (t) => ({
    logLoss: t.exposeFloat('logLoss'),
    auc: t.float({ nullable: true, resolve: (m) => m.auc }),
  }),
});

const RankerModelRef = builder.objectRef<StoredRankerModel>('RankerModel').implement({
  description: 'Ranking weights learned by the worker (ranker_training), with its holdout metrics.',
  fields: (t) => ({
    trainedAt: t.expose('trainedAt', { type: 'DateTime' }),
    featuresVersion: t.exposeInt('featuresVersion'),
    samples: t.exposeInt('samples'),
    positives: t.exposeInt('positives'),
    bias: t.float({ resolve: (m) => m.model.bias }),
    weights: t.field({ type: [FeatureWeightRef], resolve: (m) => featureWeights(m.model) }),
    learned: t.field({ type: HoldoutMetricsRef, nullable: true, resolve: (m) => m.learned }),
    defaults: t.field({
      type: HoldoutMetricsRef,
      nullable: true,
      description:
        'The fixed weights it was compared with (the defaults, or FEED_RANKER_WEIGHTS) on the same holdout.',
      resolve: (m) => m.defaults,
    }),
  }),
});

const RankerReportRef = builder.objectRef<RankerReport>('RankerReport').implement({
  description: 'The feed’s ranking stage: the weights this gateway serves and the latest learned model.',
  fields: (t) => ({
    serving: t.field({ type: RankerServingEnum, resolve: (r) => r.serving }),
    bias: t.exposeFloat('bias'),
    weights: t.field({ type: [FeatureWeightRef], resolve: (r) => r.weights }),
    latest: t.field({
      type: RankerModelRef,
      nullable: true,
      description: 'The latest stored model of the current feature version, whether it serves or not.',
      resolve: (r) => r.latest,
    }),
  }),
});

const PolicyReportRef = builder.objectRef<policyReport.PolicyReportResult>('PolicyReport').implement({
  description: 'Off-policy evaluation of the feed policies from the logged propensities.',
  fields: (t) => ({
    since: t.expose('since', { type: 'DateTime' }),
    policies: t.field({ type: [PolicyTotalRef], resolve: (r) => r.policies }),
    arms: t.field({ type: [PolicyGroupRef], resolve: (r) => r.groups }),
    ranker: t.field({ type: RankerReportRef, resolve: (r) => r.ranker }),
  }),
});

builder.objectFields(OpsRef, (t) => ({
  policyReport: t.field({
    type: PolicyReportRef,
    description:
      'Each feed policy’s and arm’s CTR with IPS/SNIPS estimates per action, since `since` (default 7 days).',
    args: { since: t.arg({ type: 'DateTime' }) },
    resolve: (_ops, args, ctx) => policyReport.policyReport(ctx, args.since),
  }),
  experiments: t.field({
    type: [ExperimentRef],
    description: 'Every A/B experiment, most recently changed first.',
    resolve: (_ops, _args, ctx) => experiments.experiments(ctx),
  }),
}));

builder.queryFields((t) => ({
  ops: t.field({
    type: OpsRef,
    description: 'Admin only: diagnostics and reports for running Lodestar.',
    authScopes: { admin: true },
    resolve: () => ({}),
  }),
}));
