import type { RedisClient } from '../platform/redis.js';
import type { Config } from '../config/config.js';
import type { ServiceDb } from '../db/service.js';
import { coerceError } from '../errors/errors.js';
import { assignArm } from '../experiments/armAssignment.js';
import {
  experimentFromRow,
  type Experiment,
  type ExperimentArm,
  type ExperimentRow,
  type FeedPolicyName,
} from '../experiments/experimentArms.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { createEpsilonGreedyPolicy } from './policies/epsilonGreedy.js';
import type { FeedPolicy } from './policies/types.js';
import { createRefreshingThompson, type RefreshingThompson } from './thompsonRefresher.js';
import { experimentSql } from './sql.js';

/** The policy serving one viewer's page, and the experiment arm that chose it (stamped on impressions). */
export interface PolicyChoice {
  policy: FeedPolicy;
  experiment: string | null;
  arm: string | null;
}

export interface FeedPolicies {
  /** The viewer's policy: their arm's when the feed experiment is active, else the default (FEED_POLICY). */
  choose: (userId: string | null, logger: Logger) => Promise<PolicyChoice>;
  /** Re-reads the feed experiment now (after an admin changed it); otherwise it refreshes on a timer. */
  refresh: () => Promise<void>;
  stop: () => void;
}

/**
 * Feed policies per experiment arm. The experiment is re-read every FEED_EXPERIMENT_REFRESH_SEC (not
 * per request); Thompson posteriors are built only once some arm (or the default) uses Thompson, and are
 * shared by every arm that does.
 */
export function createFeedPolicies(deps: {
  config: Config;
  service: ServiceDb;
  redis: RedisClient | null;
  logger: Logger;
  metrics: Metrics;
}): FeedPolicies {
  const { config, logger } = deps;
  let thompson: RefreshingThompson | undefined;
  const policyFor = (name: FeedPolicyName, params: ExperimentArm['params']): FeedPolicy => {
    if (name === 'epsilon_greedy') {
      return createEpsilonGreedyPolicy({ epsilon: params.epsilon ?? config.feed.epsilon });
    }
    if (!thompson) {
      thompson = createRefreshingThompson({
        service: deps.service,
        logger,
        windowDays: 30,
        intervalMs: config.feed.posteriorRefreshSec * 1000,
        fromPlace: config.feed.exploitTopSlots,
      });
      // A failed first load only means the prior for a little longer.
      thompson.refresh().catch(() => undefined);
    }
    return thompson.policy;
  };
  const fallbackPolicy = policyFor(config.feed.policy, {});

  let experiment: { definition: Experiment; policies: Map<string, FeedPolicy> } | null = null;
  const refresh = async () => {
    const [row] = await deps.service.query<ExperimentRow>(experimentSql, [config.feed.experimentKey]);
    if (!row?.active) {
      experiment = null;
      return;
    }
    const { experiment: definition, problems } = experimentFromRow(row);
    if (problems) {
      logger.error(
        { experiment: row.key, problems },
        'the feed experiment has invalid arms; serving the default policy',
      );
      experiment = null;
      return;
    }
    experiment = {
      definition,
      policies: new Map(definition.arms.map((arm) => [arm.name, policyFor(arm.policy, arm.params)])),
    };
  };
  const logFailure = (error: unknown) =>
    logger.warn({ err: coerceError(error) }, 'could not read the feed experiment; keeping the last');
  // Requests wait for the first read (one small query), so no viewer is served outside their arm at start.
  const firstLoad = refresh().catch(logFailure);
  const timer = setInterval(() => {
    refresh().catch(logFailure);
  }, config.feed.experimentRefreshSec * 1000);
  timer.unref();

  return {
    choose: async (userId, requestLogger) => {
      await firstLoad;
      const current = experiment;
      if (!current || userId === null) return { policy: fallbackPolicy, experiment: null, arm: null };
      const { arm, store } = await assignArm(deps.redis, current.definition, userId, requestLogger);
      deps.metrics.armAssignments.inc({ experiment: current.definition.key, arm: arm.name, store });
      return {
        policy: current.policies.get(arm.name) ?? fallbackPolicy,
        experiment: current.definition.key,
        arm: arm.name,
      };
    },
    refresh,
    stop: () => {
      clearInterval(timer);
      thompson?.stop();
    },
  };
}
