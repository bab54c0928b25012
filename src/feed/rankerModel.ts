import type { ServiceDb } from '../db/service.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import {
  DEFAULT_RANKER_WEIGHTS,
  RANKING_FEATURES,
  RANKING_FEATURES_VERSION,
  type FeatureVector,
  type RankerWeights,
} from './ranking.js';
import type { HoldoutMetrics } from './rankerTraining.js';

/** FEED_RANKER: learned weights (when a model exists), the fixed defaults, or no ranking (similarity only). */
export type RankerMode = 'learned' | 'fixed' | 'off';
export type RankerName = 'learned' | 'default' | 'off';

/** A stored model of feed_ranker_models (written by the worker's ranker_training task). */
export interface StoredRankerModel {
  id: string;
  trainedAt: Date;
  featuresVersion: number;
  samples: number;
  positives: number;
  model: RankerWeights;
  /** Holdout metrics of the learned weights and of the fixed weights it was compared with, when recorded. */
  learned: HoldoutMetrics | null;
  defaults: HoldoutMetrics | null;
  /**
   * The fixed weights it was trained against (metrics.prior); models stored before that was recorded were
   * all trained against DEFAULT_RANKER_WEIGHTS. Null when the recorded value is not a model.
   */
  prior: RankerWeights | null;
}

/** The latest model of a feature version (service path). */
export const latestRankerModelSql = `
SELECT id::text AS id, trained_at, features_version, bias, weights, samples, positives, metrics
FROM feed_ranker_models WHERE features_version = $1 ORDER BY trained_at DESC, id DESC LIMIT 1`;

export interface RankerModelRow {
  id: string;
  trained_at: Date;
  features_version: number;
  bias: number;
  weights: unknown;
  samples: number;
  positives: number;
  metrics: unknown;
}

const holdoutOf = (value: unknown): HoldoutMetrics | null => {
  if (typeof value !== 'object' || value === null) return null;
  const { logLoss, auc } = value as { logLoss?: unknown; auc?: unknown };
  if (typeof logLoss !== 'number' || !Number.isFinite(logLoss)) return null;
  return { logLoss, auc: typeof auc === 'number' && Number.isFinite(auc) ? auc : null };
};

/** Bias and weights as a model; null unless the weights name one finite number per feature. */
function weightsOf(bias: unknown, weights: unknown): RankerWeights | null {
  if (typeof weights !== 'object' || weights === null || typeof bias !== 'number' || !Number.isFinite(bias))
    return null;
  const out: Partial<Record<(typeof RANKING_FEATURES)[number], number>> = {};
  for (const name of RANKING_FEATURES) {
    const v = (weights as Record<string, unknown>)[name];
    if (typeof v !== 'number' || !Number.isFinite(v)) return null;
    out[name] = v;
  }
  return { bias, weights: out as FeatureVector };
}

/** A stored row as a model; null when its weights do not name one finite number per feature. */
export function rankerModelFromRow(row: RankerModelRow): StoredRankerModel | null {
  const model = weightsOf(row.bias, row.weights);
  if (!model) return null;
  const metrics = (typeof row.metrics === 'object' && row.metrics !== null ? row.metrics : {}) as {
    learned?: unknown;
    defaults?: unknown;
    prior?: { bias?: unknown; weights?: unknown };
  };
  return {
    id: row.id,
    trainedAt: row.trained_at,
    featuresVersion: row.features_version,
    samples: row.samples,
    positives: row.positives,
    model,
    learned: holdoutOf(metrics.learned),
    defaults: holdoutOf(metrics.defaults),
    prior:
      metrics.prior === undefined
        ? DEFAULT_RANKER_WEIGHTS
        : weightsOf(metrics.prior?.bias, metrics.prior?.weights),
  };
}

/** Whether two sets of weights are the same (a stored model's prior against the serving fixed weights). */
export function sameWeights(a: RankerWeights, b: RankerWeights): boolean {
  return a.bias === b.bias && RANKING_FEATURES.every((name) => a.weights[name] === b.weights[name]);
}

export async function readLatestRankerModel(
  service: Pick<ServiceDb, 'query'>,
  version = RANKING_FEATURES_VERSION,
): Promise<StoredRankerModel | null> {
  const [row] = await service.query<RankerModelRow>(latestRankerModelSql, [version]);
  return row ? rankerModelFromRow(row) : null;
}

export interface RankerChoice {
  weights: RankerWeights;
  name: RankerName;
  /** The learned model serving (name 'learned'), for reports. */
  model: StoredRankerModel | null;
}

export interface RankerModelSource {
  /** What ranks now: never throws, never waits (the last refresh's result). */
  current: () => RankerChoice;
  /** Re-reads the latest model ('learned' only); keeps the last one when the read fails. */
  refresh: () => Promise<void>;
  stop: () => void;
}

/**
 * The ranking weights the gateway serves, refreshed on a timer (never per request), like the Thompson
 * posteriors: 'learned' serves the latest stored model of RANKING_FEATURES_VERSION (the defaults until
 * one exists, or while the table cannot be read), 'fixed' the defaults, 'off' no ranking.
 */
export function createRankerModelSource(options: {
  service: Pick<ServiceDb, 'query'>;
  logger: Logger;
  mode: RankerMode;
  refreshMs: number;
  /** What 'fixed' serves, and 'learned' until a model is stored (fixedRankerWeights). @default DEFAULT_RANKER_WEIGHTS */
  fixedWeights?: RankerWeights;
}): RankerModelSource {
  const { mode, logger } = options;
  const fixed: RankerChoice = {
    weights: options.fixedWeights ?? DEFAULT_RANKER_WEIGHTS,
    name: mode === 'off' ? 'off' : 'default',
    model: null,
  };
  let choice = fixed;
  if (mode !== 'learned') return { current: () => choice, refresh: () => Promise.resolve(), stop: () => {} };
  let setAside: string | null = null;
  const refresh = async () => {
    const model = await readLatestRankerModel(options.service);
    // A model serves only beside the fixed weights it was trained against and had to beat: one fitted
    // under other weights (FEED_RANKER_WEIGHTS changed since, or not given to the worker) is set aside.
    if (model && !(model.prior && sameWeights(model.prior, fixed.weights))) {
      if (setAside !== model.id)
        logger.warn(
          { modelId: model.id },
          'the latest learned ranker model was trained against other fixed weights than this process serves (FEED_RANKER_WEIGHTS of the worker and the gateway); serving the fixed weights until one trained against them is stored',
        );
      setAside = model.id;
      choice = fixed;
      return;
    }
    choice = model ? { weights: model.model, name: 'learned', model } : fixed;
  };
  const refreshLogged = () =>
    refresh().catch((error: unknown) =>
      logger.warn({ err: coerceError(error) }, 'could not read the learned ranker weights; keeping the last'),
    );
  const timer = setInterval(() => void refreshLogged(), options.refreshMs);
  timer.unref();
  // A failed first load only means the defaults for a little longer.
  void refreshLogged();
  return { current: () => choice, refresh, stop: () => clearInterval(timer) };
}
