import { withIdentity, type RlsViewer } from '../db/identity.js';
import type { Database } from '../db/database.js';
import { createBadUserInputError } from '../errors/errors.js';
import type { FeatureStore } from '../features/featureStore.js';
import { recordLearningRewardSql } from './sql.js';

/** What a viewer's feed write needs: who, the gateway pool, and the feature cache to invalidate. */
export interface FeedWriteDeps {
  viewer: RlsViewer;
  db: Pick<Database, 'pool'>;
  features: Pick<FeatureStore, 'invalidate'>;
}

/**
 * record feedback: the reward of one impression, once; the same reward again is a success (a retried
 * request), a different one is refused. The SQL function checks the impression is the caller's.
 * Arguments are already checked (a uuid, a reward in 0..1).
 */
export async function recordFeedback(
  deps: FeedWriteDeps,
  impressionId: string,
  reward: number,
): Promise<{ impressionId: string; reward: number }> {
  const recorded = await withIdentity(deps.db.pool, deps.viewer, async (client) => {
    const { rows } = await client.query<{ recorded: boolean }>(recordLearningRewardSql, [
      impressionId,
      reward,
    ]);
    return rows[0]?.recorded === true;
  });
  if (recorded) {
    // The viewer's CTR and (with drift) top categories changed; the listing's 30-day CTR moves by one
    // reward and is left to its TTL.
    await deps.features.invalidate({ users: deps.viewer.userId ? [deps.viewer.userId] : [] });
  }
  if (!recorded) {
    throw createBadUserInputError(
      'this impression is not yours, does not exist, or already has a different reward (feedback is recorded once)',
      'impressionId',
    );
  }
  return { impressionId, reward };
}
