import { createHash } from 'node:crypto';

/**
 * A user's bucket for a flag, 0..99: sha256(flag:user) read as a 32-bit number, mod 100. Stable for a
 * flag and user, independent across flags, and a user in at p% is still in at any q ≥ p.
 */
export function flagBucket(flagKey: string, userId: string): number {
  return createHash('sha256').update(`${flagKey}:${userId}`).digest().readUInt32BE(0) % 100;
}

export type FlagVariant = 'on' | 'off';

/**
 * The variant a viewer sees: on when their bucket is below the rollout. Anonymous callers have no
 * stable identity to bucket, so they see a flag only once it is at 100%.
 */
export function flagVariant(flagKey: string, rolloutPct: number, userId: string | null): FlagVariant {
  if (rolloutPct >= 100) return 'on';
  if (rolloutPct <= 0 || userId === null) return 'off';
  return flagBucket(flagKey, userId) < rolloutPct ? 'on' : 'off';
}
