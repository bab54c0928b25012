import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../platform/redis.js';
import type { Config } from '../config/config.js';
import type { Viewer } from '../auth/viewer.js';
import { createRateLimitedError } from '../errors/errors.js';
import { createCircuitBreaker, type BreakerState } from '../features/circuitBreaker.js';
import type { Metrics } from '../platform/metrics.js';
import {
  BUDGET_WINDOW_MS,
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
  /** Takes one unit of the key's budget for the action, or throws RATE_LIMITED (429, Retry-After). */
  consume: (action: RateLimitedAction, key: string) => Promise<void>;
  /** What is left of each of a user's write budgets, without consuming. */
  status: (userId: string) => Promise<RateLimitStatus[]>;
  /** The Redis circuit breaker (closed when Redis answers in time). */
  readonly breakerState: BreakerState;
  /** Waits for pending re-syncs of local counts into Redis (tests, shutdown). */
  settled: () => Promise<void>;
}

export type RateLimitSettings = Config['rateLimits'];

export interface RateLimitOptions {
  /**
   * Window length; windows are aligned to multiples of it, so every instance and Redis agree. Budgets
   * listed in BUDGET_WINDOW_MS (src/social/budgets.ts) keep their own length. @default 60000
   */
  windowMs?: number;
  /** Consecutive Redis failures (errors or timeouts) that open the breaker. @default 3 */
  breakerFailures?: number;
  /** How long the open breaker keeps every call off Redis before one probe. @default 2000 */
  breakerOpenMs?: number;
  now?: () => number;
}

/**
 * Whose budget a request spends: the signed-in user; a service caller by its subject; an anonymous
 * caller by its client address (src/server/app.ts: the socket peer, or X-Forwarded-For when the peer
 * is one of TRUSTED_PROXIES).
 */
export function budgetKeyOf(ctx: { viewer: Viewer; clientAddress?: string | null }): string {
  const { viewer } = ctx;
  if (viewer.userId !== null) return viewer.userId;
  if (viewer.role === 'service') return `service:${viewer.subject}`;
  return `ip:${ctx.clientAddress ?? 'unknown'}`;
}

/**
 * One atomic step on a window's counter. KEYS: counter, epoch (the key's, for the window, expiring with
 * it). ARGV: a new epoch (used when Redis has none: it restarted, was flushed or failed over without
 * it), the epoch this process last synced the counter in, what this
 * process allowed since then without Redis (unsynced), everything this process allowed or holds in the
 * window, the points wanted (0 = sync only), the limit, the counter's TTL in ms, the fewest points
 * worth granting (a lease takes what is left, down to this; a single request wants 1 of 1), the epoch's
 * TTL in ms (a window longer than the counter's).
 * When the epoch changed, Redis lost the counter: the process adds back everything it allowed in the
 * window, not only the unsynced part. Returns [points granted, counter, epoch].
 */
const consumeScript = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch, 'PX', ARGV[9])
end
local add = tonumber(ARGV[3])
if epoch ~= ARGV[2] then add = tonumber(ARGV[4]) end
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if add > 0 then
  count = redis.call('INCRBY', KEYS[1], add)
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
end
local grant = math.min(tonumber(ARGV[5]), tonumber(ARGV[6]) - count)
if grant < tonumber(ARGV[8]) or grant < 1 then
  grant = 0
