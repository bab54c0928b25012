import { builder } from '../builder.js';
import type { RolloutEvaluation, VariantStats } from '../flags/evaluateRollouts.js';
import type { FlagValue } from '../flags/flagStore.js';
import type { Flag, FlagThresholds } from '../flags/flags.js';
import { reportProblem } from '../resolvers/flags.js';
import type { FlagChange } from '../ops/diagnostics.js';
import * as ops from '../resolvers/ops.js';
import { AuditedRef, type Audited } from './audited.js';
import { OpsRef } from './ops.js';
import { ViewerRef } from './profile.js';

const FlagStateEnum = builder.enumType('FlagState', {
  values: {
    OFF: { value: 'off' },
    ROLLING: { value: 'rolling' },
    COMPLETE: { value: 'complete' },
    ROLLED_BACK: { value: 'rolled_back' },
  } as const,
});

const FlagThresholdsRef = builder.objectRef<FlagThresholds>('FlagThresholds').implement({
  description: 'Auto-rollback limits: error rate, p95 as a multiple of the baseline, complaining users.',
  fields: (t) => ({
    maxErrorRate: t.exposeFloat('maxErrorRate'),
    maxP95Multiplier: t.exposeFloat('maxP95Multiplier'),
    maxComplaints: t.exposeInt('maxComplaints'),
  }),
});

