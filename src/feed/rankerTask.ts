import type pg from 'pg';
import {
  DEFAULT_RANKER_WEIGHTS,
  featureArray,
  featuresFromArray,
  RANKING_FEATURES_VERSION,
} from './ranking.js';
import { readLatestRankerModel, sameWeights } from './rankerModel.js';
import {
  trainRanker,
  type TrainingMetrics,
  type TrainingOptions,
  type TrainingRow,
} from './rankerTraining.js';

export interface RankerTrainingOptions {
  /** Labelled impressions needed before training (FEED_RANKER_MIN_EVENTS). */
  minEvents: number;
  /** Positive impressions needed before training. @default 50 */
  minPositives?: number;
  /** An unrewarded impression counts as negative once this many minutes old (FEED_LIKE_ATTRIBUTION_MINUTES). */
  attributionMinutes: number;
  /** The latest this many labelled impressions are read at most. @default 200000 */
  maxRows?: number;
  /** Impressions of the last this many days. @default 30 */
  windowDays?: number;
  /** Models kept; older ones are deleted by the same run. @default 20 */
  keep?: number;
  training?: TrainingOptions;
}

/** What a run records in maintenance_runs.last_result. */
export type RankerTrainingResult =
  | { trained: false; reason: string; samples: number; positives: number; skippedRows?: number }
  | {
      trained: true;
      stored: boolean;
      /** Why the serving weights stay, when not stored. */
      reason?: string;
      modelId?: string;
      samples: number;
      positives: number;
      skippedRows: number;
      metrics: TrainingMetrics;
    };

const trainingEventsSql = `
SELECT features, label, propensity, created_at, "position"
FROM ranker_training_rows($1, now() - make_interval(days => $2), make_interval(mins => $3), $4)`;

const insertModelSql = `
INSERT INTO feed_ranker_models (features_version, bias, weights, samples, positives, metrics)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text AS id`;

/** Keeps the latest `$1` models (all feature versions together). */
const pruneModelsSql = `
DELETE FROM feed_ranker_models
WHERE id NOT IN (SELECT id FROM feed_ranker_models ORDER BY trained_at DESC, id DESC LIMIT $1)`;

/**
 * The worker's ranker_training task: reads labelled impressions of the current feature version, fits
 * weights (src/feed/rankerTraining.ts) and stores them only when they order the holdout better (AUC) than
 * the fixed weights it was pulled towards (options.training.prior: DEFAULT_RANKER_WEIGHTS or
 * FEED_RANKER_WEIGHTS'); otherwise the result says why the serving weights (or the last model) stay.
 */
export async function runRankerTraining(
  tx: pg.PoolClient,
  options: RankerTrainingOptions,
): Promise<RankerTrainingResult> {
  const minPositives = options.minPositives ?? 50;
  const { rows } = await tx.query<{
    features: unknown;
    label: number;
    propensity: number;
    created_at: Date;
    position: number;
  }>(trainingEventsSql, [
    RANKING_FEATURES_VERSION,
    options.windowDays ?? 30,
    options.attributionMinutes,
    options.maxRows ?? 200_000,
  ]);
  const training: TrainingRow[] = [];
  let skippedRows = 0;
  for (const r of rows) {
    const features = featuresFromArray(r.features);
    if (!features) {
      skippedRows += 1;
      continue;
    }
    training.push({
      features: featureArray(features),
      label: r.label > 0 ? 1 : 0,
      propensity: r.propensity,
      createdAt: r.created_at,
      position: r.position,
    });
  }
  const positives = training.reduce((n, r) => n + r.label, 0);
  const samples = training.length;
  if (samples < options.minEvents) {
    return {
      trained: false,
      reason: `${samples} labelled impressions, ${options.minEvents} needed`,
      samples,
      positives,
      skippedRows,
    };
  }
  if (positives < minPositives) {
    return {
      trained: false,
      reason: `${positives} positive impressions, ${minPositives} needed`,
      samples,
      positives,
      skippedRows,
    };
  }
  // The latest stored model serves beside the same fixed weights (an earlier run's): a new model must order
  // this holdout better than it too, or a run on a log that says less would replace better weights.
  const prior = options.training?.prior ?? DEFAULT_RANKER_WEIGHTS;
  const stored = await readLatestRankerModel({
    query: async <R extends pg.QueryResultRow>(text: string, values: unknown[]) =>
      (await tx.query<R>(text, values)).rows,
  });
  const serving = stored?.prior && sameWeights(stored.prior, prior) ? stored.model : undefined;
  const result = trainRanker(training, { ...options.training, ...(serving ? { serving } : {}) });
  if (!result.ok) return { trained: false, reason: result.reason, samples, positives, skippedRows };
  const { metrics } = result;
  const base = { trained: true as const, samples, positives, skippedRows, metrics };
  // Ranking is what the weights are for: the learned ones must order the holdout better (AUC). The
  // defaults' scores are not probabilities, so their log-loss is reported but not compared.
  const { learned, defaults } = metrics;
  if (learned.auc === null || defaults.auc === null || !(learned.auc > defaults.auc)) {
    return {
      ...base,
      stored: false,
      reason:
        `holdout AUC ${learned.auc?.toFixed(4) ?? 'n/a'} is not above the fixed weights' ` +
        `${defaults.auc?.toFixed(4) ?? 'n/a'}; the serving weights stay`,
    };
  }
  const servingAuc = metrics.serving?.auc;
  if (servingAuc !== undefined && servingAuc !== null && !(learned.auc > servingAuc)) {
    return {
      ...base,
      stored: false,
      reason:
        `holdout AUC ${learned.auc.toFixed(4)} is not above the serving model's ${servingAuc.toFixed(4)} ` +
        `(model ${stored!.id}); it stays`,
    };
  }
  const inserted = await tx.query<{ id: string }>(insertModelSql, [
    RANKING_FEATURES_VERSION,
    result.model.bias,
    JSON.stringify(result.model.weights),
    samples,
    positives,
    JSON.stringify(metrics),
  ]);
  await tx.query(pruneModelsSql, [options.keep ?? 20]);
  return { ...base, stored: true, modelId: inserted.rows[0]?.id };
}
