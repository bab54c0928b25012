import { Redis } from 'ioredis';

/**
 * Counts the commands a gateway sends to Redis through a MONITOR connection: Redis echoes every
 * command it executes, with the client's address. The gateway runs unmodified. Other processes share
 * this Redis (tests run next to the bench), so a command counts only if it touches a key under the
 * bench's prefix, or comes from a client address that has (the gateway's connection), and not from
 * one of the bench's own connections (the one that evicts keys between "uncached" requests).
 */
export interface RedisCommand {
  /** Lower-case command name: mget, set, get… */
  name: string;
  /** Keys and arguments, the bench prefix removed from keys. */
  args: string[];
  /** The client's address, or `lua` for a command a script (EVAL/EVALSHA) ran: not a round trip. */
  source: string;
}

export const SCRIPT_SOURCE = 'lua';

export interface RedisMonitor {
  /** The commands seen since the last take(), oldest first. */
  take: () => RedisCommand[];
  close: () => Promise<void>;
}

export async function startRedisMonitor(
  url: string,
  prefix: string,
  excludeSources: ReadonlySet<string>,
): Promise<RedisMonitor> {
  // monitor() opens a connection of its own (a duplicate of this one, which never connects).
  const connection = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const monitor = await connection.monitor();
  const sources = new Set<string>();
  let seen: RedisCommand[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (excludeSources.has(source)) return;
    const [name = '', ...rest] = args;
    const touchesBench = rest.some((arg) => arg.startsWith(prefix));
    // What a script runs shows as from `lua`, any client's script: it counts only on a bench key.
    const scripted = source === SCRIPT_SOURCE;
    if (touchesBench && !scripted) sources.add(source);
    else if (!touchesBench && (scripted || !sources.has(source))) return;
    seen.push({
      name: name.toLowerCase(),
      args: rest.map((arg) => (arg.startsWith(prefix) ? arg.slice(prefix.length) : arg)),
      source,
    });
  });
  return {
    take: () => {
      const taken = seen;
      seen = [];
      return taken;
    },
    close: async () => {
      monitor.disconnect();
      connection.disconnect();
    },
  };
}

/** The `addr` Redis sees for a connection (CLIENT INFO), to keep the bench's own commands out of a count. */
export async function clientAddress(redis: Redis): Promise<string> {
  const info = String(await redis.call('CLIENT', 'INFO'));
  const addr = /(?:^|\s)addr=(\S+)/.exec(info)?.[1];
  if (!addr) throw new Error(`CLIENT INFO without addr: ${info}`);
  return addr;
}

/** Deletes every key matching `pattern` (full names, prefix included); returns how many there were. */
export async function deleteKeysMatching(url: string, pattern: string): Promise<number> {
  // No keyPrefix here: SCAN does not apply it to its pattern, and DEL would prefix the names again.
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) deleted += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