const FlagChangeRef = builder.objectRef<FlagChange>('FlagChange').implement({
  fields: (t) => ({
    fromPct: t.exposeInt('fromPct', { nullable: true }),
    toPct: t.exposeInt('toPct'),
    fromState: t.exposeString('fromState', { nullable: true }),
    toState: t.exposeString('toState'),
    actor: t.exposeString('actor'),
    reason: t.exposeString('reason', { nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

export const FeatureFlagRef = builder.objectRef<Flag>('FeatureFlag').implement({
  description:
    'A staged rollout: users whose bucket (hash of flag and user, 0–99) is below rolloutPct see it.',
  fields: (t) => ({
    key: t.exposeString('key'),
    description: t.exposeString('description'),
    rolloutPct: t.exposeInt('rolloutPct'),
    state: t.field({ type: FlagStateEnum, resolve: (f) => f.state }),
    baselineP95Ms: t.exposeFloat('baselineP95Ms', { nullable: true }),
    thresholds: t.field({ type: FlagThresholdsRef, resolve: (f) => f.thresholds }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    complaints: t.int({
      description:
        'Admin: distinct users who reported a problem (reportProblem) since the last rollout change, at most FLAGS_EVALUATION_WINDOW_SEC back: what auto-rollback compares with thresholds.maxComplaints.',
      resolve: (f, _args, ctx) => ops.flagComplaints(ctx, f.key),
    }),
    history: t.field({
      type: [FlagChangeRef],
      description: 'Rollout changes, newest first (limit 1–100).',
      args: { limit: t.arg.int({ defaultValue: 20 }) },
      resolve: (f, args, ctx) => ops.flagHistory(ctx, f.key, args.limit ?? 20),
    }),
  }),
});

const FlagValueRef = builder.objectRef<FlagValue>('FlagValue').implement({
  description: 'A flag as the caller sees it; stable per user while the rollout only grows.',
  fields: (t) => ({
    key: t.exposeString('key'),
    on: t.exposeBoolean('on'),
    variant: t.exposeString('variant', { description: 'on or off.' }),
  }),
});

const VariantStatsRef = builder.objectRef<VariantStats>('RolloutVariantStats').implement({
  fields: (t) => ({
    requests: t.exposeInt('requests'),
    errors: t.exposeInt('errors', { description: 'Every server error of the exposed requests.' }),
    countedErrors: t.exposeInt('countedErrors', {
      description: 'The errors judged: each user’s counted at most FLAGS_MAX_ERRORS_PER_USER times.',
    }),
    affectedUsers: t.exposeInt('affectedUsers', {
      description: 'Distinct users with server errors (FLAGS_MIN_AFFECTED_USERS needed to roll back).',
    }),
    errorRate: t.exposeFloat('errorRate', { nullable: true, description: 'countedErrors / requests.' }),
    p95Ms: t.exposeFloat('p95Ms', { nullable: true }),
  }),
});

const RolloutEvaluationRef = builder.objectRef<RolloutEvaluation>('RolloutEvaluation').implement({
  fields: (t) => ({
    key: t.exposeString('key'),
    rolloutPct: t.exposeInt('rolloutPct', { description: 'The rollout that was judged.' }),
    decision: t.exposeString('decision', {
      description: 'rolled_back, would_roll_back (dry run), healthy or insufficient_data.',
    }),
    reasons: t.exposeStringList('reasons'),
    held: t.exposeStringList('held', {
      description: 'Limits broken that did not count: an error rate from too few distinct users.',
    }),
    since: t.expose('since', { type: 'DateTime' }),
    on: t.field({ type: VariantStatsRef, resolve: (e) => e.on }),
    off: t.field({ type: VariantStatsRef, resolve: (e) => e.off }),
    baselineP95Ms: t.exposeFloat('baselineP95Ms', { nullable: true }),
    complaints: t.exposeInt('complaints'),
  }),
});

export const FlagChangeResultRef = builder
  .objectRef<{ flag: Flag; previous: Flag; changed: boolean } & Audited>('FlagRolloutResult')
  .implement({
    interfaces: [AuditedRef],
    fields: (t) => ({
      flag: t.field({ type: FeatureFlagRef, resolve: (r) => r.flag }),
      previousRolloutPct: t.int({ resolve: (r) => r.previous.rolloutPct }),
      changed: t.exposeBoolean('changed', {
        description:
          'False when the flag already was at that percentage and state (a retried call): nothing was ' +
          'written, and the window complaints and exposure are judged in did not restart.',
      }),
    }),
  });

export const SaveFlagResultRef = builder.objectRef<Flag & Audited>('SaveFlagResult').implement({
  interfaces: [AuditedRef],
  fields: (t) => ({ flag: t.field({ type: FeatureFlagRef, resolve: (r) => r }) }),
});

export const EvaluateRolloutsResultRef = builder
  .objectRef<{ evaluations: RolloutEvaluation[] } & Audited>('EvaluateRolloutsResult')
  .implement({
    interfaces: [AuditedRef],
    fields: (t) => ({
      evaluations: t.field({ type: [RolloutEvaluationRef], resolve: (r) => r.evaluations }),
    }),
  });

/** saveFlag's thresholds (the flag mutations are generated with the other ops actions in opsActions.ts). */
export const FlagThresholdsInput = builder.inputType('FlagThresholdsInput', {
  fields: (t) => ({
    maxErrorRate: t.float(),
    maxP95Multiplier: t.float(),
    maxComplaints: t.int(),
  }),
});

builder.objectFields(OpsRef, (t) => ({
  flags: t.field({
    type: [FeatureFlagRef],
    description: 'Every feature flag with its rollout and limits.',
    resolve: (_ops, _args, ctx) => ops.flags(ctx),
  }),
}));

builder.objectField(ViewerRef, 'flags', (t) =>
  t.field({
    type: [FlagValueRef],
    description: 'Every feature flag as this person sees it, so apps can branch.',
    resolve: (_profile, _args, ctx) => ctx.flags.valuesFor(ctx.viewer.userId),
  }),
);

builder.queryFields((t) => ({
  flags: t.field({
    type: [FlagValueRef],
    description: 'Every feature flag as the caller sees it (anonymous callers: on only at 100%).',
    resolve: (_root, _args, ctx) => ctx.flags.valuesFor(ctx.viewer.userId),
  }),
}));

builder.mutationFields((t) => ({
  reportProblem: t.field({
    type: 'Boolean',
    description:
      'Tell us a flag you see is causing trouble; counts towards its auto-rollback (distinct users). ' +
      'Shares the comments rate limit.',
    authScopes: { user: true },
    args: { flagKey: t.arg.string({ required: true }), message: t.arg.string() },
    resolve: (_root, args, ctx) => reportProblem(ctx, args.flagKey, args.message ?? ''),
  }),
}));
