/**
 * Learning the ranking stage's weights from logged feedback (issue #16): an IPS-weighted, L2-regularised
 * logistic regression over the feature vectors the feed logs with every impression
 * (`learning_events.context.features`), fitted by Newton's method (IRLS) — cheap for ten features.
 *
 * Each impression is weighted by 1 / max(propensity, 0.05), clipped and normalised to mean 1, so the
 * slots the logging policy chose rarely count for what they stand for (inverse propensity scoring). The
 * latest 20 % of rows (by time) are held out: the learned model and the prior (the serving weights,
 * DEFAULT_RANKER_WEIGHTS or FEED_RANKER_WEIGHTS; read as a logistic model, sigmoid(rankScore)) are scored
 * there by weighted log-loss and AUC, and the caller keeps the learned weights only when they beat them.
 *
 * Pure: no I/O. Degenerate data (one label only, non-finite values, a singular system) gives no model
 * rather than a bad one.
 */
import {
  DEFAULT_RANKER_WEIGHTS,
  RANKING_FEATURES,
  type FeatureVector,
  type RankerWeights,
} from './ranking.js';

export interface TrainingRow {
  /** In RANKING_FEATURES order. */
  features: readonly number[];
  label: 0 | 1;
  /** The logging policy's probability of this impression (0..1]. */
  propensity: number;
  createdAt: Date;
  /** Where the impression was shown in the viewer's feed (learning_events.position; 0 = first), when known. */
  position?: number;
}

export interface TrainingOptions {
  /**
   * L2 penalty pulling the weights (not the bias) towards `prior`, per unit of total sample weight.
   * @default 0.1
   */
  l2?: number;
  /**
   * Where the penalty pulls, and what the holdout compares with (`metrics.defaults`): the weights the feed
   * served while the log was written (default DEFAULT_RANKER_WEIGHTS; the worker passes FEED_RANKER_WEIGHTS'). The log only holds what that ranking put on pages, so it says little about
   * the candidates it ranked low; centring the penalty there keeps what the log cannot contradict.
   */
  prior?: RankerWeights;
  /**
   * The model serving now, when it is not the prior (a stored model): scored on the same holdout
   * (`metrics.serving`), so a new model replaces it only when it orders the holdout better too.
   */
  serving?: RankerWeights;
  /** Propensities below this count as this (bounds the IPS weight). @default 0.05 */
  minPropensity?: number;
  /** IPS weights are clipped here before normalising. @default 20 */
  maxWeight?: number;
  /** Share of the latest rows held out for the metrics. @default 0.2 */
  holdoutShare?: number;
  /** Newton iterations at most. @default 50 */
  maxIterations?: number;
  /**
   * Fit a term in log(1 + position) beside the features when every row has its position: people react
   * less to what is further down their feed, whatever it is, and without the term that shows up as the
   * weights of what the logging ranking put low (exploration's popular, new, less similar listings). The
   * term is trained, never served: every candidate is ranked as if at the same position. It is told apart
   * from the features only where the log places listings independently of them (exploration). @default true
   */
  positionTerm?: boolean;
}

export interface HoldoutMetrics {
  /** IPS-weighted mean log-loss on the holdout. */
  logLoss: number;
  /**
   * AUC on the holdout (IPS-weighted pairs; only pairs at the same position when the position term was
   * fitted); null when the holdout has only one label.
   */
  auc: number | null;
}

export interface TrainingMetrics {
  trainSamples: number;
  trainPositives: number;
  holdoutSamples: number;
  holdoutPositives: number;
  learned: HoldoutMetrics;
  /** The prior's (the serving fixed weights': the defaults or FEED_RANKER_WEIGHTS') on the same holdout. */
  defaults: HoldoutMetrics;
  /** The serving stored model's (options.serving), when one was given. */
  serving?: HoldoutMetrics;
  iterations: number;
  /** The fitted weight of log(1 + position), when the position term was fitted (training only, never served). */
  positionWeight?: number;
  /** The fixed weights the fit was pulled towards and compared with; a model serves only beside them. */
  prior: RankerWeights;
}

export type TrainingResult =
  | { ok: true; model: RankerWeights; samples: number; positives: number; metrics: TrainingMetrics }
  | { ok: false; reason: string; samples: number; positives: number };

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
const EPS = 1e-12;

