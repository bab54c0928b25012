import type pg from 'pg';
import { coerceError } from '../errors/errors.js';
import { bucketIndex, emptyBuckets } from '../flags/exposureStats.js';
import type { FlagVariant } from '../flags/flagBucket.js';
import type { Logger } from '../platform/logger.js';
import { isUuid } from '../validation/isUuid.js';

export interface Exposure {
  flag: string;
  variant: FlagVariant;
}

export interface Telemetry {
  /** One latency sample of a named operation ("kernel"); kept in memory until the next flush. */
  recordKernel: (kernel: string, durationMs: number, ok: boolean) => void;
  /**
   * One request's outcome for every flag it was exposed to, folded into per-variant aggregates; a
   * server error is also attributed to the user who made the request (rollouts weigh errors per user).
   */
  recordExposures: (
    exposures: readonly Exposure[],
    durationMs: number,
    ok: boolean,
    userId?: string | null,
  ) => void;
  /** Writes what is pending (two statements at most). */
  flush: () => Promise<void>;
  /** Stops the timer and flushes. */
  close: () => Promise<void>;
}

export interface TelemetryOptions {
  pool: Pick<pg.Pool, 'query'>;
  logger: Logger;
  /** How often pending samples are written. @default 1000 */
  flushMs?: number;
  /** Kernel samples kept while the database is slow or down; beyond this new ones are dropped. @default 20000 */
  maxPending?: number;
  onDropped?: (n: number) => void;
}

/** Kernel latency samples, many rows in one statement. */
const insertKernelSql = `
INSERT INTO kernel_latency (kernel, duration_ms, ok)
SELECT * FROM unnest($1::text[], $2::double precision[], $3::boolean[])`;
/**
 * Flag exposure aggregates; each histogram and the per-user errors travel as comma-separated lists
 * (arrays of arrays must be rectangular).
 */
const insertExposureSql = `
INSERT INTO flag_exposure_stats (flag_key, variant, requests, errors, latency_buckets, error_user_ids, error_user_counts)
SELECT f, v, r, e, string_to_array(b, ',')::integer[], string_to_array(u, ',')::uuid[], string_to_array(c, ',')::integer[]
FROM unnest($1::text[], $2::text[], $3::integer[], $4::integer[], $5::text[], $6::text[], $7::text[]) AS t(f, v, r, e, b, u, c)`;

/**
 * Distinct users whose errors one aggregate attributes per flush; beyond it errors are still counted
 * (unattributed), and so many users already exceed any FLAGS_MIN_AFFECTED_USERS that makes sense.
 */
export const MAX_ERROR_USERS_PER_FLUSH = 1000;

interface Aggregate {
  requests: number;
  errors: number;
  buckets: number[];
  /** Server errors by user id (canonical lower-case uuid). */
  errorUsers: Map<string, number>;
}

/**
 * Batched, asynchronous telemetry for vw_kernel_slos and the flag rollouts: requests only push to
 * memory; a timer writes everything pending in at most two statements per interval, off the request
 * path. A failed write is logged and dropped (telemetry, never user data), so a slow database cannot
 * grow the process without bound.
 */
export function createTelemetry(options: TelemetryOptions): Telemetry {
  const { pool, logger, flushMs = 1000, maxPending = 20_000 } = options;
  let kernels: { kernel: string[]; ms: number[]; ok: boolean[] } = { kernel: [], ms: [], ok: [] };
  let exposures = new Map<string, Aggregate>();
  let flushing: Promise<void> = Promise.resolve();

  const write = async (): Promise<void> => {
    const k = kernels;
    const e = exposures;
    kernels = { kernel: [], ms: [], ok: [] };
    exposures = new Map();
    try {
      if (k.kernel.length > 0) await pool.query(insertKernelSql, [k.kernel, k.ms, k.ok]);
      if (e.size > 0) {
        const keys = [...e.keys()].map((key) => key.split('\u0000') as [string, string]);
        const values = [...e.values()];
        await pool.query(insertExposureSql, [
          keys.map(([flag]) => flag),
          keys.map(([, variant]) => variant),
          values.map((a) => a.requests),
          values.map((a) => a.errors),
          values.map((a) => a.buckets.join(',')),
          values.map((a) => [...a.errorUsers.keys()].join(',')),
          values.map((a) => [...a.errorUsers.values()].join(',')),
        ]);
      }
    } catch (error) {
      options.onDropped?.(k.kernel.length);
      logger.warn(
        { err: coerceError(error), kernelSamples: k.kernel.length, exposureRows: e.size },
        'telemetry write failed; these samples are dropped',
      );
    }
  };
  const flush = () => {
    flushing = flushing.then(write);
    return flushing;
  };
  const timer = setInterval(() => void flush(), flushMs);
  timer.unref();

  return {
    recordKernel: (kernel, durationMs, ok) => {
      if (kernels.kernel.length >= maxPending) {
        options.onDropped?.(1);
        return;
      }
      kernels.kernel.push(kernel);
      kernels.ms.push(Math.max(0, durationMs));
      kernels.ok.push(ok);
    },
    recordExposures: (list, durationMs, ok, userId) => {
      const bucket = bucketIndex(durationMs);
      const errorUser = !ok && userId && isUuid(userId) ? userId.toLowerCase() : null;
      for (const { flag, variant } of list) {
        const key = `${flag}\u0000${variant}`;
        let agg = exposures.get(key);
        if (!agg) {
          agg = { requests: 0, errors: 0, buckets: emptyBuckets(), errorUsers: new Map() };
          exposures.set(key, agg);
        }
        agg.requests += 1;
        if (!ok) agg.errors += 1;
        if (errorUser !== null) {
          const seen = agg.errorUsers.get(errorUser);
          if (seen !== undefined) agg.errorUsers.set(errorUser, seen + 1);
          else if (agg.errorUsers.size < MAX_ERROR_USERS_PER_FLUSH) agg.errorUsers.set(errorUser, 1);
        }
        agg.buckets[bucket] = (agg.buckets[bucket] ?? 0) + 1;
      }
    },
    flush,
    close: async () => {
      clearInterval(timer);
      await flush();
    },
  };
}
