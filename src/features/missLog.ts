import type { Logger } from '../platform/logger.js';

/** Why a lookup did not ask Redis: not configured, not connected, breaker open, or the command failed. */
export type Bypass = 'disabled' | 'unavailable' | 'breaker_open' | 'error';

const MISS_LOG_INTERVAL_MS = 10_000;

export interface MissLog {
  /** Counts keys that were computed from Postgres because Redis could not be used. */
  note(keys: number, reason: Exclude<Bypass, 'disabled'>): void;
  /** Redis answered again: reports what is still held back at once. */
  recovered(): void;
}

/**
 * feature_cache_miss at warn level: the first bypass is logged at once, later ones are summed into at
 * most one line per interval (a timer flushes a held-back sum), and recovery reports the rest, so every
 * bypassed key is counted exactly once without one line per request.
 */
export function createMissLog(logger: Logger): MissLog {
  let pending = { keys: 0, reasons: {} as Partial<Record<Bypass, number>>, since: 0 };
  let lastLog = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  const flush = (recovered: boolean) => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.keys === 0) return;
    lastLog = Date.now();
    logger.warn(
      {
        event: 'feature_cache_miss',
        keys: pending.keys,
        reasons: pending.reasons,
        sinceMs: Date.now() - pending.since,
        ...(recovered ? { recovered: true } : {}),
      },
      recovered
        ? 'feature_cache_miss: Redis is back; features were computed from Postgres meanwhile'
        : 'feature_cache_miss: Redis unavailable, features computed from Postgres',
    );
    pending = { keys: 0, reasons: {}, since: 0 };
  };
  return {
    note(keys, reason) {
      if (pending.keys === 0) pending.since = Date.now();
      pending.keys += keys;
      pending.reasons[reason] = (pending.reasons[reason] ?? 0) + keys;
      const wait = MISS_LOG_INTERVAL_MS - (Date.now() - lastLog);
      if (wait <= 0) flush(false);
      else timer ??= setTimeout(() => flush(false), wait).unref();
    },
    recovered: () => flush(true),
  };
}
