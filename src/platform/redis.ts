import { Cluster, Redis } from 'ioredis';
import type { Config } from '../config/config.js';

/** One Redis server or a Redis Cluster: every Redis use takes either (docs/architecture.md#redis-cluster). */
export type RedisClient = Redis | Cluster;

/**
 * Redis is optional: losing it degrades, never breaks (docs/architecture.md#redis-outage). Commands
 * fail fast instead of queueing: no offline queue, a short command timeout, no retry, bounded reconnect
 * backoff. With `config.cluster` it is ioredis' Cluster client, which fails as fast: a command to a node
 * that is gone is not retried on another (no failover or cluster-down retry delays), so it costs at most
 * the command timeout and the callers' breakers take over until the cluster has promoted a replica.
 */
export function createRedis(config: Config['redis'], onError: (error: Error) => void): RedisClient | null {
  const nodeOptions = {
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: 1000,
    // A command that loses its connection fails instead of waiting for a reconnect.
    maxRetriesPerRequest: 0,
  };
  let client: RedisClient;
  if (config.cluster) {
    const { nodes, username, password, tls } = config.cluster;
    client = new Cluster(nodes, {
      lazyConnect: true,
      enableOfflineQueue: false,
      keyPrefix: config.keyPrefix,
      // Commands issued in one tick go out as one pipeline per node: a batch of keys spread over the
      // slots is one round trip to each master, sent at once.
      enableAutoPipelining: true,
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      retryDelayOnTryAgain: 0,
      maxRedirections: 3,
      // After a failover the new layout is learned from the next MOVED reply or within this interval.
      slotsRefreshInterval: 2000,
      slotsRefreshTimeout: 1000,
      clusterRetryStrategy: (times) => Math.min(times * 200, 5000),
      redisOptions: { ...nodeOptions, username, password, ...(tls ? { tls: {} } : {}) },
      // With TLS, connect by the names given (and announced), not by the addresses they resolve to, so
      // the certificate is checked against the name it was issued for (managed clusters announce names).
      ...(tls
        ? {
            dnsLookup: (address: string, callback: (error: null, address: string) => void) =>
              callback(null, address),
          }
        : {}),
    });
  } else if (config.url) {
    client = new Redis(config.url, {
      ...nodeOptions,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: (times) => Math.min(times * 200, 5000),
      keyPrefix: config.keyPrefix,
    });
  } else {
    return null;
  }
  // Without a listener ioredis prints every failed reconnect to stderr.
  client.on('error', onError);
  return client;
}

/**
 * Values of many keys in order, and how many reads failed (their values are null, as misses). One MGET on
 * a single server (it fails or succeeds whole); on a cluster, whose keys live in different slots (MGET
 * across slots fails with CROSSSLOT), one GET per key, auto-pipelined into one write per node, so a master
 * that is down costs only its own keys. Rejects only when every read failed.
 */
export async function getMany(
  client: RedisClient,
  keys: readonly string[],
): Promise<{ values: (string | null)[]; failed: number }> {
  if (keys.length === 0) return { values: [], failed: 0 };
  if (!(client instanceof Cluster)) return { values: await client.mget(...keys), failed: 0 };
  const results = await Promise.allSettled(keys.map((key) => client.get(key)));
  const failed = results.filter((r) => r.status === 'rejected').length;
  if (failed === results.length) throw (results[0] as PromiseRejectedResult).reason;
  return { values: results.map((r) => (r.status === 'fulfilled' ? r.value : null)), failed };
}

/** Deletes many keys: one DEL on a single server, one per key (auto-pipelined per node) on a cluster. */
export async function deleteMany(client: RedisClient, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  if (client instanceof Cluster) await Promise.all(keys.map((key) => client.del(key)));
  else await client.del(...keys);
}

/**
 * SET key value PX ttl for each entry: one pipeline on a single server, auto-pipelined per node on a
 * cluster. Never rejects: resolves to how many writes failed (timed-out commands included).
 */
export async function setManyPx(
  client: RedisClient,
  entries: readonly { key: string; value: string; ttlMs: number }[],
): Promise<number> {
  if (entries.length === 0) return 0;
  if (client instanceof Cluster) {
    const results = await Promise.allSettled(
      entries.map(({ key, value, ttlMs }) => client.set(key, value, 'PX', ttlMs)),
    );
    return results.filter((r) => r.status === 'rejected').length;
  }
  const pipeline = client.pipeline();
  for (const { key, value, ttlMs } of entries) pipeline.set(key, value, 'PX', ttlMs);
  try {
    // ioredis reports timed-out pipeline commands in the results, not by rejecting.
    const results = await pipeline.exec();
    return results?.filter(([error]) => error).length ?? entries.length;
  } catch {
    return entries.length;
  }
}

/**
 * One EVAL of `script` per key (each touches only its key, so any slot will do): one pipeline on a single
 * server, auto-pipelined per node on a cluster. Never rejects: resolves to how many calls failed.
 */
export async function evalPerKey(
  client: RedisClient,
  script: string,
  calls: readonly { key: string; args: readonly (string | number)[] }[],
): Promise<number> {
  if (calls.length === 0) return 0;
  if (client instanceof Cluster) {
    const results = await Promise.allSettled(
      calls.map(({ key, args }) => client.eval(script, 1, key, ...args)),
    );
    return results.filter((r) => r.status === 'rejected').length;
  }
  const pipeline = client.pipeline();
  for (const { key, args } of calls) pipeline.eval(script, 1, key, ...args);
  try {
    const results = await pipeline.exec();
    return results?.filter(([error]) => error).length ?? calls.length;
  } catch {
    return calls.length;
  }
}

export type RedisState = 'up' | 'down' | 'disabled';

/**
 * Pings Redis; never throws, never waits for a reconnect. On a cluster it pings one node: a master whose
 * slots have no server yet (mid-failover) is not seen here, but in the breakers' state and metrics.
 */
export async function redisState(redis: RedisClient | null): Promise<RedisState> {
  if (!redis) return 'disabled';
  // Not connected (or, on a cluster, no slot map yet): a command would wait for the next reconnect.
  if (redis.status !== 'ready') return 'down';
  try {
    return (await redis.ping()) === 'PONG' ? 'up' : 'down';
  } catch {
    return 'down';
  }
}