interface Prepared {
  x: Float64Array[];
  y: Uint8Array;
  w: Float64Array;
  /** log(1 + position) per row, when the position term is fitted. */
  position: Float64Array | null;
}

/** IPS weights, clipped and normalised to mean 1 over the given rows. */
function prepare(
  rows: readonly TrainingRow[],
  minPropensity: number,
  maxWeight: number,
  withPosition: boolean,
): Prepared {
  const x = rows.map((r) => Float64Array.from(r.features));
  const position = withPosition ? Float64Array.from(rows, (r) => Math.log1p(r.position!)) : null;
  const y = Uint8Array.from(rows.map((r) => r.label));
  const w = Float64Array.from(
    rows.map((r) => Math.min(1 / Math.max(r.propensity, minPropensity), maxWeight)),
  );
  let total = 0;
  for (const v of w) total += v;
  const scale = rows.length / total;
  for (let i = 0; i < w.length; i += 1) w[i]! *= scale;
  return { x, y, w, position };
}

/** Solves A·s = b in place by Gaussian elimination with partial pivoting; null when singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  for (let col = 0; col < n; col += 1) {
    let pivot = col;
    for (let r = col + 1; r < n; r += 1) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    if (Math.abs(a[pivot]![col]!) < 1e-12) return null;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    [b[col], b[pivot]] = [b[pivot]!, b[col]!];
    for (let r = col + 1; r < n; r += 1) {
      const f = a[r]![col]! / a[col]![col]!;
      if (f === 0) continue;
      for (let c = col; c < n; c += 1) a[r]![c]! -= f * a[col]![c]!;
      b[r]! -= f * b[col]!;
    }
  }
  const s = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r -= 1) {
    let v = b[r]!;
    for (let c = r + 1; c < n; c += 1) v -= a[r]![c]! * s[c]!;
    s[r] = v / a[r]![r]!;
  }
  return s;
}

/**
 * Newton/IRLS on θ = [bias, w₁…w_F] (and, with data.position, a last coefficient of log(1 + position));
 * the penalty pulls the feature weights towards the prior's, never the bias or the position term.
 */
function fitLogistic(
  data: Prepared,
  l2: number,
  prior: RankerWeights,
  maxIterations: number,
): { theta: number[]; iterations: number } | null {
  const F = RANKING_FEATURES.length;
  const d = F + 1 + (data.position ? 1 : 0);
  const centre = [0, ...RANKING_FEATURES.map((name) => prior.weights[name])];
  // Row i's value of coefficient j: 1 for the bias, the features, then log(1 + position).
  const valueOf = (xi: Float64Array, i: number, j: number): number =>
    j === 0 ? 1 : j <= F ? xi[j - 1]! : data.position![i]!;
  // Newton from zero weights (its usual, safe start) with the bias at the positive rate's log-odds.
  const theta = new Array<number>(d).fill(0);
  let totalWeight = 0;
  let positiveWeight = 0;
  for (let i = 0; i < data.x.length; i += 1) {
    totalWeight += data.w[i]!;
    positiveWeight += data.w[i]! * data.y[i]!;
  }
  const rate = Math.min(Math.max(positiveWeight / totalWeight, 1e-6), 1 - 1e-6);
  theta[0] = Math.log(rate / (1 - rate));
  const lambda = l2 * totalWeight;
  for (let iter = 1; iter <= maxIterations; iter += 1) {
    const grad = new Array<number>(d).fill(0);
    const hess = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < data.x.length; i += 1) {
      const xi = data.x[i]!;
      let z = 0;
      for (let j = 0; j < d; j += 1) z += theta[j]! * valueOf(xi, i, j);
      const p = sigmoid(z);
      const wi = data.w[i]!;
      const g = wi * (p - data.y[i]!);
      const h = wi * Math.max(p * (1 - p), 1e-9);
      for (let j = 0; j < d; j += 1) {
        const xj = valueOf(xi, i, j);
        grad[j]! += g * xj;
        const row = hess[j]!;
        for (let k = j; k < d; k += 1) row[k]! += h * xj * valueOf(xi, i, k);
      }
    }
    for (let j = 0; j < d; j += 1) for (let k = 0; k < j; k += 1) hess[j]![k] = hess[k]![j]!;
    for (let j = 1; j <= F; j += 1) {
      grad[j]! += lambda * (theta[j]! - centre[j]!);
      hess[j]![j]! += lambda;
    }
    const step = solve(hess, grad);
    if (!step || step.some((s) => !Number.isFinite(s))) return null;
    let largest = 0;
    for (let j = 0; j < d; j += 1) {
      theta[j]! -= step[j]!;
      largest = Math.max(largest, Math.abs(step[j]!));
    }
    if (largest < 1e-8) return { theta, iterations: iter };
  }
  return theta.every(Number.isFinite) ? { theta, iterations: maxIterations } : null;
}

