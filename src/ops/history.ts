import { LATENCY_BUCKETS_MS, quantileOf } from '../flags/exposureStats.js';
import { inAdminTx, type OpsRunner } from './opsRunner.js';

/**
 * History for charts (the ops console; issue #20): the queue health views and the alert inputs as the
 * worker snapshots them once a minute (ops_history, ops_snapshot_history()), and the kernel latency
 * samples and flag exposure aggregates the gateways already keep, all for 7 days (gc_ops_telemetry).
 * Every read is bucketed so a chart gets at most `maxPoints` points per series whatever its window.
 */

/** The series ops_snapshot_history() writes (subject: the queue name for queue.*, '' otherwise). */
export const OPS_METRICS = [
  'queue.queued',
  'queue.in_flight',
  'queue.error',
  'queue.oldest_age_sec',
  'queue.p95_age_sec',
  'queue.high_retry',
  'queue.stuck_leases',
  'alert.discovery_p95_age_sec',
  'alert.discovery_high_retry',
  'alert.kernel_worst_p95_ms',
  'alert.profile_pct_has_vec',
  'alert.learning_age_sec',
] as const;

export type OpsMetric = (typeof OPS_METRICS)[number];

export const HISTORY_RETENTION_MS = 7 * 24 * 3600 * 1000;
export const MAX_HISTORY_POINTS = 2000;

/** A window of history and the bucket width that gives at most `maxPoints` buckets (a minute at least). */
export interface HistoryWindow {
  since: Date;
  until: Date;
  maxPoints: number;
}

export interface OpsSeries {
  metric: string;
  subject: string;
  points: { at: Date; value: number | null }[];
}

export interface KernelLatencyPoint {
  at: Date;
  n: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errorRate: number;
}

export interface KernelLatencySeries {
  kernel: string;
  points: KernelLatencyPoint[];
}

export interface FlagExposurePoint {
  at: Date;
  requests: number;
  errors: number;
  errorRate: number;
  p95Ms: number | null;
}

export interface FlagExposureSeries {
  flagKey: string;
  variant: string;
  points: FlagExposurePoint[];
}

/** $1 since, $2 until, $3 maxPoints: the bucket width (whole seconds, a minute at least). */
const stepSql = `greatest(60, ceil(extract(epoch FROM $2::timestamptz - $1::timestamptz) / $3))::int * interval '1 second'`;

// The largest value of each bucket: a backlog's peak is what a chart must not smooth away.
const historySql = `
SELECT h.metric, h.subject, date_bin(${stepSql}, h.taken_at, $1::timestamptz) AS at, max(h.value) AS value
FROM ops_history h
WHERE h.metric = ANY($4::text[]) AND h.taken_at >= $1 AND h.taken_at < $2
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3`;

const kernelLatencySql = `
SELECT k.kernel, date_bin(${stepSql}, k.at, $1::timestamptz) AS at, count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY k.duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY k.duration_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY k.duration_ms) AS p99_ms,
       avg(CASE WHEN k.ok THEN 0 ELSE 1 END)::double precision AS error_rate
FROM kernel_latency k
WHERE k.at >= $1 AND k.at < $2 AND ($4::text IS NULL OR k.kernel = $4)
GROUP BY 1, 2
ORDER BY 1, 2`;

// Histograms are summed bucket by bucket (their bounds: src/flags/exposureStats.ts).
const flagExposureSql = `
WITH rows AS (
  SELECT s.flag_key, s.variant, date_bin(${stepSql}, s.at, $1::timestamptz) AS at, s.requests, s.errors,
         s.latency_buckets
  FROM flag_exposure_stats s
  WHERE s.at >= $1 AND s.at < $2 AND ($4::text IS NULL OR s.flag_key = $4)
), totals AS (
  SELECT flag_key, variant, at, sum(requests) AS requests, sum(errors) AS errors FROM rows GROUP BY 1, 2, 3
), histograms AS (
  SELECT r.flag_key, r.variant, r.at, array_agg(b.n ORDER BY b.i) AS buckets
  FROM (
    SELECT flag_key, variant, at, i, sum(n)::bigint AS n
    FROM rows CROSS JOIN LATERAL unnest(latency_buckets) WITH ORDINALITY AS u (n, i)
    GROUP BY 1, 2, 3, 4
  ) b
  JOIN (SELECT DISTINCT flag_key, variant, at FROM rows) r USING (flag_key, variant, at)
  GROUP BY 1, 2, 3
)
SELECT t.flag_key, t.variant, t.at, t.requests, t.errors, h.buckets
FROM totals t JOIN histograms h USING (flag_key, variant, at)
ORDER BY 1, 2, 3`;

