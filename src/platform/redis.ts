import { Redis } from 'ioredis';
import type { Config } from '../config/config.js';

/**
 * Redis is optional: losing it degrades, never breaks (docs/architecture.md#redis-outage). Commands
 * fail fast instead of queueing: no offline queue, a short command timeout, no retry, bounded reconnect
 * backoff.
 */
export function createRedis(config: Config['redis'], onError: (error: Error) => void): Redis | null {
  if (!config.url) return null;
  const redis = new Redis(config.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: 1000,
    // A command that loses its connection fails instead of waiting for a reconnect.
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 200, 5000),
    keyPrefix: config.keyPrefix,
  });
  // Without a listener ioredis prints every failed reconnect to stderr.
  redis.on('error', onError);
  return redis;
}

export type RedisState = 'up' | 'down' | 'disabled';

/** Pings Redis; never throws. */
export async function redisState(redis: Redis | null): Promise<RedisState> {
  if (!redis) return 'disabled';
  try {
    return (await redis.ping()) === 'PONG' ? 'up' : 'down';
  } catch {
    return 'down';
  }
}
