import type pg from 'pg';
import type { RedisClient } from '../platform/redis.js';
import { assignmentKey } from './armAssignment.js';

/** recorded arms: every experiment's key and state; the policy lets everyone read experiments. */
const experimentKeysSql = 'SELECT key, active FROM experiments ORDER BY key';

/** The arm Redis records for one person in one experiment (null: none recorded). */
export interface RecordedArm {
  experiment: string;
  active: boolean;
  arm: string | null;
  /** When the record lapses (its TTL); null without a record. */
  expiresAt: Date | null;
}

/**
 * A person's sticky arm in every experiment, as recorded in Redis (src/experiments/armAssignment.ts),
 * without recording any: one row per experiment, the arm null where none is recorded. Throws when Redis
 * is absent, not connected or fails. One GET and one PTTL per experiment (there are a handful).
 */
export async function recordedArms(
  pool: Pick<pg.Pool, 'query'>,
  redis: RedisClient | null,
  userId: string,
): Promise<RecordedArm[]> {
  if (!redis) throw new Error('Redis is not configured');
  if (redis.status !== 'ready') throw new Error('Redis is not connected');
  const { rows } = await pool.query<{ key: string; active: boolean }>(experimentKeysSql);
  return Promise.all(
    rows.map(async ({ key, active }) => {
      const redisKey = assignmentKey(key, userId);
      const [arm, ttlMs] = await Promise.all([redis.get(redisKey), redis.pttl(redisKey)]);
      return {
        experiment: key,
        active,
        arm,
        expiresAt: arm !== null && ttlMs > 0 ? new Date(Date.now() + ttlMs) : null,
      };
    }),
  );
}
