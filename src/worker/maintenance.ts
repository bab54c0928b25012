import { createHash } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from '../db/checkout.js';
import { coerceError } from '../errors/errors.js';
import { COENGAGEMENT_BATCH, rebuildCoengagementBatch } from '../feed/coengagement.js';
import { evaluateRollouts, type RolloutEvaluationOptions } from '../flags/evaluateRollouts.js';
import { appendAudit } from '../ops/audit.js';
import { gcInSteps } from '../ops/maintenanceActions.js';
import { runRankerTraining, type RankerTrainingOptions } from '../feed/rankerTask.js';
import { measureVectorRecall, rebuildOutgrownIvfflat } from '../ops/vectorRecall.js';
import type { Logger } from '../platform/logger.js';
import { inSpan } from '../platform/tracing.js';
import { enqueueDiscoveryPairs, type DiscoveryPair } from '../queue/discovery.js';

export interface MaintenanceTask {
  name: string;
  intervalMs: number;
  /** Runs inside the claiming transaction; returns what is recorded as its result. */
  run: (tx: pg.PoolClient) => Promise<unknown>;
  /** A task that runs every minute logs its runs at debug, not info (its failures still at error). */
  quiet?: boolean;
}

/**
 * snapshot_ops_history: below the one-minute maintenance check, so every check finds it due (a task that
 * ran 59.9 s ago is not due at an interval of 60 s); its rows are stamped with the minute, so a second run
 * within one minute, by this worker or another, writes nothing.
 */
export const OPS_SNAPSHOT_INTERVAL_MS = 50_000;

/** How often each kind of task runs; the worker's config (WORKER_*_INTERVAL_SEC) sets them. */
export interface MaintenanceIntervals {
  /** gc_intent_signals, gc_learning_events, gc_idempotency_keys, create_event_partitions. @default 86400 */
  gcSec: number;
  /** Interest affinity decay (× 0.98 per week unless reinforced). @default 604800 */
  decaySec: number;
  /** Enqueue discovery for the worst gaps of vw_gap_severity. @default 3600 */
  gapSec: number;
  /** Look for hot tables changed in bulk since their last ANALYZE, and analyze those. @default 300 */
  analyzeSec: number;
  /** evaluateRollouts: roll back flags whose exposed traffic breaks their limits. @default 60 */
  rolloutsSec: number;
  /** Rebuild ivfflat indexes whose table grew or shrank more than 2× since their build. @default 3600 */
  vectorIndexSec: number;
  /** Measure recall@20 of every vector index against exact search. @default 3600 */
  vectorRecallSec: number;
  /** Fit the feed's ranking weights on logged feedback (ranker_training). @default 21600 */
  rankerSec: number;
  /** Rebuild listing_coengagement from likes (corrects the like events' approximation). @default 86400 */
  coengagementSec: number;
}

export const defaultMaintenanceIntervals: MaintenanceIntervals = {
  gcSec: 86_400,
  decaySec: 7 * 86_400,
  gapSec: 3600,
  analyzeSec: 300,
  rolloutsSec: 60,
  vectorIndexSec: 3600,
  vectorRecallSec: 3600,
  rankerSec: 6 * 3600,
  coengagementSec: 86_400,
};

/**
 * Bounds of a worker that shares its one connection with requests (the in-process worker on the
 * embedded database, where statement_timeout does not fire): each task's one transaction holds that
 * connection, so what grows with the data is cut into runs of a bounded size or left out.
 */
export interface MaintenanceBounds {
  /**
   * Rows one run of gc_intent_signals or gc_learning_events deletes at most; a run that stopped at
   * this bound is due again at the next maintenance check, not a day later.
   */
  gcRowsPerRun: number;
  /** ivfflat indexes on tables with more rows are not rebuilt by this worker (listed as `skipped`). */
  maxIndexBuildRows: number;
  /** Labelled impressions one ranker_training run reads at most (the latest). @default 200000 */
  rankerRows?: number;
  /**
   * Listings whose co-engagement one run of rebuild_coengagement rebuilds at most (it resumes after
   * the last one at the next check). @default COENGAGEMENT_LISTINGS_PER_RUN
   */
  coengagementListingsPerRun?: number;
}

/** Listings one rebuild_coengagement run rebuilds, for a worker of its own (one transaction). */
export const COENGAGEMENT_LISTINGS_PER_RUN = 5000;

