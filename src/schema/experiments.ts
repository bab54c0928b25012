import { builder } from '../builder.js';
import type { Experiment, ExperimentArm } from '../experiments/experimentArms.js';
import * as experiments from '../resolvers/experiments.js';

export const FeedPolicyEnum = builder.enumType('FeedPolicy', {
  description: 'How the feed fills its slots.',
  values: {
    EPSILON_GREEDY: {
      value: 'epsilon_greedy',
      description: 'Exploit the ranking; explore with probability ε.',
    },
    THOMPSON: { value: 'thompson', description: 'Thompson sampling over source/category arms.' },
  } as const,
});

const ExperimentArmRef = builder.objectRef<ExperimentArm>('ExperimentArm').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    weight: t.exposeInt('weight', { description: 'Relative share of newly assigned viewers.' }),
    policy: t.field({ type: FeedPolicyEnum, resolve: (arm) => arm.policy }),
    epsilon: t.float({
      nullable: true,
      description: 'ε for EPSILON_GREEDY; null = the gateway default (FEED_EPSILON).',
      resolve: (arm) => arm.params.epsilon ?? null,
    }),
  }),
});

export const ExperimentRef = builder.objectRef<Experiment>('Experiment').implement({
  description:
    'An A/B experiment. The one named by FEED_EXPERIMENT chooses each signed-in viewer’s feed policy while active.',
  fields: (t) => ({
    key: t.exposeString('key'),
    description: t.exposeString('description'),
    active: t.exposeBoolean('active'),
    arms: t.field({ type: [ExperimentArmRef], resolve: (e) => e.arms }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const ExperimentArmInput = builder.inputType('ExperimentArmInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'a-z, 0-9, _ and -, at most 32 characters.' }),
    weight: t.int({ required: true, description: 'Relative share of new viewers (0 drains the arm).' }),
    policy: t.field({ type: FeedPolicyEnum, required: true }),
    epsilon: t.float({ description: 'ε for EPSILON_GREEDY (0..1).' }),
  }),
});

const SaveExperimentInput = builder.inputType('SaveExperimentInput', {
  fields: (t) => ({
    key: t.string({ required: true }),
    description: t.string(),
    arms: t.field({ type: [ExperimentArmInput], required: true }),
    active: t.boolean({ required: true }),
  }),
});

builder.mutationFields((t) => ({
  saveExperiment: t.field({
    type: ExperimentRef,
    description:
      'Admin only: creates or replaces an experiment (audited). Viewers keep their arm while it exists with weight > 0.',
    authScopes: { admin: true },
    args: {
      input: t.arg({ type: SaveExperimentInput, required: true }),
      reason: t.arg.string({
        description: 'Why (up to 500 characters): recorded with the change in the audit log.',
      }),
    },
    resolve: (_root, { input, reason }, ctx) => experiments.saveExperiment(ctx, input, reason ?? null),
  }),
}));
