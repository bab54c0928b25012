/**
 * Alert thresholds (ALERT_* variables): a leaf the config reads and ops/alerts.ts evaluates, so the
 * config never imports the domain code that uses them.
 */

/** When a table counts as bloated (ALERT_DEAD_TUPLE_SHARE, ALERT_DEAD_TUPLE_MIN). */
export interface BloatThresholds {
  /** A dead-tuple share above this is bloat. @default 0.2 */
  deadTupleShare: number;
  /** ...once the table has at least this many dead tuples, so tiny tables never alert. @default 1000 */
  deadTupleMin: number;
}

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
  /** Warning: a vector index's last measured recall@20 below this. @default 0.9 */
  vectorRecallMin: number;
  /** Critical (with read replicas): a replica behind the primary by more than this many seconds, or down. @default 5 */
  replicaLagSec: number;
  /**
   * Warning: the event logs' weekly partitions reach fewer than this many days ahead, or rows landed in a
   * DEFAULT partition (a week had none). @default 7
   */
  eventPartitionDays: number;
}

export const defaultAlertThresholds: AlertThresholds = {
  discoveryP95AgeSec: 300,
  kernelP95Ms: 1000,
  discoveryHighRetry: 10,
  profilePctHasVec: 0.5,
  learningSilenceSec: 86_400,
  deadTupleShare: 0.2,
  deadTupleMin: 1000,
  vectorRecallMin: 0.9,
  replicaLagSec: 5,
  eventPartitionDays: 7,
};
