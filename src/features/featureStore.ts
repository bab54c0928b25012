import { deleteMany, evalPerKey, getMany, setManyPx, type RedisClient } from '../platform/redis.js';
import { lsnHex, parseLsnHex } from '../db/replicas.js';
import type { ServiceDb } from '../db/service.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { createCircuitBreaker, type BreakerState } from './circuitBreaker.js';
import { createMissLog, type Bypass } from './missLog.js';
import type { FeatureKind } from './featureKinds.js';
import { featureKeysOf } from './featureKinds.js';

export interface FeatureStoreOptions {
  /** Base TTL of a cached feature. @default 3600 */
  ttlSec: number;
  /** TTL = ttlSec × uniform(1 − jitter, 1 + jitter), so keys written together do not expire together. @default 0.1 */
  ttlJitter: number;
  /** Probabilistic early refresh (XFetch) strength; 0 turns it off. @default 1 */
  earlyRefreshBeta: number;
  /** Consecutive Redis failures that open the breaker. @default 3 */
  breakerFailures: number;
  /** How long the open breaker keeps every request off Redis before one probe. @default 2000 */
  breakerOpenMs: number;
}

export interface FeatureStore {
  /**
   * Features for ids in order (null = no such entity): one MGET (on a cluster, one GET per key sent as one
   * pipeline per node), one SQL statement for the misses. `via`: the request's read route (a replica, or
   * the primary for a viewer who just wrote), used for misses no invalidation fenced.
   */
  load<Id, F>(kind: FeatureKind<Id, F>, ids: readonly Id[], via?: ServiceDb): Promise<(F | null)[]>;
  /** Drops the cached features a write made stale. Never throws; while Redis is down the TTL bounds staleness. */
  invalidate(ids: { users?: readonly string[]; listings?: readonly number[] }): Promise<void>;
  readonly breakerState: BreakerState;
  /** Resolves once background write-backs and refreshes have finished (tests, shutdown). */
  settled(): Promise<void>;
}

/** What is stored under a key: the features, when they expire (ms) and how long they took to compute (ms). */
interface Entry<F> {
  exp: number;
  d: number;
  f: F;
}

/**
 * What an invalidation leaves with read replicas (instead of deleting the key): the primary's WAL position
 * after the write, so the next computation runs where that write is visible (a replica that has replayed
 * it, else the primary) and never caches what a lagging replica still shows.
 */
interface Tombstone {
  fence: string;
}

/** The value an invalidation at WAL position `fence` leaves under a feature key. */
export const tombstoneOf = (fence: bigint): string =>
  JSON.stringify({ fence: lsnHex(fence) } satisfies Tombstone);

/**
 * Write-back of a value computed on a replica that had replayed up to ARGV[3]: skipped when the key
 * holds a tombstone of a later write (another process invalidated it while the computation ran).
 */