else
  count = redis.call('INCRBY', KEYS[1], grant)
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
end
return {grant, count, epoch}`;

/**
 * The read budgets, spent on every query: their points are leased from Redis a few at a time and spent
 * locally, so most reads cost no Redis round trip. A lease is what Redis grants atomically against the
 * shared counter, so every instance together still allows at most the limit; what a lease holds unused
 * at the window's end is lost (the client may be refused up to that many points early). Leases shrink as
 * the budget runs out: LEASE_SHARE of what is left per expected instance, at most LEASE_MAX, down to one
 * point (exact) near the limit. Write budgets are small and exact: one call per request.
 */
const LEASED_ACTIONS: ReadonlySet<RateLimitedAction> = new Set(['read', 'feed']);
const LEASE_MAX = 16;
const LEASE_SHARE = 1 / 8;

interface LocalCount {
  window: number;
  /** The length of the entry's windows (ms): the default, or its budget's own (BUDGET_WINDOW_MS). */
  windowMs: number;
  /** Everything this process allowed for the key in the window (by Redis or on its own). */
  total: number;
  /** Allowed on its own (Redis down, slow or breaker open) and not yet added to Redis. */
  unsynced: number;
  /** The Redis epoch the counter was last synced in ('' = never). */
  epoch: string;
  /** Points Redis granted to this process (a lease) and not spent yet. */
  leased: number;
  /** The counter as Redis last reported it (0 before any call). */
  lastCount: number;
  /** The lease call in flight, if any: concurrent requests wait for it rather than each calling Redis. */
  leasing: Promise<unknown> | null;
}

type RedisWithScript = RedisClient & {
  lodestarRateLimit: (...args: (string | number)[]) => Promise<[number, number, string]>;
};

/**
 * Per-key, per-action limits over aligned fixed windows (one minute; exports an hour, BUDGET_WINDOW_MS),
 * kept in Redis so every gateway shares them; the guarantee is written down in docs/security.md ("Rate
 * limits during Redis trouble").
 *
 * - Redis answers in time: it decides, counting everything every process has told it.
 * - Redis is down, slow (a call past REDIS_COMMAND_TIMEOUT_MS) or the breaker is open: this process
 *   decides alone with a budget of ⌊limit / RATE_LIMIT_EXPECTED_INSTANCES⌋ (at least 1), counted against
 *   everything it allowed in the window, Redis-decided requests included — so a slow call at the limit
 *   is refused, and N instances on their own stay within N × ⌊limit / N⌋ ≤ limit.
 * - What a process allowed on its own is added to Redis on its next successful call; if Redis lost its
 *   counters (a restart: the epoch key is gone), each process adds back everything it allowed in the
 *   window, so a restarted Redis does not hand out a fresh budget.
 * - A breaker (consecutive failures) keeps calls off Redis while it is away, so writes do not each wait
 *   for a timeout.
 */
export function createRateLimits(
  deps: {
    redis: RedisClient | null;
    limits: RateLimitSettings;
    metrics: Metrics;
  },
  options: RateLimitOptions = {},
): RateLimits {
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  const breaker = createCircuitBreaker({
    failureThreshold: options.breakerFailures ?? 3,
    openMs: options.breakerOpenMs ?? 2000,
    now,
  });
  const redis = deps.redis as RedisWithScript | null;
  if (redis && typeof redis.lodestarRateLimit !== 'function') {
    redis.defineCommand('lodestarRateLimit', { numberOfKeys: 2, lua: consumeScript });
  }
  const local = new Map<string, LocalCount>();
  const dirty = new Set<string>();
  /** Per window length, the window whose start last swept the local counts. */
  const sweptWindows = new Map<number, number>();
  let syncing: Promise<void> | null = null;

  const limitOf = (action: RateLimitedAction) => deps.limits[action];
  /** What one instance may allow on its own in a window. */
  const localBudget = (action: RateLimitedAction) =>
    Math.max(1, Math.floor(limitOf(action) / deps.limits.expectedInstances));
  /** A budget's window length: the default, or its own (an hour for exports). */
  const windowMsOf = (action: RateLimitedAction) => BUDGET_WINDOW_MS[action] ?? windowMs;
  const windowOf = (action: RateLimitedAction, at: number) => Math.floor(at / windowMsOf(action));
  const windowEnd = (action: RateLimitedAction, window: number) => (window + 1) * windowMsOf(action);
  /**
   * A key's counters and epoch share one hash tag, `{key}`, so on a Redis Cluster they live in one slot:
   * the script touches two keys and `status` reads every write counter of a user in one MGET.
   */
  const counterKey = (action: RateLimitedAction, key: string, window: number) =>
    `rl:v3:{${key}}:${action}:${window}`;
  /**
   * Per key and window, expiring with its counters: on a cluster each master can lose its keys alone.
   * A budget with windows of its own length has epochs of its own (its window numbers count other spans).
   */
  const epochKey = (action: RateLimitedAction, key: string, window: number) => {
    const length = windowMsOf(action);
    return length === windowMs
      ? `rl:v3:{${key}}:${window}:epoch`
      : `rl:v3:{${key}}:${length}ms:${window}:epoch`;
  };

  const localFor = (id: string, action: RateLimitedAction, window: number): LocalCount => {
    const length = windowMsOf(action);
    if (sweptWindows.get(length) !== window) {
      // A new window: the counts of earlier windows of that length are over (a map of the active keys only).
      for (const [k, v] of local) if (v.windowMs === length && v.window < window) local.delete(k);
      for (const k of dirty) if (!local.has(k)) dirty.delete(k);
      sweptWindows.set(length, window);
    }
    let entry = local.get(id);
    if (!entry) {
      entry = {
        window,
        windowMs: length,
        total: 0,
        unsynced: 0,
        epoch: '',
        leased: 0,
        lastCount: 0,
        leasing: null,
      };
      local.set(id, entry);
    }
    return entry;
  };

  /** Redis usable right now: a client, connected, breaker letting calls through. */
  const redisReady = () => redis !== null && redis.status === 'ready' && breaker.allow();

  /** One script call; updates the local entry from what Redis saw. Throws on Redis trouble. */
  const callRedis = async (
    action: RateLimitedAction,
    key: string,
    entry: LocalCount,
    window: number,
    cost: number,
    minimum = cost,
  ): Promise<{ granted: number; count: number }> => {
    if (!redis) throw new Error('no Redis');
    const sentUnsynced = entry.unsynced;
    // Unspent leased points count too: after a Redis restart they must not be spendable uncounted.
    const sentTotal = entry.total + entry.leased;
    let reply: [number, number, string];
    try {
      reply = await redis.lodestarRateLimit(
        counterKey(action, key, window),
        epochKey(action, key, window),
        // A fresh candidate each call: a restarted Redis must get an epoch no process has synced in.
        randomUUID(),
        entry.epoch,
        sentUnsynced,
        sentTotal,
        cost,
        limitOf(action),
        Math.max(1, windowEnd(action, window) - now()),
        Math.min(cost, minimum),
        // The epoch outlives its window's counters by a window, so a gateway whose clock lags never
        // finds the counter without its epoch (and re-adds everything it allowed).
        Math.max(1, windowEnd(action, window) - now()) + windowMsOf(action),
      );
    } catch (error) {
      breaker.failure();
      throw error;
    }
    breaker.success();
    const [granted, count, epoch] = reply;
    // What was added is synced; anything allowed locally meanwhile stays unsynced.
    entry.unsynced = Math.max(0, entry.unsynced - sentUnsynced);
    entry.epoch = String(epoch);
    entry.lastCount = Number(count);
    if (entry.unsynced === 0) dirty.delete(`${action}\u0000${key}`);
    return { granted: Number(granted), count: Number(count) };
  };

  /**
   * Adds counts to Redis without consuming (single flight): after Redis answers again, the counts
   * allowed on their own; after a reconnect (`all`), every count of the window, so a restarted Redis
   * (new epoch) is re-seeded by every instance at once rather than one request at a time.
   */
  const sync = (all: boolean) => {
    if (syncing) {
      if (all) void syncing.then(() => sync(true));
      return;
    }
    const ids = all ? [...local.keys()] : [...dirty];
    if (ids.length === 0) return;
    syncing = (async () => {
      for (let i = 0; i < ids.length; i += 100) {
        if (!redisReady()) return;
        await Promise.all(
          ids.slice(i, i + 100).map(async (id) => {
            const entry = local.get(id);
            const [action, key] = id.split('\u0000') as [RateLimitedAction, string];
            const window = windowOf(action, now());
            if (!entry || entry.window !== window) return;
            await callRedis(action, key, entry, window, 0).catch(() => undefined);
          }),
        );
      }
    })().finally(() => {
      syncing = null;
    });
  };
  // A (re)connect may be to a restarted, empty Redis: re-seed it from this instance's counts.
  redis?.on('ready', () => sync(true));

  const refuse = (action: RateLimitedAction, window: number): never => {
    deps.metrics.rateLimited.inc({ action });
    throw createRateLimitedError(Math.max(1, windowEnd(action, window) - now()), action);
  };

  return {
    get breakerState() {
      return breaker.state;
    },
    settled: async () => {
      while (syncing) await syncing;
    },
    consume: async (action, key) => {
      if (!deps.limits.enabled) return;
      const id = `${action}\u0000${key}`;
      const leases = LEASED_ACTIONS.has(action);
      let window = windowOf(action, now());
      let entry = localFor(id, action, window);
      // A point of this process's lease: Redis counted it when it granted the lease (also while Redis
      // is away now). Requests that arrive while a lease call is in flight wait for it.
      while (leases) {
        if (entry.leased > 0) {
          entry.leased -= 1;
          entry.total += 1;
          return;
        }
        if (entry.leasing === null) break;
        await entry.leasing;
        window = windowOf(action, now());
        entry = localFor(id, action, window);
      }
      if (redisReady()) {
        const want = leases
          ? Math.min(
              LEASE_MAX,
              Math.max(
                1,
                Math.floor(
                  ((limitOf(action) - entry.lastCount) * LEASE_SHARE) / deps.limits.expectedInstances,
                ),
              ),
            )
          : 1;
        let granted: number | null = null;
        const call = callRedis(action, key, entry, window, want, 1);
        if (leases) entry.leasing = call.catch(() => undefined);
        try {
          ({ granted } = await call);
        } catch {
          // Redis failed or timed out: it may or may not have counted this call; decide locally below
          // (if it did count it, the later sync counts it twice: stricter, never looser).
        } finally {
          if (leases) entry.leasing = null;
        }
        if (granted !== null) {
          if (granted === 0) refuse(action, window);
          entry.total += 1;
          entry.leased += granted - 1;
          sync(false);
          return;
        }
      }
      if (entry.total >= localBudget(action)) refuse(action, window);
      entry.total += 1;
      entry.unsynced += 1;
      dirty.add(id);
    },
    status: async (userId) => {
      const at = now();
      const windows = USER_WRITE_ACTIONS.map((action) => windowOf(action, at));
      let counts: (string | null)[] | null = null;
      if (redisReady()) {
        try {
          counts = await redis!.mget(USER_WRITE_ACTIONS.map((a, i) => counterKey(a, userId, windows[i]!)));
          breaker.success();
        } catch {
          breaker.failure();
        }
      }
      return USER_WRITE_ACTIONS.map((action, i) => {
        const window = windows[i]!;
        const limit = limitOf(action);
        const entry = local.get(`${action}\u0000${userId}`);
        const mine = entry && entry.window === window ? entry : null;
        const used = counts
          ? Number(counts[i] ?? 0) + (mine?.unsynced ?? 0)
          : (mine?.total ?? 0) + limit - localBudget(action);
        const resetAt = new Date(windowEnd(action, window));
        return { action, limit, remaining: Math.max(0, Math.min(limit, limit - used)), resetAt };
      });
    },
  };
}
