import type pg from 'pg';
import type { AlertThresholds } from '../config/alertThresholds.js';
import type { ReplicaStatus } from '../db/replicas.js';
import { isBloated, readTableBloat } from './tableBloat.js';

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
  /**
   * The ops actions (src/ops/actions.ts; GraphQL mutations of the same name) that carry out the runbook
   * step with their defaults alone, so a console can offer each as a button. Empty where the step needs a
   * person (reading logs, a restart, SQL as the owner).
   */
  remedies: readonly OpsRemedy[];
}

/** Ops actions an alert may offer: each runs with its defaults (no argument besides a reason). */
export type OpsRemedy =
  | 'requeueStuckDiscovery'
  | 'requeueStuckEvents'
  | 'requeueDiscoveryErrors'
  | 'analyzeHotTables'
  | 'backfillProfileEmbeddings'
  | 'measureVectorRecall';

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
/** The vector index with the worst last measured recall (vector_index_state: ops data, no user data). */
/** Per event log: rows in its DEFAULT partition (counted to 1,000) and how far its weeks reach. */
const partitionHealthSql = 'SELECT parent, default_rows, covered_until FROM event_partition_health()';
const worstRecallSql = `
SELECT index_name, recall, recall_k FROM vector_index_state
WHERE recall IS NOT NULL ORDER BY recall, index_name LIMIT 1`;

/**
 * Evaluates every rule of the runbook's "Monitoring Alerts" now. Each rule is returned, firing or not,
 * so a dashboard shows the distance to each threshold; `firing` compares strictly (value > threshold,
 * or < for the coverage rule), as the runbook writes them.
 */
export async function evaluateAlerts(
  db: Pick<pg.Pool, 'query'>,
  thresholds: AlertThresholds,
  /** The gateway's read replicas now (DATABASE_READ_URLS): adds the replica_lag rule. */
  replicas: readonly ReplicaStatus[] = [],
): Promise<Alert[]> {
  const { rows } = await db.query<AlertValues>(alertValuesSql);
  // The most bloated hot table among those with enough dead tuples to count (the view's order).
  const bloat = (await readTableBloat(db)).find((t) => t.deadTuples >= thresholds.deadTupleMin);
  const v = rows[0];
  if (!v) throw new Error('ops_alert_values returned no row');
  const worst = (
    await db.query<{ index_name: string; recall: number; recall_k: number | null }>(worstRecallSql)
  ).rows[0];
  const recall = worst?.recall ?? null;
  const partitions = await db.query<{ parent: string; default_rows: string; covered_until: Date | null }>(
    partitionHealthSql,
  );
  const partitionAlert = eventPartitionsAlert(
    partitions.rows.map((r) => ({
      parent: r.parent,
      defaultRows: Number(r.default_rows),
      coveredUntil: r.covered_until,
    })),
    v.now,
    thresholds,
  );
  const highRetry = Number(v.discovery_high_retry_ct);
  const silenceSec =
    v.learning_last_at === null ? null : (v.now.getTime() - v.learning_last_at.getTime()) / 1000;
  const kernelP95 = v.kernel_worst_p95_ms;
  const pctHasVec = v.profile_pct_has_vec;
  const replicaLag = replicaLagAlert(replicas, thresholds);
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
      remedies: ['requeueStuckDiscovery', 'requeueStuckEvents'],
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
        'Latency degradation: check ops.kernelSlos, vw_gap_severity and the database load; ANALYZE after bulk updates (analyzeHotTables)',
      remedies: ['analyzeHotTables'],
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
      remedies: ['requeueDiscoveryErrors'],
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
      remedies: ['backfillProfileEmbeddings'],
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
      remedies: [],
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
      remedies: [],
    },
    {
      rule: 'vector_index_recall',
      severity: 'warning',
      firing: recall !== null && recall < thresholds.vectorRecallMin,
      value: recall,
      threshold: thresholds.vectorRecallMin,
      message:
        recall === null || !worst
          ? 'no vector index recall measured yet'
          : `index ${worst.index_name} returns ${(recall * 100).toFixed(1)}% of the true ${worst.recall_k ?? 20} nearest neighbours (minimum ${thresholds.vectorRecallMin * 100}%): stale or mis-sized index`,
      action:
        'Vector Indexes: check ops.vectorHealth (rows vs rowsAtBuild, suggestedLists), rebuildVectorIndex with the suggested lists, then measureVectorRecall; if the lists are right, raise VECTOR_IVFFLAT_PROBES (about √lists) and restart',
      remedies: ['measureVectorRecall'],
    },
    partitionAlert,
    ...(replicaLag ? [replicaLag] : []),
  ];
}