const writeBackScript = `
local current = redis.call('GET', KEYS[1])
if current then
  local fence = string.match(current, '^{"fence":"(%x+)"}$')
  if fence and fence > ARGV[3] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** A cached entry, a tombstone, or null for anything unreadable (treated as a miss and overwritten). */
function parseEntry<F>(raw: string): Entry<F> | Tombstone | null {
  try {
    const entry = JSON.parse(raw) as Partial<Entry<F>> & Partial<Tombstone>;
    if (typeof entry.fence === 'string' && /^[0-9a-f]{1,16}$/.test(entry.fence))
      return { fence: entry.fence };
    return typeof entry.exp === 'number' && typeof entry.d === 'number' && entry.f !== undefined
      ? (entry as Entry<F>)
      : null;
  } catch {
    return null;
  }
}

/** Where computations run with read replicas (src/db/replicas.ts): a replica that has replayed a fence. */
export interface FeatureReads {
  pick(fence: bigint | null): ServiceDb | null;
  /** What a replica's service path had replayed at its last check; null for the primary's. */
  replayedBy(service: ServiceDb): bigint | null;
  currentLsn(): Promise<bigint>;
  /** How long a tombstone lives: past it, every replica that takes reads has replayed its write. */
  fenceTtlMs: number;
}

const breakerGauge: Record<BreakerState, number> = { closed: 0, halfOpen: 1, open: 2 };

/**
 * The feature store: Redis in front of the SQL feature functions. Redis is optional and never waited on
 * when it is known to be down (no client, not connected, or breaker open); a slow Redis costs at most one
 * command timeout per batch until the breaker opens. Concurrent misses of one key in this process share one
 * computation. Write-backs run in the background: a client never waits for the cache to be filled.
 */
export function createFeatureStore(deps: {
  redis: RedisClient | null;
  service: ServiceDb;
  options: FeatureStoreOptions;
  metrics: Metrics;
  logger: Logger;
  /** With read replicas: computations go to one, invalidations leave tombstones (Tombstone). */
  reads?: FeatureReads | null;
}): FeatureStore {
  const { redis, service, options, metrics, logger } = deps;
  const reads = deps.reads ?? null;
  const breaker = createCircuitBreaker({
    failureThreshold: options.breakerFailures,
    openMs: options.breakerOpenMs,
    onStateChange: (state) => {
      metrics.featureBreakerState.set(breakerGauge[state]);
      logger.warn({ event: 'feature_cache_breaker', state }, `feature cache breaker ${state}`);
    },
  });
  metrics.featureBreakerState.set(0);
  const inflight = new Map<string, Promise<unknown>>();
  /** When each key was last invalidated here: a computation that started before must not cache its result. */
  const invalidatedAt = new Map<string, number>();
  const background = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    background.add(work);
    void work.finally(() => background.delete(work));
  };

  const missLog = createMissLog(logger);
  const noteBypass = (kind: string, keys: number, reason: Bypass) => {
    metrics.featureLookups.inc({ kind, result: 'bypass' }, keys);
    // Running without Redis by configuration is announced once at start, not warned about per request.
    if (reason !== 'disabled') missLog.note(keys, reason);
  };

  const usable = (): Bypass | null => {
    if (!redis) return 'disabled';
    if (redis.status !== 'ready') return 'unavailable';
    return breaker.allow() ? null : 'breaker_open';
  };

  async function read(kind: string, keys: string[]): Promise<(string | null)[] | null> {
    const blocked = usable();
    if (blocked || !redis) {
      noteBypass(kind, keys.length, blocked ?? 'disabled');
      return null;
    }
    try {
      const { values, failed } = await getMany(redis, keys);
      if (failed > 0) {
        // Part of a cluster failed (a master is down): its keys count as misses, the rest are used.
        breaker.failure();
        metrics.featureErrors.inc({ op: 'mget' });
        missLog.note(failed, 'error');
      } else {
        breaker.success();
        missLog.recovered();
      }
      return values;
    } catch (error) {
      breaker.failure();
      metrics.featureErrors.inc({ op: 'mget' });
      logger.debug({ err: coerceError(error) }, 'feature cache read failed');
      noteBypass(kind, keys.length, 'error');
      return null;
    }
  }

  function writeBack(
    entries: { key: string; value: unknown; computeMs: number; startedAt: number }[],
    seen: bigint | null,
  ) {
    if (!redis || entries.length === 0 || redis.status !== 'ready' || breaker.state !== 'closed') return;
    const writes: { key: string; value: string; ttlMs: number }[] = [];
    for (const { key, value, computeMs, startedAt } of entries) {
      if ((invalidatedAt.get(key) ?? -Infinity) >= startedAt) continue;
      const jitter = 1 - options.ttlJitter + 2 * options.ttlJitter * Math.random();
      const ttlMs = Math.round(options.ttlSec * 1000 * jitter);
      const entry: Entry<unknown> = { exp: Date.now() + ttlMs, d: computeMs, f: value };
      writes.push({ key, value: JSON.stringify(entry), ttlMs });
    }
    if (writes.length === 0) return;
    // Computed on a replica: never over a tombstone of a write it had not replayed (writeBackScript).
    const stored =
      seen === null
        ? setManyPx(redis, writes)
        : evalPerKey(
            redis,
            writeBackScript,
            writes.map(({ key, value, ttlMs }) => ({ key, args: [value, ttlMs, lsnHex(seen)] })),
          );
    track(
      stored.then((failed) => {
        if (failed > 0) {
          breaker.failure();
          metrics.featureErrors.inc({ op: 'write' }, failed);
        }
      }),
    );
  }

  /**
   * Computes ids in one statement, shared with any later request for the same keys until it settles: on a
   * replica that has replayed `fence` (the newest write invalidating one of them) if there is one, else
   * on the primary.
   */
  function compute<Id, F>(
    kind: FeatureKind<Id, F>,
    ids: Id[],
    fence: bigint | null,
    via: ServiceDb | undefined,
  ): Map<Id, Promise<F | null>> {
    const startedAt = Date.now();
    const on = fence === null && via ? via : (reads?.pick(fence) ?? service);
    const seen = reads?.replayedBy(on) ?? null;
    const batch = kind.compute(on, ids).then((found) => {
      const computeMs = Date.now() - startedAt;
      metrics.featureComputed.inc({ kind: kind.name }, ids.length);
      writeBack(
        [...found].map(([id, value]) => ({ key: kind.keyOf(id), value, computeMs, startedAt })),
        seen,
      );
      return found;
    });
    const out = new Map<Id, Promise<F | null>>();
    for (const id of ids) {
      const key = kind.keyOf(id);
      const one = batch.then((found) => found.get(id) ?? null);
      inflight.set(key, one);
      void one.then(
        () => inflight.delete(key),
        () => inflight.delete(key),
      );
      out.set(id, one);
    }
    return out;
  }

  return {
    get breakerState() {
      return breaker.state;
    },
    async load<Id, F>(kind: FeatureKind<Id, F>, ids: readonly Id[], via?: ServiceDb): Promise<(F | null)[]> {
      metrics.featureBatchSize.observe({ kind: kind.name }, ids.length);
      const keys = ids.map(kind.keyOf);
      const cached = await read(kind.name, keys);
      const results = new Array<Promise<F | null> | F | null>(ids.length);
      const toCompute: Id[] = [];
      const refresh: Id[] = [];
      let fence: bigint | null = null;
      const now = Date.now();
      ids.forEach((id, i) => {
        const raw = cached?.[i];
        let entry = raw ? parseEntry<F>(raw) : null;
        if (entry && 'fence' in entry) {
          const at = parseLsnHex(entry.fence);
          if (fence === null || at > fence) fence = at;
          entry = null;
        }
        if (entry) {
          metrics.featureLookups.inc({ kind: kind.name, result: 'hit' });
          results[i] = entry.f;
          // XFetch: the closer to expiry (and the slower to compute), the likelier an early refresh.
          const early = now - entry.d * options.earlyRefreshBeta * Math.log(Math.random()) >= entry.exp;
          if (options.earlyRefreshBeta > 0 && early && !inflight.has(keys[i]!)) refresh.push(id);
          return;
        }
        if (cached) metrics.featureLookups.inc({ kind: kind.name, result: 'miss' });
        const shared = inflight.get(keys[i]!) as Promise<F | null> | undefined;
        if (shared) results[i] = shared;
        else toCompute.push(id);
      });
      if (toCompute.length > 0) {
        const computed = compute(kind, toCompute, fence, via);
        ids.forEach((id, i) => {
          const mine = computed.get(id);
          if (mine && results[i] === undefined) results[i] = mine;
        });
      }
      if (refresh.length > 0) {
        const refreshing = compute(kind, refresh, null, undefined);
        track(Promise.allSettled(refreshing.values()));
      }
      return Promise.all(results.map(async (result) => result));
    },
    async invalidate(ids) {
      const keys = featureKeysOf(ids);
      if (keys.length === 0) return;
      const now = Date.now();
      for (const key of keys) invalidatedAt.set(key, now);
      // Forget old marks: only computations still running can be affected.
      for (const [key, at] of invalidatedAt) if (now - at > 60_000) invalidatedAt.delete(key);
      if (!redis || usable() !== null) return;
      // With replicas, tombstones rather than deletions: the next computation must see this write
      // (FeatureReads). The primary unreachable: the write did not commit either; deleting will do.
      const fence = reads ? await reads.currentLsn().catch(() => null) : null;
      try {
        if (reads && fence !== null) {
          const value = tombstoneOf(fence);
          const failed = await setManyPx(
            redis,
            keys.map((key) => ({ key, value, ttlMs: reads.fenceTtlMs })),
          );
          if (failed > 0) throw new Error(`${failed} of ${keys.length} tombstones not written`);
        } else {
          await deleteMany(redis, keys);
        }
        breaker.success();
      } catch (error) {
        breaker.failure();
        metrics.featureErrors.inc({ op: 'invalidate' });
        logger.warn(
          { err: coerceError(error), keys: keys.length },
          'feature cache invalidation failed; TTL bounds staleness',
        );
      }
    },
    async settled() {
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  };
}

/**
 * What the cache holds for one id right now, computing and refreshing nothing (the privacy export shows
 * what is stored): the features and when they expire, or null when nothing usable is cached (no entry,
 * an invalidation's tombstone, an unreadable value). Throws when Redis is absent, not connected or fails.
 */
export async function readCachedFeatures<Id, F>(
  redis: RedisClient | null,
  kind: FeatureKind<Id, F>,
  id: Id,
): Promise<{ features: F; expiresAt: Date } | null> {
  if (!redis) throw new Error('Redis is not configured');
  if (redis.status !== 'ready') throw new Error('Redis is not connected');
  const raw = await redis.get(kind.keyOf(id));
  const entry = raw === null ? null : parseEntry<F>(raw);
  return entry && !('fence' in entry) ? { features: entry.f, expiresAt: new Date(entry.exp) } : null;
}
