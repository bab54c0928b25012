import type pg from 'pg';
import { z } from 'zod';
import { createBadUserInputError, createNotFoundError } from '../errors/errors.js';
import type { OpsActor } from '../auth/actor.js';

export type FlagState = 'off' | 'rolling' | 'complete' | 'rolled_back';

/** Auto-rollback limits (runbook "Feature Flags"), per flag. */
const thresholdRules = {
  maxErrorRate: z.coerce.number().min(0).max(1),
  maxP95Multiplier: z.coerce.number().min(1).max(100),
  maxComplaints: z.coerce.number().int().min(0).max(1_000_000),
};
/** A flag's rollback thresholds; a new flag starts with the runbook's defaults. */
export const flagThresholdsSchema = z.object({
  maxErrorRate: thresholdRules.maxErrorRate.default(0.02),
  maxP95Multiplier: thresholdRules.maxP95Multiplier.default(2),
  maxComplaints: thresholdRules.maxComplaints.default(10),
});
/**
 * A change to some thresholds: those left out keep their value. (Not `flagThresholdsSchema.partial()`:
 * zod 4 still fills a partial object's defaults in, which would reset the thresholds left out.)
 */
export const flagThresholdsChangeSchema = z.object(thresholdRules).partial();
export type FlagThresholds = z.infer<typeof flagThresholdsSchema>;

export interface Flag {
  key: string;
  description: string;
  rolloutPct: number;
  state: FlagState;
  baselineP95Ms: number | null;
  thresholds: FlagThresholds;
  updatedAt: Date;
}

export interface FlagRow {
  key: string;
  description: string;
  rollout_pct: number;
  state: FlagState;
  baseline_p95_ms: number | null;
  thresholds: unknown;
  updated_at: Date;
}

export const flagColumns = 'key, description, rollout_pct, state, baseline_p95_ms, thresholds, updated_at';

export function flagFromRow(row: FlagRow): Flag {
  const thresholds = flagThresholdsSchema.safeParse(row.thresholds);
  return {
    key: row.key,
    description: row.description,
    rolloutPct: row.rollout_pct,
    state: row.state,
    baselineP95Ms: row.baseline_p95_ms,
    // A hand-edited row with bad thresholds falls back to the runbook's, never to "no limits".
    thresholds: thresholds.success ? thresholds.data : flagThresholdsSchema.parse({}),
    updatedAt: row.updated_at,
  };
}

/** Rollout progression (runbook "Feature Flags"): 1% → 5% → 25% → 100%. */
export const ROLLOUT_STEPS = [1, 5, 25, 100] as const;

export const stateForPct = (pct: number): FlagState =>
  pct <= 0 ? 'off' : pct >= 100 ? 'complete' : 'rolling';

export const flagKeyPattern = /^[a-z0-9_.-]{1,64}$/;

/** The history's actor: who changed a flag, as one string. */
export const actorLabel = (actor: OpsActor): string =>
  actor.id ? `${actor.role}:${actor.id}` : (actor.requestId ?? actor.role);

const lockFlagSql = `SELECT ${flagColumns} FROM feature_flags WHERE key = $1 FOR UPDATE`;
const setPctSql = `
UPDATE feature_flags SET rollout_pct = $2, state = $3 WHERE key = $1 RETURNING ${flagColumns}`;
const historySql = `
INSERT INTO feature_flag_history (flag_key, from_pct, to_pct, from_state, to_state, actor, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7)`;

/**
 * Moves a flag to `pct` (and the state that goes with it, or `state`), with a history row; `next`
 * returning null, or the flag's own percentage and state, leaves the flag as it is (and writes no
 * history).
 */
