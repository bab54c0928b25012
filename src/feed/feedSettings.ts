import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../platform/redis.js';
import type { Config } from '../config/config.js';
import type { ServiceDb } from '../db/service.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { createFeedPolicies } from './feedPolicies.js';
import { createRankerModelSource } from './rankerModel.js';
import { fixedRankerWeights } from './ranking.js';
import { createExplorationSample } from './explorationSample.js';
import { KnownCandidateCaches } from './candidates.js';
import { CandidateMemory } from './candidateMemory.js';
import type { FeedSettings } from './suggestions.js';

/**
 * Built once per process: the policies (per experiment arm), the ranker weights, the exploration sample,
 * the viewers' kept candidates and the cursor-signing key.
 */
export function createFeedSettings(
  config: Config,
  deps: { service: ServiceDb; logger: Logger; redis: RedisClient | null; metrics: Metrics },
): FeedSettings & { stop: () => void } {
  const policies = createFeedPolicies({ config, ...deps });
  // Re-read on the Thompson posteriors' cadence: both learn from the same learning events.
  const ranker = createRankerModelSource({
    service: deps.service,
    logger: deps.logger,
    mode: config.feed.ranker,
    refreshMs: config.feed.posteriorRefreshSec * 1000,
    fixedWeights: fixedRankerWeights(config.feed.rankerWeights),
  });
  return {
    stop: () => {
      policies.stop();
      ranker.stop();
    },
    policies,
    ranker,
    exploration: createExplorationSample({
      service: deps.service,
      logger: deps.logger,
      refreshMs: config.feed.exploreSampleSec * 1000,
    }),
    knownCaches: new KnownCandidateCaches(),
    memory: new CandidateMemory(config.feed.candidateMemorySec * 1000, config.feed.candidateMemoryViewers),
    // Replicas must share the key for cursors to work across them: FEED_CURSOR_SECRET or JWT_SECRET.
    cursorKey: config.feed.cursorSecret ?? config.auth.jwtSecret ?? randomBytes(32).toString('hex'),
  };
}
