import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { Config } from '../config/config.js';
import type { Context } from '../context.js';
import { createRateLimitedError } from '../errors/errors.js';
import type { Metrics } from '../server/metrics.js';
import {
  RATE_LIMITED_ACTIONS,
  USER_WRITE_ACTIONS,
  type RateLimitedAction,
  type UserWriteAction,
} from './budgets.js';

export { RATE_LIMITED_ACTIONS, type RateLimitedAction } from './budgets.js';

export interface RateLimitStatus {
  action: UserWriteAction;
  limit: number;
  remaining: number;
  resetAt: Date;
}

export interface RateLimits {
  /** Takes one unit of the user's budget for the action, or throws RATE_LIMITED (429, Retry-After). */
  consume: (action: RateLimitedAction, userId: string) => Promise<void>;
  /** What is left of each budget, without consuming. */
  status: (userId: string) => Promise<RateLimitStatus[]>;
}

const WINDOW_SEC = 60;

/**
 * Whose budget a request spends: the signed-in user; a service caller by its subject; an anonymous
 * caller by its client address (src/server/app.ts: the socket peer, or X-Forwarded-For when the peer
 * is one of TRUSTED_PROXIES).
 */
export function budgetKeyOf(ctx: Pick<Context, 'viewer' | 'clientAddress'>): string {
  const { viewer } = ctx;
  if (viewer.userId !== null) return viewer.userId;
  if (viewer.role === 'service') return `service:${viewer.subject}`;
  return `ip:${ctx.clientAddress ?? 'unknown'}`;
}

/**
 * Per-user, per-action limits over a fixed one-minute window, kept in Redis so every gateway instance
 * shares them (rate-limiter-flexible, atomic in Redis). When Redis is down or slow the insurance limiter
 * — the same limits in this process's memory — decides, so writes are never unlimited.
 */
export function createRateLimits(deps: {
  redis: Redis | null;
  limits: Config['rateLimits'];
  metrics: Metrics;
}): RateLimits {
  const limiters = new Map<RateLimitedAction, RateLimiterAbstract>();
  for (const action of RATE_LIMITED_ACTIONS) {
    const points = deps.limits[action];
    const memory = new RateLimiterMemory({ points, duration: WINDOW_SEC, keyPrefix: `rl:${action}` });
    limiters.set(
      action,
      deps.redis
        ? new RateLimiterRedis({
            storeClient: deps.redis,
            points,
            duration: WINDOW_SEC,
            keyPrefix: `rl:v1:${action}`,
            rejectIfRedisNotReady: true,
            insuranceLimiter: memory,
          })
        : memory,
    );
  }
  const limiterFor = (action: RateLimitedAction): RateLimiterAbstract => {
    const limiter = limiters.get(action);
    if (!limiter) throw new Error(`no rate limiter for ${action}`);
    return limiter;
  };
  return {
    consume: async (action, userId) => {
      if (!deps.limits.enabled) return;
      try {
        await limiterFor(action).consume(userId, 1);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        deps.metrics.rateLimited.inc({ action });
        throw createRateLimitedError(rejection.msBeforeNext, action);
      }
    },
    status: async (userId) =>
      Promise.all(
        USER_WRITE_ACTIONS.map(async (action) => {
          const limit = deps.limits[action];
          const res = await limiterFor(action).get(userId);
          return {
            action,
            limit,
            remaining: res ? Math.max(0, limit - res.consumedPoints) : limit,
            resetAt: new Date(Date.now() + (res?.msBeforeNext ?? 0)),
          };
        }),
      ),
  };
}