/**
 * The bias at which Σ wᵢ·sigmoid(bias + weights·xᵢ) = Σ wᵢ·yᵢ over the rows: the bounds are widened until
 * they hold it (the predicted total rises with the bias), then bisected.
 */
function calibratedBias(data: Prepared, weights: FeatureVector): number {
  const scores = data.x.map((x) => scoreOf({ bias: 0, weights }, x));
  let target = 0;
  for (let i = 0; i < scores.length; i += 1) target += data.w[i]! * data.y[i]!;
  const predicted = (bias: number): number => {
    let total = 0;
    for (let i = 0; i < scores.length; i += 1) total += data.w[i]! * sigmoid(bias + scores[i]!);
    return total;
  };
  let lo = -1;
  let hi = 1;
  while (predicted(lo) > target && lo > -1e9) lo *= 2;
  while (predicted(hi) < target && hi < 1e9) hi *= 2;
  for (let step = 0; step < 100 && hi - lo > 1e-9 * Math.max(1, Math.abs(lo)); step += 1) {
    const mid = (lo + hi) / 2;
    if (predicted(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function scoreOf(model: RankerWeights, x: Float64Array): number {
  let z = model.bias;
  for (let j = 0; j < RANKING_FEATURES.length; j += 1) z += model.weights[RANKING_FEATURES[j]!] * x[j]!;
  return z;
}

/** IPS-weighted log-loss and AUC of a model on prepared rows. AUC by sorting scores: O(n log n). */
function evaluateModel(model: RankerWeights, data: Prepared): HoldoutMetrics {
  const n = data.x.length;
  const scores = new Float64Array(n);
  let loss = 0;
  let weight = 0;
  for (let i = 0; i < n; i += 1) {
    const s = scoreOf(model, data.x[i]!);
    scores[i] = s;
    const p = Math.min(Math.max(sigmoid(s), EPS), 1 - EPS);
    loss += data.w[i]! * -(data.y[i] ? Math.log(p) : Math.log(1 - p));
    weight += data.w[i]!;
  }
  // With positions, only pairs at the same position are compared: a like higher up says as much about
  // where it was shown as about what it was, and the weights are served without the position.
  let concordant = 0;
  let pairs = 0;
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i += 1) {
    const key = data.position ? data.position[i]! : 0;
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = []));
    group.push(i);
  }
  for (const group of groups.values()) {
    const g = mannWhitney(group, scores, data);
    concordant += g.concordant;
    pairs += g.pairs;
  }
  return {
    logLoss: weight > 0 ? loss / weight : Number.NaN,
    auc: pairs > 0 ? concordant / pairs : null,
  };
}

/**
 * Weighted Mann-Whitney over the rows `indices`: each positive counts the negative weight scored below it
 * (ties half); AUC = concordant / pairs. O(k log k) for k rows.
 */
function mannWhitney(
  indices: number[],
  scores: Float64Array,
  data: Prepared,
): { concordant: number; pairs: number } {
  const order = indices.sort((a, b) => scores[a]! - scores[b]!);
  const n = order.length;
  let negBelow = 0;
  let posTotal = 0;
  let negTotal = 0;
  let concordant = 0;
  for (let start = 0; start < n;) {
    let end = start;
    while (end < n && scores[order[end]!] === scores[order[start]!]) end += 1;
    let pos = 0;
    let neg = 0;
    for (let k = start; k < end; k += 1) {
      const i = order[k]!;
      if (data.y[i]) pos += data.w[i]!;
      else neg += data.w[i]!;
    }
    concordant += pos * (negBelow + neg / 2);
    negBelow += neg;
    posTotal += pos;
    negTotal += neg;
    start = end;
  }
  return { concordant, pairs: posTotal * negTotal };
}

/**
 * Fits weights on the earliest 80 % of rows (by createdAt) and scores them and the defaults on the rest.
 * Rows whose vector is not one finite number per feature, or whose propensity is not in (0, 1], are
 * dropped (and counted out of `samples`).
 */
export function trainRanker(input: readonly TrainingRow[], options: TrainingOptions = {}): TrainingResult {
  const l2 = options.l2 ?? 0.1;
  const prior = options.prior ?? DEFAULT_RANKER_WEIGHTS;
  const minPropensity = options.minPropensity ?? 0.05;
  const maxWeight = options.maxWeight ?? 20;
  const holdoutShare = options.holdoutShare ?? 0.2;
  const rows = input
    .filter(
      (r) =>
        r.features.length === RANKING_FEATURES.length &&
        r.features.every(Number.isFinite) &&
        (r.label === 0 || r.label === 1) &&
        Number.isFinite(r.propensity) &&
        r.propensity > 0 &&
        r.propensity <= 1 &&
        Number.isFinite(r.createdAt.getTime()),
    )
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  const positives = rows.reduce((n, r) => n + r.label, 0);
  const samples = rows.length;
  const fail = (reason: string): TrainingResult => ({ ok: false, reason, samples, positives });
  if (positives === 0 || positives === samples) return fail('only one label in the data');
  const cut = Math.floor(samples * (1 - holdoutShare));
  const train = rows.slice(0, cut);
  const holdout = rows.slice(cut);
  const trainPositives = train.reduce((n, r) => n + r.label, 0);
  const holdoutPositives = holdout.reduce((n, r) => n + r.label, 0);
  if (trainPositives === 0 || trainPositives === train.length)
    return fail('only one label in the training part');
  if (holdout.length === 0) return fail('no holdout rows');
  // The position term only where every row has a position and they differ (a constant column has nothing
  // to fit).
  const withPosition =
    options.positionTerm !== false &&
    rows.every((r) => typeof r.position === 'number' && Number.isInteger(r.position) && r.position >= 0) &&
    train.some((r) => r.position !== train[0]!.position);
  const maxIterations = options.maxIterations ?? 50;
  let data = prepare(train, minPropensity, maxWeight, withPosition);
  let fit = fitLogistic(data, l2, prior, maxIterations);
  // Without convergence the position term has run away (every like at one position, say): fitted again
  // without it, as when it makes the fit singular.
  if (withPosition && (!fit || fit.iterations >= maxIterations)) {
    data = prepare(train, minPropensity, maxWeight, false);
    fit = fitLogistic(data, l2, prior, maxIterations);
  }
  if (!fit) return fail('the fit did not converge to finite weights');
  const weights = Object.fromEntries(
    RANKING_FEATURES.map((name, j) => [name, fit.theta[j + 1]!]),
  ) as FeatureVector;
  const F = RANKING_FEATURES.length;
  const positionWeight = data.position ? fit.theta[F + 1]! : undefined;
  // Served without the position term: the bias is refitted so that the predictions without it match the
  // training rows' (weighted) rate of positives; the order, all that serving uses, does not depend on it.
  const model: RankerWeights = {
    bias: positionWeight === undefined ? fit.theta[0]! : calibratedBias(data, weights),
    weights,
  };
  const test = prepare(holdout, minPropensity, maxWeight, data.position !== null);
  const learned = evaluateModel(model, test);
  if (!Number.isFinite(learned.logLoss)) return fail('the holdout log-loss is not finite');
  return {
    ok: true,
    model,
    samples,
    positives,
    metrics: {
      trainSamples: train.length,
      trainPositives,
      holdoutSamples: holdout.length,
      holdoutPositives,
      learned,
      defaults: evaluateModel(prior, test),
      ...(options.serving ? { serving: evaluateModel(options.serving, test) } : {}),
      iterations: fit.iterations,
      ...(positionWeight === undefined ? {} : { positionWeight }),
      prior,
    },
  };
}
