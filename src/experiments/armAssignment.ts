import type { RedisClient } from '../platform/redis.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { armForBucket, hashBucket, type Experiment, type ExperimentArm } from './experimentArms.js';

/** Sticky assignments outlive any realistic experiment; an expired one is re-derived from the hash. */
export const defaultAssignmentTtlSec = 180 * 24 * 3600;

/** Bump when the stored value's meaning changes, so a deploy never reads the old shape. */
const KEY_VERSION = 'v1';

export const assignmentKey = (experimentKey: string, userId: string): string =>
  `exp:${KEY_VERSION}:${experimentKey}:${userId}`;

export interface ArmAssignment {
  arm: ExperimentArm;
  /** redis: the sticky record (new or existing); hash: Redis unavailable, derived from the hash. */
  store: 'redis' | 'hash';
}

/**
 * A viewer's arm: the one recorded in Redis, so it survives weight changes; the first time, the
 * hash-derived arm, recorded with SET NX (concurrent first requests on several instances agree on one).
 * One round trip: SET NX GET returns the existing record, if any. While Redis is down (or slow), the
 * arm comes from the same hash with no waiting; it only differs from the record if the weights changed
 * since the viewer was first assigned. A recorded arm that no longer exists is replaced.
 */
export async function assignArm(
  redis: RedisClient | null,
  experiment: Experiment,
  userId: string,
  logger: Logger,
  ttlSec = defaultAssignmentTtlSec,
): Promise<ArmAssignment> {
  const hashed = armForBucket(experiment.arms, hashBucket(experiment.key, userId));
  if (!redis || redis.status !== 'ready') return { arm: hashed, store: 'hash' };
  const key = assignmentKey(experiment.key, userId);
  try {
    const existing = (await redis.call('SET', key, hashed.name, 'EX', ttlSec, 'NX', 'GET')) as string | null;
    if (existing === null) return { arm: hashed, store: 'redis' };
    const recorded = experiment.arms.find((arm) => arm.name === existing && arm.weight > 0);
    if (recorded) return { arm: recorded, store: 'redis' };
    await redis.set(key, hashed.name, 'EX', ttlSec);
    return { arm: hashed, store: 'redis' };
  } catch (error) {
    logger.warn(
      { err: coerceError(error), experiment: experiment.key },
      'arm assignment read from the hash: Redis failed',
    );
    return { arm: hashed, store: 'hash' };
  }
}