/** A task's result that says it stopped at its bound with work left: it is due again at once. */
export interface Unfinished {
  more: true;
}

const isUnfinished = (result: unknown): result is Unfinished =>
  typeof result === 'object' && result !== null && (result as { more?: unknown }).more === true;

/** At most `maxRows` rows of one gc function, in one statement of the caller's transaction. */
async function gcBounded(
  tx: pg.PoolClient,
  fn: 'gc_intent_signals' | 'gc_learning_events',
  maxRows: number,
): Promise<{ deleted: number; more?: true }> {
  // The function name is one of two constants; the bound is bound.
  const { rows } = await tx.query<{ n: string }>(`SELECT ${fn}(p_max_rows => $1) AS n`, [maxRows]);
  const deleted = Number(rows[0]?.n ?? 0);
  return deleted >= maxRows ? { deleted, more: true } : { deleted };
}

/** Where the last rebuild_coengagement run stopped, when it stopped at its bound. */
const coengagementCursorSql = `
SELECT CASE WHEN last_result->>'more' = 'true' AND last_result->>'after' ~ '^[0-9]{1,9}$'
            THEN (last_result->>'after')::int END AS after
FROM maintenance_runs WHERE task = 'rebuild_coengagement'`;

/**
 * One run of the co-engagement rebuild in the task's transaction: at most `maxListings` listings, in
 * batches, from where the previous run stopped (or the first listing). A run that stopped at its bound
 * records where (`after`) and is due again at the next check; the one that reaches the last listing
 * finishes the rebuild, and the next starts from the first a day later.
 */
async function rebuildCoengagementRun(
  tx: pg.PoolClient,
  maxListings: number,
): Promise<{ changed: number; listings: number; after?: number; more?: true }> {
  let after = (await tx.query<{ after: number | null }>(coengagementCursorSql)).rows[0]?.after ?? null;
  let changed = 0;
  let listings = 0;
  while (listings < maxListings) {
    const batch = Math.min(COENGAGEMENT_BATCH, maxListings - listings);
    const done = await rebuildCoengagementBatch(tx, after, batch);
    changed += done.changed;
    if (done.lastId === null) return { changed, listings };
    listings += done.listings;
    after = done.lastId;
  }
  return { changed, listings, after: after ?? 0, more: true };
}

/** The worst gaps (demand without candidates), enqueued for discovery at most once a day each. */
const worstGapsSql = `
SELECT g.interest_id AS "interestId", g.category_id AS "categoryId"
FROM (SELECT * FROM vw_gap_severity WHERE candidate_listings = 0 LIMIT $1) g`;

/**
 * The runbook's maintenance on its cadence: GC daily, interest decay weekly, gap discovery hourly, and
 * ANALYZE of the hot tables after bulk work (checked every few minutes; only changed tables are analyzed).
 */
