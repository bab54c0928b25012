import type pg from 'pg';
import type { Config } from '../config/config.js';
import type { OpsActor } from '../auth/actor.js';
import { emptyBuckets, quantileOf } from './exposureStats.js';
import { changeRollout, flagColumns, flagFromRow, type Flag, type FlagRow } from './flags.js';

export interface RolloutEvaluationOptions {
  /** Traffic considered: the last this many seconds, and only since the flag's last rollout change. */
  windowSec: number;
  /** Exposed requests needed before error rate and latency are judged. */
  minRequests: number;
  /** Each user's server errors count at most this many times per variant (FLAGS_MAX_ERRORS_PER_USER). @default 10 */
  maxErrorsPerUser?: number;
  /** Distinct users with server errors needed before the error rate may roll back (FLAGS_MIN_AFFECTED_USERS). @default 5 */
  minAffectedUsers?: number;
  /** Only report; change nothing. */
  dryRun?: boolean;
}

/**
 * How evaluateRollouts judges flags, from config: FLAGS_EVALUATION_WINDOW_SEC, FLAGS_MIN_REQUESTS,
 * FLAGS_MAX_ERRORS_PER_USER, FLAGS_MIN_AFFECTED_USERS.
 */
export type RolloutSettings = Required<Omit<RolloutEvaluationOptions, 'dryRun'>>;

export const rolloutSettingsOf = (config: Pick<Config, 'flags'>): RolloutSettings => ({
  windowSec: config.flags.evaluationWindowSec,
  minRequests: config.flags.minRequests,
  maxErrorsPerUser: config.flags.maxErrorsPerUser,
  minAffectedUsers: config.flags.minAffectedUsers,
});

export interface VariantStats {
  requests: number;
  /** Every server error recorded. */
  errors: number;
  /** The errors judged: each user's counted at most maxErrorsPerUser times. */
  countedErrors: number;
  /** Distinct users with at least one server error. */
  affectedUsers: number;
  /** countedErrors / requests. */
  errorRate: number | null;
  p95Ms: number | null;
}

export interface RolloutEvaluation {
  key: string;
  rolloutPct: number;
  /**
   * rolled_back (by this call), would_roll_back (dry run), healthy, or insufficient_data (too little
   * exposed traffic to judge errors and latency; complaints still count).
   */
  decision: 'rolled_back' | 'would_roll_back' | 'healthy' | 'insufficient_data';
  reasons: string[];
  /** Limits broken that did not count: an error rate from fewer than minAffectedUsers users. */
  held: string[];
  since: Date;
  on: VariantStats;
  off: VariantStats;
  /** The flag's baseline_p95_ms, else the p95 of the traffic without the flag in the same window. */
  baselineP95Ms: number | null;
  /** Distinct users who reported a problem with the flag in the window. */
  complaints: number;
}

const rollingFlagsSql = `
SELECT ${flagColumns},
       greatest(now() - make_interval(secs => $1),
                coalesce((SELECT max(h.at) FROM feature_flag_history h WHERE h.flag_key = f.key), '-infinity')) AS since
FROM feature_flags f WHERE rollout_pct > 0 ORDER BY key`;
/** Per variant: requests, errors and the summed latency histogram since the flag's window start. */
const statsSql = `
WITH window_rows AS (
  SELECT variant, requests, errors, latency_buckets FROM flag_exposure_stats WHERE flag_key = $1 AND at >= $2
), totals AS (
  SELECT variant, sum(requests)::bigint AS requests, sum(errors)::bigint AS errors FROM window_rows GROUP BY variant
), buckets AS (
  SELECT w.variant, b.i::int AS i, sum(b.n)::bigint AS n
  FROM window_rows w CROSS JOIN LATERAL unnest(w.latency_buckets) WITH ORDINALITY AS b(n, i)
  GROUP BY w.variant, b.i
)
SELECT b.variant, b.i, b.n, t.requests, t.errors FROM buckets b JOIN totals t USING (variant)`;
/**
 * Per variant: the distinct users with server errors, and the errors beyond each one's cap (subtracted
 * from the raw count, so errors a gateway could not attribute still count).
 */
const errorUsersSql = `
SELECT variant, count(*)::int AS users, coalesce(sum(greatest(n - $3, 0)), 0)::bigint AS excess
FROM (
  SELECT s.variant, u.user_id, sum(u.n)::bigint AS n
  FROM flag_exposure_stats s CROSS JOIN LATERAL unnest(s.error_user_ids, s.error_user_counts) AS u(user_id, n)
  WHERE s.flag_key = $1 AND s.at >= $2
  GROUP BY s.variant, u.user_id
) per_user
GROUP BY variant`;
const complaintsSql = `
SELECT count(DISTINCT user_id)::int AS n FROM flag_problem_reports WHERE flag_key = $1 AND at >= $2`;