export async function changeRollout(
  client: Pick<pg.PoolClient, 'query'>,
  key: string,
  next: (flag: Flag) => { pct: number; state?: FlagState } | null,
  actor: OpsActor,
  reason: string | null,
): Promise<{ flag: Flag; previous: Flag; changed: boolean }> {
  const row = (await client.query<FlagRow>(lockFlagSql, [key])).rows[0];
  if (!row) throw createNotFoundError('feature flag', key);
  const previous = flagFromRow(row);
  const target = next(previous);
  if (target === null) return { flag: previous, previous, changed: false };
  const state = target.state ?? stateForPct(target.pct);
  // Already there (a retried or repeated call): no update, no history row, and the rollout's start, from
  // which complaints and exposure are judged, stays where it was.
  if (target.pct === previous.rolloutPct && state === previous.state)
    return { flag: previous, previous, changed: false };
  const updated = (await client.query<FlagRow>(setPctSql, [key, target.pct, state])).rows[0];
  if (!updated) throw new Error('the flag update returned no row');
  await client.query(historySql, [
    key,
    previous.rolloutPct,
    target.pct,
    previous.state,
    state,
    actorLabel(actor),
    reason,
  ]);
  return { flag: flagFromRow(updated), previous, changed: true };
}

/** The next rollout step above the flag's current percentage. */
export function nextStep(flag: Flag): number {
  const step = ROLLOUT_STEPS.find((s) => s > flag.rolloutPct);
  if (step === undefined) {
    throw createBadUserInputError(`flag ${flag.key} is already at 100%`, 'key');
  }
  return step;
}

export interface SaveFlagInput {
  key: string;
  description?: string | undefined;
  baselineP95Ms?: number | null | undefined;
  thresholds?: Partial<FlagThresholds> | undefined;
}

/** Creates a flag at 0% (off), or updates its description, baseline and thresholds; never its rollout. */
const upsertFlagSql = `
INSERT INTO feature_flags (key, description, baseline_p95_ms, thresholds) VALUES ($1, coalesce($2, ''), $3, $4)
ON CONFLICT (key) DO UPDATE SET
  description = coalesce($2, feature_flags.description),
  baseline_p95_ms = CASE WHEN $5 THEN $3 ELSE feature_flags.baseline_p95_ms END,
  thresholds = CASE WHEN $6 THEN $4 ELSE feature_flags.thresholds END
RETURNING ${flagColumns}`;

export async function saveFlag(client: Pick<pg.PoolClient, 'query'>, input: SaveFlagInput): Promise<Flag> {
  if (!flagKeyPattern.test(input.key)) {
    throw createBadUserInputError(
      `key must use a-z, 0-9, _ . - (1 to 64 characters), got "${input.key.slice(0, 80)}"`,
      'key',
    );
  }
  if (input.description !== undefined && input.description.length > 500) {
    throw createBadUserInputError('description must be at most 500 characters', 'description');
  }
  const existing = (
    await client.query<FlagRow>(`SELECT ${flagColumns} FROM feature_flags WHERE key = $1`, [input.key])
  ).rows[0];
  const thresholds = flagThresholdsSchema.safeParse({
    ...(existing ? flagFromRow(existing).thresholds : {}),
    ...input.thresholds,
  });
  if (!thresholds.success) {
    const issue = thresholds.error.issues[0];
    throw createBadUserInputError(
      `thresholds.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
      'thresholds',
    );
  }
  const { rows } = await client.query<FlagRow>(upsertFlagSql, [
    input.key,
    input.description?.trim() ?? null,
    input.baselineP95Ms ?? null,
    JSON.stringify(thresholds.data),
    input.baselineP95Ms !== undefined,
    input.thresholds !== undefined,
  ]);
  const row = rows[0];
  if (!row) throw new Error('the flag upsert returned no row');
  return flagFromRow(row);
}

export async function listFlags(db: Pick<pg.Pool, 'query'>): Promise<Flag[]> {
  const { rows } = await db.query<FlagRow>(`SELECT ${flagColumns} FROM feature_flags ORDER BY key`);
  return rows.map(flagFromRow);
}