export function defaultMaintenanceTasks(
  options: {
    gapLimit?: number;
    intervals?: Partial<MaintenanceIntervals>;
    /** How evaluateRollouts judges flags (FLAGS_EVALUATION_WINDOW_SEC, FLAGS_MIN_REQUESTS…). */
    rollouts?: RolloutEvaluationOptions;
    /** Statement timeout of an ivfflat rebuild (OPS_INDEX_BUILD_TIMEOUT_MS). @default 1800000 */
    indexBuildTimeoutMs?: number;
    /** Set for a worker sharing its connection with requests; unbounded (a worker of its own) when absent. */
    bounds?: MaintenanceBounds;
    /** ivfflat lists the recall measurement searches, as the service does (VECTOR_IVFFLAT_PROBES). */
    ivfflatProbes?: number;
    /** ranker_training's thresholds (FEED_RANKER_MIN_EVENTS, FEED_LIKE_ATTRIBUTION_MINUTES). */
    ranker?: Pick<RankerTrainingOptions, 'minEvents' | 'attributionMinutes' | 'minPositives' | 'training'>;
  } = {},
): MaintenanceTask[] {
  const every = { ...defaultMaintenanceIntervals, ...options.intervals };
  const { bounds } = options;
  const gcMs = every.gcSec * 1000;
  const scalar = async (tx: pg.PoolClient, sql: string, values: unknown[] = []) =>
    (await tx.query<{ v: unknown }>(sql, values)).rows[0]?.v;
  return [
    {
      // Weekly partitions of learning_events and intent_signals four weeks ahead (a no-op on most days).
      name: 'create_event_partitions',
      intervalMs: gcMs,
      run: (tx) => scalar(tx, 'SELECT create_event_partitions() AS v'),
    },
    {
      name: 'gc_intent_signals',
      intervalMs: gcMs,
      run: (tx) =>
        bounds
          ? gcBounded(tx, 'gc_intent_signals', bounds.gcRowsPerRun)
          : gcInSteps('gc_intent_signals', undefined, (sql, values) => tx.query(sql, values)),
    },
    {
      name: 'gc_learning_events',
      intervalMs: gcMs,
      run: (tx) =>
        bounds
          ? gcBounded(tx, 'gc_learning_events', bounds.gcRowsPerRun)
          : gcInSteps('gc_learning_events', undefined, (sql, values) => tx.query(sql, values)),
    },
    {
      name: 'gc_idempotency_keys',
      intervalMs: gcMs,
      run: (tx) => scalar(tx, 'SELECT gc_idempotency_keys() AS v'),
    },
    {
      // Done queue items older than 7 days, so the health views and queue metrics stay cheap.
      name: 'gc_done_queue_items',
      intervalMs: gcMs,
      run: (tx) => scalar(tx, 'SELECT gc_done_queue_items() AS v'),
    },
    {
      // Kernel latency samples, flag exposure aggregates and the ops history older than 7 days.
      name: 'gc_ops_telemetry',
      intervalMs: gcMs,
      run: (tx) => scalar(tx, 'SELECT gc_ops_telemetry() AS v'),
    },
    {
      // The ops console's history (ops.history): queue health and alert inputs, stamped with the minute.
      // Due at every maintenance check (once a minute): a second run in the same minute writes nothing.
      name: 'snapshot_ops_history',
      intervalMs: OPS_SNAPSHOT_INTERVAL_MS,
      quiet: true,
      run: (tx) => scalar(tx, 'SELECT ops_snapshot_history() AS v'),
    },
    {
      name: 'decay_interest_affinity',
      intervalMs: every.decaySec * 1000,
      run: (tx) => scalar(tx, 'SELECT decay_interest_affinity() AS v'),
    },
    {
      name: 'enqueue_gap_discovery',
      intervalMs: every.gapSec * 1000,
      run: async (tx) => {
        const gaps = await tx.query<DiscoveryPair>(worstGapsSql, [options.gapLimit ?? 20]);
        return (await enqueueDiscoveryPairs(tx, 'gap_severity', gaps.rows)).length;
      },
    },
    {
      // The runbook's auto-rollback on a schedule, so a bad flag goes back to 0% with nobody watching.
      name: 'evaluate_rollouts',
      intervalMs: every.rolloutsSec * 1000,
      run: async (tx) => {
        const started = performance.now();
        const actor = { id: null, role: 'worker', requestId: 'worker:evaluate_rollouts' };
        const evaluations = await evaluateRollouts(
          tx,
          (fn) => fn(tx),
          actor,
          options.rollouts ?? { windowSec: 900, minRequests: 200 },
        );
        const rolledBack = evaluations
          .filter((e) => e.decision === 'rolled_back')
          .map((e) => ({ key: e.key, reasons: e.reasons }));
        if (rolledBack.length > 0) {
          // No RETURNING: the worker role may append to ops_audit but not read it.
          await appendAudit(tx, actor, {
            action: 'evaluateRollouts',
            args: {},
            result: rolledBack,
            ok: true,
            durationMs: performance.now() - started,
          });
        }
        return rolledBack;
      },
    },
    {
      // Bulk work from any source (GC, a backfill, an import) shows up in n_mod_since_analyze.
      name: 'analyze_changed_hot_tables',
      intervalMs: every.analyzeSec * 1000,
      run: (tx) => scalar(tx, 'SELECT analyze_changed_hot_tables() AS v'),
    },
    {
      // An ivfflat index's centroids come from the rows at its build (none, when a migration built it):
      // rebuilt with pgvector's lists once the table is more than 2× bigger or smaller.
      name: 'rebuild_outgrown_vector_indexes',
      intervalMs: every.vectorIndexSec * 1000,
      run: (tx) =>
        rebuildOutgrownIvfflat(tx, options.indexBuildTimeoutMs ?? 1_800_000, bounds?.maxIndexBuildRows),
    },
    {
      // "Liked together" rebuilt from likes: the like events keep it only approximately in between.
      name: 'rebuild_coengagement',
      intervalMs: every.coengagementSec * 1000,
      run: (tx) =>
        rebuildCoengagementRun(tx, bounds?.coengagementListingsPerRun ?? COENGAGEMENT_LISTINGS_PER_RUN),
    },
    {
      // After the rebuild check, so a fresh build is measured in the same pass.
      name: 'measure_vector_recall',
      intervalMs: every.vectorRecallSec * 1000,
      run: (tx) =>
        measureVectorRecall(
          (fn) => fn(tx),
          options.ivfflatProbes === undefined ? {} : { probes: options.ivfflatProbes },
        ),
    },
    {
      // Learned ranking weights from the last 30 days of labelled impressions (src/feed/rankerTask.ts);
      // stored only when they beat the defaults on a time holdout.
      name: 'ranker_training',
      intervalMs: every.rankerSec * 1000,
      run: (tx) =>
        runRankerTraining(tx, {
          minEvents: 5000,
          attributionMinutes: 30,
          ...options.ranker,
          maxRows: bounds?.rankerRows ?? 200_000,
        }),
    },
  ];
}

