import { createHash } from 'node:crypto';
import { z } from 'zod';

/** Feed policies an experiment arm can choose. */
export const FEED_POLICY_NAMES = ['epsilon_greedy', 'thompson'] as const;
export type FeedPolicyName = (typeof FEED_POLICY_NAMES)[number];

const armName = z
  .string()
  .regex(/^[a-z0-9_-]{1,32}$/, 'arm names use a-z, 0-9, _ and -, at most 32 characters');

const experimentArm = z.strictObject({
  name: armName,
  weight: z.number().int('weight must be a whole number').min(0).max(10_000),
  policy: z.enum(FEED_POLICY_NAMES),
  params: z
    .strictObject({
      epsilon: z.number().min(0, 'epsilon must be 0..1').max(1, 'epsilon must be 0..1').optional(),
    })
    .default({}),
});

export type ExperimentArm = z.infer<typeof experimentArm>;

/** An experiment's arms as stored in experiments.arms and accepted by saveExperiment. */
export const experimentArmsSchema = z
  .array(experimentArm)
  .min(1, 'an experiment needs at least one arm')
  .max(10, 'an experiment has at most 10 arms')
  .refine((arms) => new Set(arms.map((a) => a.name)).size === arms.length, 'arm names must be unique')
  .refine((arms) => arms.some((a) => a.weight > 0), 'at least one arm needs a weight above 0');

export interface Experiment {
  key: string;
  description: string;
  arms: ExperimentArm[];
  active: boolean;
  updatedAt: Date;
}

/**
 * A viewer's stable position in [0, 1) for one experiment: sha256 of key and user id. Different
 * experiments get independent positions, and a viewer keeps theirs for as long as the key lives.
 */
export function hashBucket(experimentKey: string, userId: string): number {
  const digest = createHash('sha256').update(`${experimentKey}\u0000${userId}`).digest();
  // 48 bits are exactly representable in a double.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The arm whose share of the total weight covers `bucket` (arms in their stored order). */
export function armForBucket(arms: readonly ExperimentArm[], bucket: number): ExperimentArm {
  const total = arms.reduce((sum, arm) => sum + arm.weight, 0);
  let edge = 0;
  for (const arm of arms) {
    edge += arm.weight / total;
    if (arm.weight > 0 && bucket < edge) return arm;
  }
  // Rounding can leave the top of [0, 1) uncovered: it belongs to the last weighted arm.
  const last = arms.findLast((arm) => arm.weight > 0);
  if (!last) throw new Error('an experiment needs at least one arm with a weight above 0');
  return last;
}

/** An experiments row as the service path and the admin API read it. */
export interface ExperimentRow {
  key: string;
  description: string;
  arms: unknown;
  active: boolean;
  updated_at: Date;
}

/** A row as an Experiment; `problems` is set (and arms empty) when the stored arms no longer validate. */
export function experimentFromRow(row: ExperimentRow): { experiment: Experiment; problems: string[] | null } {
  const arms = experimentArmsSchema.safeParse(row.arms);
  return {
    experiment: {
      key: row.key,
      description: row.description,
      arms: arms.success ? arms.data : [],
      active: row.active,
      updatedAt: row.updated_at,
    },
    problems: arms.success ? null : arms.error.issues.map((issue) => issue.message),
  };
}
