import type pg from 'pg';
import { pino } from 'pino';
import type { Viewer } from '../../src/auth/viewer.js';
import { bucketIndex, emptyBuckets } from '../../src/flags/exposureStats.js';
import { createTelemetry } from '../../src/ops/telemetry.js';
import type { InProcess } from './gateway.js';
import { dataOf } from './graphqlResult.js';
import { graphql, type Operation, type ResultOf } from './graphql.js';

/** Feature flag fixtures: the GraphQL documents, exposure traffic, stable user ids. */

export const SAVE_FLAG = graphql(`
  mutation Save($key: String!, $description: String, $baseline: Float, $thresholds: FlagThresholdsInput) {
    saveFlag(key: $key, description: $description, baselineP95Ms: $baseline, thresholds: $thresholds) {
      auditId
      flag {
        key
        description
        rolloutPct
        state
        baselineP95Ms
        thresholds {
          maxErrorRate
          maxP95Multiplier
          maxComplaints
        }
      }
    }
  }
`);
/** What every rollout change answers: the step it came from, whether it moved, the flag now. */
const ROLLOUT_CHANGE = graphql(`
  fragment RolloutChange on FlagRolloutResult {
    previousRolloutPct
    changed
    flag {
      key
      rolloutPct
      state
    }
  }
`);
export const ADVANCE = graphql(
  `
    mutation Advance($key: String!, $reason: String) {
      advanceRollout(key: $key, reason: $reason) {
        ...RolloutChange
      }
    }
  `,
  [ROLLOUT_CHANGE],
);
export const SET_ROLLOUT = graphql(
  `
    mutation Set($key: String!, $pct: Int!, $reason: String) {
      setRollout(key: $key, rolloutPct: $pct, reason: $reason) {
        ...RolloutChange
      }
    }
  `,
  [ROLLOUT_CHANGE],
);
export const ROLLBACK = graphql(
  `
    mutation Rollback($key: String!, $reason: String) {
      rollback(key: $key, reason: $reason) {
        ...RolloutChange
      }
    }
  `,
  [ROLLOUT_CHANGE],
);
export const EVALUATE = graphql(`
  mutation Evaluate($dryRun: Boolean) {
    evaluateRollouts(dryRun: $dryRun) {
      evaluations {
        key
        rolloutPct
        decision
        reasons
        held
        since
        complaints
        baselineP95Ms
        on {
          requests
          errors
          countedErrors
          affectedUsers
          errorRate
          p95Ms
        }
        off {
          requests
          errors
          countedErrors
          affectedUsers
          errorRate
          p95Ms
        }
      }
    }
  }
`);
export const OPS_FLAGS = graphql(`
  query OpsFlags {
    ops {
      flags {
        key
        rolloutPct
        state
        complaints
        history(limit: 100) {
          fromPct
          toPct
          fromState
          toState
          actor
          reason
          at
        }
      }
    }
  }
`);
export const FLAG_VALUES = graphql(`
  query Flags {
    flags {
      key
      on
      variant
    }
  }
`);
export const ME_FLAGS = graphql(`
  query MeFlags {
    me {
      id
      flags {
        key
        on
        variant
      }
    }
  }
`);
export const REPORT = graphql(`
  mutation Report($key: String!, $message: String) {
    reportProblem(flagKey: $key, message: $message)
  }
`);

export type FlagValueShown = ResultOf<typeof FLAG_VALUES>['flags'][number];
export type EvaluationShown = ResultOf<typeof EVALUATE>['evaluateRollouts']['evaluations'][number];

/** A well-formed, deterministic uuid per index (the same users in every run). */
export const stableUserId = (i: number, group = 0): string =>
  `${group.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

export const stableUserIds = (n: number, group = 0): string[] =>
  Array.from({ length: n }, (_, i) => stableUserId(i, group));

/** The admin calls of the flag console, in-process. */
export function flagConsole(h: InProcess, admin: Viewer) {
  const run = async <T>(source: Operation<T>, variables: Record<string, unknown> = {}): Promise<T> =>
    dataOf(await h.execute<T>(source, { viewer: admin, variables }));
  return {
    save: (key: string, extra: Record<string, unknown> = {}) =>
      run(SAVE_FLAG, {
        key,
        ...extra,
      }),
    setRollout: async (key: string, pct: number, reason?: string) =>
      (await run(SET_ROLLOUT, { key, pct, reason })).setRollout,
    evaluate: async (dryRun = false) => (await run(EVALUATE, { dryRun })).evaluateRollouts.evaluations,
    flag: async (key: string) => {
      const data = await run(OPS_FLAGS);
      const flag = data.ops.flags.find((f) => f.key === key);
      if (!flag) throw new Error(`no flag ${key}`);
      return flag;
    },
  };
}

export interface VariantTraffic {
  requests: number;
  errors?: number;
  /** Every request's duration. @default 10 */
  ms?: number;
  /**
   * Who made the erroring requests, in turn (the first error by the first user, …). By default every
   * error comes from a user of its own (stableUserId(i, 0xe)).
   */
  errorUsers?: readonly string[];
}

/**
 * Exposure traffic as the gateway records it: one recordExposures per request through the real
 * telemetry recorder, written with one flush into flag_exposure_stats.
 */
export async function recordTraffic(
  pool: Pick<pg.Pool, 'query'>,
  flag: string,
  traffic: { on?: VariantTraffic; off?: VariantTraffic },
): Promise<void> {
  const telemetry = createTelemetry({ pool, logger: pino({ level: 'silent' }), flushMs: 60_000 });
  try {
    for (const variant of ['on', 'off'] as const) {
      const t = traffic[variant];
      if (!t) continue;
      for (let i = 0; i < t.requests; i += 1) {
        const ok = i >= (t.errors ?? 0);
        const user = t.errorUsers ? t.errorUsers[i % t.errorUsers.length] : stableUserId(i, 0xe);
        telemetry.recordExposures([{ flag, variant }], t.ms ?? 10, ok, ok ? null : user);
      }
    }
  } finally {
    await telemetry.close();
  }
}

/** One flag_exposure_stats row written directly (bucket layout of src/flags/exposureStats.ts). */
export async function insertExposureRow(
  pool: Pick<pg.Pool, 'query'>,
  row: { flag: string; variant: 'on' | 'off'; requests: number; errors: number; ms: number; ago: string },
): Promise<void> {
  const buckets = emptyBuckets();
  buckets[bucketIndex(row.ms)] = row.requests;
  await pool.query(
    `INSERT INTO flag_exposure_stats (flag_key, variant, requests, errors, latency_buckets, at)
     VALUES ($1, $2, $3, $4, $5::integer[], now() - $6::interval)`,
    [row.flag, row.variant, row.requests, row.errors, buckets, row.ago],
  );
}