/** A stable 64-bit advisory lock key per task. */
const lockKey = (task: string): string =>
  BigInt.asIntN(
    64,
    BigInt(`0x${createHash('sha256').update(`lodestar:maintenance:${task}`).digest('hex').slice(0, 16)}`),
  ).toString();

const claimSql = `
SELECT last_run_at > now() - make_interval(secs => $2) AS recent FROM maintenance_runs WHERE task = $1`;
/** $4: the task stopped at its bound, so it is recorded as last run one interval ago (due at the next check). */
const recordSql = `
INSERT INTO maintenance_runs (task, last_run_at, last_result, last_ms)
VALUES ($1, CASE WHEN $4 THEN now() - make_interval(secs => $5) ELSE now() END, $2, $3)
ON CONFLICT (task) DO UPDATE SET last_run_at = EXCLUDED.last_run_at, last_result = EXCLUDED.last_result,
                                 last_ms = EXCLUDED.last_ms`;

/**
 * Runs each task that is due, once across all workers: a transaction-level advisory lock keeps two
 * workers from running it at the same moment, and maintenance_runs (read under that lock) from running
 * it twice in one interval. Returns the tasks this call ran.
 */
export async function runDueMaintenance(
  pool: pg.Pool,
  tasks: MaintenanceTask[],
  logger: Logger,
): Promise<string[]> {
  const ran: string[] = [];
  for (const task of tasks) {
    try {
      // One transaction per task; withTransaction guards the client (a connection lost mid-task is
      // this task's failure, never an unhandled 'error' event) and rolls back on any error.
      const done = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_xact_lock($1::bigint) AS locked',
          [lockKey(task.name)],
        );
        const recent = (
          await client.query<{ recent: boolean }>(claimSql, [task.name, task.intervalMs / 1000])
        ).rows[0]?.recent;
        // Another worker holds it, or it ran within its interval: nothing to do (the commit is a no-op).
        if (!rows[0]?.locked || recent) return undefined;
        // A task that runs is a trace of its own (`maintenance gc`), its statements under it; the checks
        // above are not traced (no trace for every task that was not due).
        return inSpan(
          `maintenance ${task.name}`,
          { 'lodestar.task': task.name },
          async () => {
            const started = performance.now();
            const result = await task.run(client);
            const ms = performance.now() - started;
            await client.query(recordSql, [
              task.name,
              JSON.stringify(result ?? null),
              ms,
              isUnfinished(result),
              task.intervalMs / 1000,
            ]);
            return { result, ms };
          },
          { root: true },
        );
      });
      if (!done) continue;
      ran.push(task.name);
      logger[task.quiet ? 'debug' : 'info'](
        { task: task.name, result: done.result, ms: Math.round(done.ms) },
        'maintenance task ran',
      );
    } catch (error) {
      logger.error(
        { err: coerceError(error), task: task.name },
        'maintenance task failed; it will be tried again',
      );
    }
  }
  return ran;
}
