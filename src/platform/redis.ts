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

/**
 * Every key matching `pattern` (a SCAN MATCH glob, without the key prefix), as the client names them
 * (without the prefix: ready for `deleteMany`). SCAN walks the whole keyspace in steps of `count`; on a
 * cluster every master is walked. `onPage` runs after each page (a caller renews a lease there). Throws
 * when the client is not connected or a cluster's masters do not cover every slot, rather than report
 * an empty keyspace it did not see. For rare sweeps (an erasure), not for request paths.
 */
export async function scanKeys(
  client: RedisClient,
  pattern: string,
  options: { keyPrefix: string; count?: number; onPage?: () => Promise<void> },
): Promise<string[]> {
  const { keyPrefix, count = 1000, onPage } = options;
  if (client.status !== 'ready') throw new Error(`Redis is not connected (${client.status}); cannot scan`);
  // ioredis prefixes the keys of commands, never a SCAN pattern, and SCAN returns the stored names.
  const match = keyPrefix.replace(/[*?[\]\\]/g, '\\$&') + pattern;
  let nodes: Redis[] = [client as Redis];
  if (client instanceof Cluster) {
    nodes = client.nodes('master');
    const covered = client.slots.filter((owners) => (owners?.length ?? 0) > 0).length;
    if (nodes.length === 0 || covered < 16_384) {
      throw new Error(`the Redis Cluster's masters cover ${covered} of 16384 slots; cannot scan`);
    }
  }
  const found: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      cursor = next;
      for (const key of keys) if (key.startsWith(keyPrefix)) found.push(key.slice(keyPrefix.length));
      await onPage?.();
    } while (cursor !== '0');
  }
  return [...new Set(found)];
}
