import type pg from 'pg';
import { isBloated, readTableBloat, type BloatThresholds } from './tableBloat.js';

/** Thresholds of the runbook's "Monitoring Alerts" (ALERT_* variables); bloat: see BloatThresholds. */
export interface AlertThresholds extends BloatThresholds {
  /** Critical: vw_discovery_queue_health.p95_age_sec above this. @default 300 */
  discoveryP95AgeSec: number;
  /** Critical: any kernel's vw_kernel_slos.p95_ms above this. @default 1000 */
  kernelP95Ms: number;
  /** Critical: discovery high_retry_ct above this. @default 10 */
  discoveryHighRetry: number;
  /** Warning: share of users with interests whose profile has an embedding below this. @default 0.5 */
  profilePctHasVec: number;
  /** Warning: no learning event for longer than this. @default 86400 */
  learningSilenceSec: number;
}

export const defaultAlertThresholds: AlertThresholds = {
  discoveryP95AgeSec: 300,
  kernelP95Ms: 1000,
  discoveryHighRetry: 10,
  profilePctHasVec: 0.5,
  learningSilenceSec: 86_400,
  deadTupleShare: 0.2,
  deadTupleMin: 1000,
};

export type AlertSeverity = 'critical' | 'warning';

export interface Alert {
  rule: string;
  severity: AlertSeverity;
  firing: boolean;
  /** The current value; null when there is nothing to measure (no kernels sampled, no users). */
  value: number | null;
  threshold: number;
  message: string;
  /** What the runbook says to do. */
  action: string;
}

interface AlertValues {
  discovery_p95_age_sec: number;
  discovery_high_retry_ct: string;
  kernel_worst: string | null;
  kernel_worst_p95_ms: number | null;
  profiles_with_interests: string;
  profile_pct_has_vec: number | null;
  learning_last_at: Date | null;
  now: Date;
}

/** Every rule's input in one read (ops_alert_values: SECURITY DEFINER, aggregates only). */
const alertValuesSql = 'SELECT v.*, now() AS now FROM ops_alert_values() v';

/**
 * Evaluates every rule of the runbook's "Monitoring Alerts" now. Each rule is returned, firing or not,
 * so a dashboard shows the distance to each threshold; `firing` compares strictly (value > threshold,
 * or < for the coverage rule), as the runbook writes them.
 */
export async function evaluateAlerts(
  db: Pick<pg.Pool, 'query'>,
  thresholds: AlertThresholds,
): Promise<Alert[]> {
  const { rows } = await db.query<AlertValues>(alertValuesSql);
  // The most bloated hot table among those with enough dead tuples to count (the view's order).
  const bloat = (await readTableBloat(db)).find((t) => t.deadTuples >= thresholds.deadTupleMin);
  const v = rows[0];
  if (!v) throw new Error('ops_alert_values returned no row');
  const highRetry = Number(v.discovery_high_retry_ct);
  const silenceSec =
    v.learning_last_at === null ? null : (v.now.getTime() - v.learning_last_at.getTime()) / 1000;
  const kernelP95 = v.kernel_worst_p95_ms;
  const pctHasVec = v.profile_pct_has_vec;
  return [
    {
      rule: 'discovery_queue_p95_age',
      severity: 'critical',
      firing: v.discovery_p95_age_sec > thresholds.discoveryP95AgeSec,
      value: v.discovery_p95_age_sec,
      threshold: thresholds.discoveryP95AgeSec,
      message: `discovery queue p95 age is ${Math.round(v.discovery_p95_age_sec)} s (limit ${thresholds.discoveryP95AgeSec} s): worker stuck`,
      action:
        'Worker Stuck: check worker logs, redeploy the worker, requeue stuck items (requeueStuckDiscovery / requeueStuckEvents)',
    },
    {
      rule: 'kernel_p95_latency',
      severity: 'critical',
      firing: kernelP95 !== null && kernelP95 > thresholds.kernelP95Ms,
      value: kernelP95,
      threshold: thresholds.kernelP95Ms,
      message:
        kernelP95 === null
          ? 'no kernel latency samples in the last hour'
          : `kernel "${v.kernel_worst}" p95 is ${Math.round(kernelP95)} ms over the last hour (limit ${thresholds.kernelP95Ms} ms): latency degradation`,
      action:
        'Latency degradation: check ops.kernelSlos, vw_gap_severity and the database load; ANALYZE after bulk updates',
    },
    {
      rule: 'discovery_high_retry',
      severity: 'critical',
      firing: highRetry > thresholds.discoveryHighRetry,
      value: highRetry,
      threshold: thresholds.discoveryHighRetry,
      message: `${highRetry} discovery items have 3 or more attempts (limit ${thresholds.discoveryHighRetry}): systemic failure`,
      action:
        'Discovery Queue Backlog: inspect errors (ops.discoveryErrors), fix the cause, then requeueDiscoveryErrors',
    },
    {
      rule: 'profile_embeddings_coverage',
      severity: 'warning',
      firing: pctHasVec !== null && pctHasVec < thresholds.profilePctHasVec,
      value: pctHasVec,
      threshold: thresholds.profilePctHasVec,
      message:
        pctHasVec === null
          ? 'no user has interests yet'
          : `${(pctHasVec * 100).toFixed(1)}% of users with interests have a profile embedding (minimum ${thresholds.profilePctHasVec * 100}%): backfill needed`,
      action: 'Backfill Profile Embeddings: backfillProfileEmbeddings (batches of 1,000, resumable)',
    },
    {
      rule: 'learning_events_silence',
      severity: 'warning',
      firing: silenceSec === null || silenceSec > thresholds.learningSilenceSec,
      value: silenceSec,
      threshold: thresholds.learningSilenceSec,
      message:
        silenceSec === null
          ? 'no learning event was ever recorded: exploration stopped'
          : `the last learning event was ${Math.round(silenceSec / 3600)} h ago (limit ${thresholds.learningSilenceSec / 3600} h): exploration stopped`,
      action:
        'Learning events stopped: check that the feed serves (suggestions) and the service role can insert',
    },
    {
      rule: 'table_bloat',
      severity: 'warning',
      firing: bloat !== undefined && isBloated(bloat, thresholds),
      value: bloat?.deadTupleShare ?? 0,
      threshold: thresholds.deadTupleShare,
      message:
        bloat === undefined
          ? `no hot table has ${thresholds.deadTupleMin} or more dead tuples`
          : `${bloat.table}: ${(bloat.deadTupleShare * 100).toFixed(1)}% of its tuples are dead (${bloat.deadTuples}; limit ${Number((thresholds.deadTupleShare * 100).toFixed(2))}% once ${thresholds.deadTupleMin}+ are dead), autovacuum ${bloat.autovacuumEnabled ? 'on' : 'OFF'}: table bloat`,
      action:
        'Monitor bloat (pg_stat_user_tables, ops.tableBloat): VACUUM (ANALYZE) the table as the owner; if autovacuum is on, look for long transactions holding back cleanup (pg_stat_activity) and lower its autovacuum_vacuum_scale_factor (the queues use 2%)',
    },
  ];
}