function variantStats(
  rows: { variant: string; i: number; n: string; requests: string; errors: string }[],
  users: { variant: string; users: number; excess: string }[],
  variant: string,
): VariantStats & { buckets: number[] } {
  const mine = rows.filter((r) => r.variant === variant);
  const buckets = emptyBuckets();
  for (const r of mine) if (r.i - 1 < buckets.length) buckets[r.i - 1] = Number(r.n);
  const requests = Number(mine[0]?.requests ?? 0);
  const errors = Number(mine[0]?.errors ?? 0);
  const attributed = users.find((u) => u.variant === variant);
  const countedErrors = Math.max(0, errors - Number(attributed?.excess ?? 0));
  return {
    requests,
    errors,
    countedErrors,
    affectedUsers: attributed?.users ?? 0,
    errorRate: requests > 0 ? countedErrors / requests : null,
    p95Ms: quantileOf(buckets, 0.95),
    buckets,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * Judges one flag's exposed traffic against its thresholds; returns the reasons to roll it back. An
 * error rate counts only when at least minAffectedUsers distinct users had errors (one caller, however
 * many requests it sends, cannot roll a flag back for everyone); `held` says when that alone held it.
 */
export function judge(
  flag: Flag,
  on: VariantStats,
  baselineP95Ms: number | null,
  complaints: number,
  minRequests: number,
  minAffectedUsers = 5,
): { reasons: string[]; enoughTraffic: boolean; held: string[] } {
  const reasons: string[] = [];
  const held: string[] = [];
  const enoughTraffic = on.requests >= minRequests;
  const t = flag.thresholds;
  if (enoughTraffic && on.errorRate !== null && on.errorRate > t.maxErrorRate) {
    const rate = `error rate ${pct(on.errorRate)} > ${pct(t.maxErrorRate)} over ${on.requests} exposed requests`;
    if (on.affectedUsers >= minAffectedUsers) reasons.push(`${rate} from ${on.affectedUsers} users`);
    else held.push(`${rate}, but from ${on.affectedUsers} user(s) (at least ${minAffectedUsers} needed)`);
  }
  if (
    enoughTraffic &&
    on.p95Ms !== null &&
    baselineP95Ms !== null &&
    on.p95Ms > t.maxP95Multiplier * baselineP95Ms
  ) {
    reasons.push(
      `p95 ${on.p95Ms.toFixed(1)} ms > ${t.maxP95Multiplier}× baseline ${baselineP95Ms.toFixed(1)} ms over ${on.requests} exposed requests`,
    );
  }
  if (complaints > t.maxComplaints) {
    reasons.push(`${complaints} users reported problems (limit ${t.maxComplaints})`);
  }
  return { reasons, enoughTraffic, held };
}

/**
 * The runbook's auto-rollback: every flag above 0% whose exposed ("on") traffic since its last rollout
 * change (within the window) has an error rate above its limit, a p95 above its multiple of the
 * baseline, or more complaining users than allowed goes back to 0% (state rolled_back), with the
 * reasons in its history. Each flag is judged and changed in its own transaction.
 */
export async function evaluateRollouts(
  db: Pick<pg.PoolClient, 'query'>,
  inTransaction: <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>,
  actor: OpsActor,
  options: RolloutEvaluationOptions,
): Promise<RolloutEvaluation[]> {
  const { rows: flags } = await db.query<FlagRow & { since: Date }>(rollingFlagsSql, [options.windowSec]);
  const results: RolloutEvaluation[] = [];
  for (const row of flags) {
    const flag = flagFromRow(row);
    const { rows } = await db.query<{
      variant: string;
      i: number;
      n: string;
      requests: string;
      errors: string;
    }>(statsSql, [flag.key, row.since]);
    const { rows: users } = await db.query<{ variant: string; users: number; excess: string }>(
      errorUsersSql,
      [flag.key, row.since, options.maxErrorsPerUser ?? 10],
    );
    const on = variantStats(rows, users, 'on');
    const off = variantStats(rows, users, 'off');
    const baselineP95Ms = flag.baselineP95Ms ?? (off.requests >= options.minRequests ? off.p95Ms : null);
    const complaints = (await db.query<{ n: number }>(complaintsSql, [flag.key, row.since])).rows[0]?.n ?? 0;
    const { reasons, enoughTraffic, held } = judge(
      flag,
      on,
      baselineP95Ms,
      complaints,
      options.minRequests,
      options.minAffectedUsers ?? 5,
    );
    let decision: RolloutEvaluation['decision'] = enoughTraffic ? 'healthy' : 'insufficient_data';
    if (reasons.length > 0 && !options.dryRun) {
      await inTransaction((client) =>
        // Only if nobody changed the rollout meanwhile (the evaluation was of that rollout).
        changeRollout(
          client,
          flag.key,
          (current) => (current.rolloutPct === flag.rolloutPct ? { pct: 0, state: 'rolled_back' } : null),
          actor,
          `auto-rollback: ${reasons.join('; ')}`,
        ),
      );
      decision = 'rolled_back';
    } else if (reasons.length > 0) {
      decision = 'would_roll_back';
    }
    const strip = ({ buckets: _b, ...stats }: VariantStats & { buckets: number[] }): VariantStats => stats;
    results.push({
      key: flag.key,
      rolloutPct: flag.rolloutPct,
      decision,
      reasons,
      held,
      since: row.since,
      on: strip(on),
      off: strip(off),
      baselineP95Ms,
      complaints,
    });
  }
  return results;
}