/**
 * `event_log_partitions` (warning): learning_events' or intent_signals' weekly partitions reach fewer
 * than ALERT_EVENT_PARTITION_DAYS ahead (the worker's create_event_partitions is not running, or cannot
 * get its lock), or rows are in a DEFAULT partition (a week had no partition when they came: nothing is
 * lost, but GC deletes them row by row and every time-bounded read scans them). The value is the days
 * the nearest-ending log reaches ahead.
 */
export function eventPartitionsAlert(
  logs: readonly { parent: string; defaultRows: number; coveredUntil: Date | null }[],
  now: Date,
  thresholds: Pick<AlertThresholds, 'eventPartitionDays'>,
): Alert {
  const ahead = logs.map((l) => ({
    ...l,
    days: l.coveredUntil === null ? 0 : (l.coveredUntil.getTime() - now.getTime()) / 86_400_000,
  }));
  const nearest = ahead.reduce<(typeof ahead)[number] | null>(
    (a, l) => (a === null || l.days < a.days ? l : a),
    null,
  );
  const short = ahead.filter((l) => l.days < thresholds.eventPartitionDays);
  const spilled = ahead.filter((l) => l.defaultRows > 0);
  const parts = [
    ...short.map((l) => `${l.parent}'s partitions reach ${l.days.toFixed(1)} days ahead`),
    ...spilled.map(
      (l) => `${l.parent}_default holds ${l.defaultRows >= 1000 ? '1,000+' : l.defaultRows} rows`,
    ),
  ];
  return {
    rule: 'event_log_partitions',
    severity: 'warning',
    firing: parts.length > 0,
    value: nearest === null ? null : Number(nearest.days.toFixed(2)),
    threshold: thresholds.eventPartitionDays,
    message:
      parts.length > 0
        ? `${parts.join('; ')} (minimum ${thresholds.eventPartitionDays} days, default partitions empty)`
        : `the event logs' weekly partitions reach ${nearest?.days.toFixed(1) ?? '?'} days ahead; default partitions empty`,
    action:
      "Event log partitions: run SELECT create_event_partitions() (the worker's daily maintenance does; check its maintenance_runs row for a lock warning); rows in a default partition move into their week's partition when it is created with create_event_partitions(p_from => the oldest row's time)",
    remedies: [],
  };
}

/**
 * `replica_lag` (critical, only with read replicas): a replica further behind than ALERT_REPLICA_LAG_SEC,
 * or not taking reads because it is down or promoted. Its reads are on the primary meanwhile, so the
 * cost is the primary's load, not wrong answers. The value is the worst measured lag.
 */
export function replicaLagAlert(
  replicas: readonly ReplicaStatus[],
  thresholds: Pick<AlertThresholds, 'replicaLagSec'>,
): Alert | null {
  if (replicas.length === 0) return null;
  const unreadable = replicas.filter((r) => r.state === 'down' || r.state === 'promoted');
  const measured = replicas.filter((r) => r.lagSeconds !== null && !unreadable.includes(r));
  const worst = measured.reduce<ReplicaStatus | null>(
    (top, r) => (top === null || (r.lagSeconds ?? 0) > (top.lagSeconds ?? 0) ? r : top),
    null,
  );
  const worstLag = worst?.lagSeconds ?? null;
  const behind = worstLag !== null && worstLag > thresholds.replicaLagSec;
  const parts = [
    ...unreadable.map((r) => `${r.name} is ${r.state}${r.error ? ` (${r.error})` : ''}`),
    ...(behind && worst ? [`${worst.name} is ${worstLag.toFixed(1)} s behind the primary`] : []),
  ];
  return {
    rule: 'replica_lag',
    severity: 'critical',
    firing: unreadable.length > 0 || behind,
    value: worstLag,
    threshold: thresholds.replicaLagSec,
    message:
      parts.length > 0
        ? `${parts.join('; ')} (limit ${thresholds.replicaLagSec} s): its reads go to the primary`
        : worstLag === null
          ? 'no replica measured yet'
          : `every replica is within ${thresholds.replicaLagSec} s of the primary (worst ${worstLag.toFixed(1)} s)`,
    action:
      'Replica lag: check ops.replicas and the replica server (running? replaying? pg_stat_replication on the primary, long queries on the replica holding replay back); a replica down or too far behind gets no reads until it catches up, so the primary carries them meanwhile',
    remedies: [],
  };
}