/**
 * Rows ordered by series then time, as series: `seriesOf` names a row's series (its key and its
 * fields without points), `pointOf` makes its point.
 */
function toSeries<R, S extends { points: P[] }, P>(
  rows: readonly R[],
  seriesOf: (row: R) => { key: string; create: () => S },
  pointOf: (row: R) => P,
): S[] {
  const series = new Map<string, S>();
  for (const row of rows) {
    const { key, create } = seriesOf(row);
    let entry = series.get(key);
    if (!entry) {
      entry = create();
      series.set(key, entry);
    }
    entry.points.push(pointOf(row));
  }
  return [...series.values()];
}

/** The snapshot series in the window, one point per bucket (its largest value). */
export async function opsHistory(
  runner: OpsRunner,
  metrics: readonly OpsMetric[],
  window: HistoryWindow,
): Promise<OpsSeries[]> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{ metric: string; subject: string; at: Date; value: number | null }>(historySql, [
      window.since,
      window.until,
      window.maxPoints,
      metrics,
    ]),
  );
  return toSeries(
    rows,
    (row) => ({
      key: `${row.metric}\n${row.subject}`,
      create: (): OpsSeries => ({ metric: row.metric, subject: row.subject, points: [] }),
    }),
    (row) => ({ at: row.at, value: row.value }),
  );
}

/** Per kernel (or one), p50/p95/p99 and error rate per bucket, from the sampled requests. */
export async function kernelLatencyHistory(
  runner: OpsRunner,
  kernel: string | null,
  window: HistoryWindow,
): Promise<KernelLatencySeries[]> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{
      kernel: string;
      at: Date;
      n: string;
      p50_ms: number;
      p95_ms: number;
      p99_ms: number;
      error_rate: number;
    }>(kernelLatencySql, [window.since, window.until, window.maxPoints, kernel]),
  );
  return toSeries(
    rows,
    (row) => ({ key: row.kernel, create: (): KernelLatencySeries => ({ kernel: row.kernel, points: [] }) }),
    (row) => ({
      at: row.at,
      n: Number(row.n),
      p50Ms: row.p50_ms,
      p95Ms: row.p95_ms,
      p99Ms: row.p99_ms,
      errorRate: row.error_rate,
    }),
  );
}

/** Per flag (or one) and variant: exposed requests, errors, error rate and p95 per bucket. */
export async function flagExposureHistory(
  runner: OpsRunner,
  flagKey: string | null,
  window: HistoryWindow,
): Promise<FlagExposureSeries[]> {
  const { rows } = await inAdminTx(runner, (client) =>
    client.query<{
      flag_key: string;
      variant: string;
      at: Date;
      requests: string;
      errors: string;
      buckets: string[];
    }>(flagExposureSql, [window.since, window.until, window.maxPoints, flagKey]),
  );
  return toSeries(
    rows,
    (row) => ({
      key: `${row.flag_key}\n${row.variant}`,
      create: (): FlagExposureSeries => ({ flagKey: row.flag_key, variant: row.variant, points: [] }),
    }),
    (row) => {
      const requests = Number(row.requests);
      const errors = Number(row.errors);
      const buckets = row.buckets.map(Number);
      if (buckets.length !== LATENCY_BUCKETS_MS.length + 1) {
        throw new Error(
          `flag_exposure_stats holds ${buckets.length} latency buckets; this gateway expects ${LATENCY_BUCKETS_MS.length + 1}`,
        );
      }
      return {
        at: row.at,
        requests,
        errors,
        errorRate: requests > 0 ? errors / requests : 0,
        p95Ms: quantileOf(buckets, 0.95),
      };
    },
  );
}
