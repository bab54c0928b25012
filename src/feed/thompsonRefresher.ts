import type { ServiceDb } from '../db/service.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import {
  posteriorsFromCounts,
  resolvePriorOptions,
  type PosteriorSnapshot,
  type PriorOptions,
} from './policies/posteriors.js';
import { createThompsonPolicy } from './policies/thompson.js';
import type { FeedPolicy, FeedSource } from './policies/types.js';
import { armStatsSql } from './sql.js';

export interface RefreshingThompson {
  policy: FeedPolicy;
  refresh: () => Promise<void>;
  stop: () => void;
}

/**
 * Thompson sampling whose Beta posteriors come from learning-event rewards, refreshed on a timer (never
 * per request): every page samples the latest snapshot. Until the first refresh, arms use the priors
 * alone: the cold start, where SIMILAR takes most slots (see defaultExploitPrior).
 */
export function createRefreshingThompson(options: {
  service: ServiceDb;
  logger: Logger;
  windowDays: number;
  intervalMs: number;
  /**
   * Count only impressions shown at this place of their page or later (FEED_EXPLOIT_TOP_SLOTS): above it a
   * page shows ranked items only, so the arms compete below it, and the top's position advantage would
   * credit SIMILAR alone. @default 0
   */
  fromPlace?: number;
  /** The same priors as `npm run sim:bandit` by default, so the simulation speaks for the gateway. */
  priors?: PriorOptions;
}): RefreshingThompson {
  const priors = resolvePriorOptions(options.priors);
  let snapshot: PosteriorSnapshot = posteriorsFromCounts([], priors);
  const refresh = async () => {
    const rows = await options.service.query<{
      source: FeedSource;
      category_id: number;
      impressions: number;
      rewards: number;
    }>(armStatsSql, [options.windowDays, options.fromPlace ?? 0]);
    snapshot = posteriorsFromCounts(
      rows.map((r) => ({
        source: r.source,
        categoryId: r.category_id,
        impressions: r.impressions,
        rewards: Math.min(r.rewards, r.impressions),
      })),
      priors,
    );
  };
  const timer = setInterval(() => {
    refresh().catch((error: unknown) =>
      options.logger.warn(
        { err: coerceError(error) },
        'could not refresh Thompson posteriors; keeping the last',
      ),
    );
  }, options.intervalMs);
  timer.unref();
  return {
    policy: {
      name: 'thompson',
      fillPage: (input, rng) => createThompsonPolicy({ posteriors: snapshot }).fillPage(input, rng),
    },
    refresh,
    stop: () => clearInterval(timer),
  };
}
