import { setBounded } from '../platform/boundedMap.js';
import type { RedisClient } from '../platform/redis.js';
import { lsnHex, parseLsnHex } from './replicas.js';

/**
 * Read-your-writes with replicas (docs/architecture.md#read-replicas): after a viewer's mutation, the
 * primary's WAL position (its "fence") is kept for them, in Redis so every gateway sees it and in this
 * process; their reads then go only to a replica that has replayed the fence, else to the primary. A
 * fence lives REPLICA_MAX_LAG_MS + 3 × REPLICA_CHECK_MS: past that, every replica that takes reads has
 * replayed it anyway.
 */
export interface ReadFences {
  /**
   * The viewer's fence: null when they wrote nothing recently; 'unknown' when Redis could not say (their
   * reads then go to the primary: another gateway may have taken their write).
   */
  get(userId: string): Promise<bigint | null | 'unknown'>;
  /** Raises the viewer's fence to `lsn` (never lowers it). Never throws. */
  raise(userId: string, lsn: bigint): Promise<void>;
}

/** SET the fence unless a higher one is there; either way it lives for ARGV[2] ms from now. */
const raiseScript = `
local current = redis.call('GET', KEYS[1])
if current and current >= ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

const LOCAL_MAX = 50_000;

export function createReadFences(deps: {
  redis: RedisClient | null;
  ttlMs: number;
  onError: (error: unknown) => void;
}): ReadFences {
  const { redis, ttlMs, onError } = deps;
  const local = new Map<string, { lsn: bigint; until: number }>();
  // One key per viewer; the hash tag keeps it one slot on a cluster (it is the only key of its command).
  const keyOf = (userId: string) => `ryw:v1:{${userId}}`;
  const localOf = (userId: string): bigint | null => {
    const entry = local.get(userId);
    if (!entry) return null;
    if (entry.until > Date.now()) return entry.lsn;
    local.delete(userId);
    return null;
  };
  return {
    async get(userId) {
      const mine = localOf(userId);
      // Without Redis (not configured) only this process's fences exist: documented as per gateway.
      if (!redis) return mine;
      if (redis.status !== 'ready') return 'unknown';
      try {
        const raw = await redis.get(keyOf(userId));
        const theirs = raw === null ? null : parseLsnHex(raw);
        if (theirs === null) return mine;
        return mine === null || theirs > mine ? theirs : mine;
      } catch (error) {
        onError(error);
        return 'unknown';
      }
    },
    async raise(userId, lsn) {
      const mine = localOf(userId);
      if (mine === null || lsn > mine)
        setBounded(local, userId, { lsn, until: Date.now() + ttlMs }, LOCAL_MAX);
      if (!redis || redis.status !== 'ready') return;
      try {
        await redis.eval(raiseScript, 1, keyOf(userId), lsnHex(lsn), String(ttlMs));
      } catch (error) {
        onError(error);
      }
    },
  };
}
