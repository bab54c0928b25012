/**
 * The feed's ranking stage: every personalised candidate, whichever generator found it, is scored by one
 * linear model over the features below, and the exploit pool is served in that order. The features are
 * logged with every impression (`learning_events.context.features`, in RANKING_FEATURES order), so the
 * worker can learn the weights from feedback (src/feed/rankerTraining.ts); until it has enough data the
 * fixed DEFAULT_RANKER_WEIGHTS serve, and they alone must be good (a new deployment has no log).
 *
 * Pure: no I/O. Values are plain numbers so a logged vector means the same thing to the trainer.
 */
import { RANKING_FEATURE_NAMES } from '../config/rankingFeatures.js';

/** The features, in the order of a logged vector (their meanings: src/config/rankingFeatures.ts). */
export const RANKING_FEATURES = RANKING_FEATURE_NAMES;

export type RankingFeature = (typeof RANKING_FEATURES)[number];

export { RANKING_FEATURES_VERSION } from '../config/rankingFeatures.js';

export type FeatureVector = Readonly<Record<RankingFeature, number>>;

export interface RankerWeights {
  readonly bias: number;
  readonly weights: FeatureVector;
}

/**
 * Defaults, chosen with the offline evaluation (`npm run eval`, docs/recommendations.md) on the importer's
 * own vectors and on vectors that do not lean popular ("Vectors from elsewhere"): similarity leads,
 * co-engagement and popularity carry what the vectors do not know, and the viewer's own categories count.
 */
export const DEFAULT_RANKER_WEIGHTS: RankerWeights = {
  bias: 0,
  weights: {
    similarity: 4,
    coengagement: 1,
    popularity: 0.4,
    recency: 0.1,
    categoryAffinity: 0.2,
    categoryShare: 0.5,
    fromSimilar: 0,
    fromInterests: 0,
    fromCoengagement: 0,
    fromCategoryPopular: 0,
  },
};

/**
 * The fixed weights a deployment serves: DEFAULT_RANKER_WEIGHTS with FEED_RANKER_WEIGHTS' features
 * replaced (config.feed.rankerWeights; none given = the defaults themselves).
 */
export function fixedRankerWeights(overrides: Partial<Record<RankingFeature, number>>): RankerWeights {
  const given = Object.entries(overrides).filter(([, w]) => typeof w === 'number' && Number.isFinite(w));
  if (given.length === 0) return DEFAULT_RANKER_WEIGHTS;
  return {
    bias: DEFAULT_RANKER_WEIGHTS.bias,
    weights: { ...DEFAULT_RANKER_WEIGHTS.weights, ...Object.fromEntries(given) },
  };
}

/** The features as an array in RANKING_FEATURES order (what is logged and trained on). */
export function featureArray(features: FeatureVector): number[] {
  return RANKING_FEATURES.map((name) => features[name]);
}

/** The features stored from `offset` of `values` in RANKING_FEATURES order (featureArray's layout). */
export function featuresAt(values: ArrayLike<number>, offset: number): FeatureVector {
  const out = {} as Record<RankingFeature, number>;
  for (let i = 0; i < RANKING_FEATURES.length; i += 1) out[RANKING_FEATURES[i]!] = values[offset + i] ?? 0;
  return out;
}

/** The inverse of featureArray; null when the array does not have one finite number per feature. */
export function featuresFromArray(values: unknown): FeatureVector | null {
  if (!Array.isArray(values) || values.length !== RANKING_FEATURES.length) return null;
  const out: Partial<Record<RankingFeature, number>> = {};
  for (let i = 0; i < RANKING_FEATURES.length; i += 1) {
    const v: unknown = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return null;
    out[RANKING_FEATURES[i]!] = v;
  }
  return out as FeatureVector;
}

/** The linear score w·x + b (its logistic is the predicted chance of a positive reaction). */
export function rankScore(model: RankerWeights, features: FeatureVector): number {
  let score = model.bias;
  for (const name of RANKING_FEATURES) score += model.weights[name] * features[name];
  return score;
}

/** Candidates best first by rankScore; ties by id so the order is deterministic. */
export function rankCandidates<T extends { id: number; features: FeatureVector }>(
  model: RankerWeights,
  candidates: readonly T[],
): (T & { rank: number })[] {
  return candidates
    .map((c) => ({ ...c, rank: rankScore(model, c.features) }))
    .sort((a, b) => b.rank - a.rank || a.id - b.id);
}

const F = RANKING_FEATURES.length;

/** Each feature's place in a vector (FeatureTable.build's writers). */
export const featureIndex = Object.fromEntries(RANKING_FEATURES.map((name, i) => [name, i])) as Readonly<
  Record<RankingFeature, number>
>;

/** A model's weights as an array in RANKING_FEATURES order, made once per model (FeatureTable.score). */
const weightArrays = new WeakMap<RankerWeights, Float64Array>();

function weightArrayOf(model: RankerWeights): Float64Array {
  let w = weightArrays.get(model);
  if (w === undefined) {
    w = Float64Array.from(RANKING_FEATURES, (name) => model.weights[name]);
    weightArrays.set(model, w);
  }
  return w;
}

/**
 * The ranking features of a page's candidate listings by listing id, stored flat: listing `ids[i]` has
 * its vector at values[i·F … i·F + F − 1] (F = RANKING_FEATURES.length, featureArray's layout). Two typed
 * arrays (outside the V8 heap) instead of an object per listing: ranking reads them as numbers (score), a
 * kept viewer's candidates share the table between pages (src/feed/candidateMemory.ts), and an object is
 * made only for the listings that are logged (array) or asked for (get). Never changed once built.
 */
export class FeatureTable {
  /** `ids` ascending, so a lookup is a binary search: no index object per table on the heap. */
  private constructor(
    private readonly ids: Int32Array,
    private readonly values: Float64Array,
  ) {}

  /** A table of these vectors (the first one given for an id wins). */
  static of(entries: Iterable<readonly [number, FeatureVector]>): FeatureTable {
    const unique = new Map<number, FeatureVector>();
    for (const [id, vector] of entries) if (!unique.has(id)) unique.set(id, vector);
    return FeatureTable.build(unique.keys(), (id, values, offset) => {
      const vector = unique.get(id)!;
      for (let k = 0; k < F; k += 1) values[offset + k] = vector[RANKING_FEATURES[k]!];
    });
  }

  /**
   * A table of `ids` (distinct), each vector written by `write` at `values[offset …]` in RANKING_FEATURES
   * order (use featureIndex): no object per listing on the way.
   */
  static build(
    ids: Iterable<number>,
    write: (id: number, values: Float64Array, offset: number) => void,
  ): FeatureTable {
    const sorted = Int32Array.from(ids).sort();
    const values = new Float64Array(sorted.length * F);
    for (let i = 0; i < sorted.length; i += 1) {
      if (i > 0 && sorted[i] === sorted[i - 1]) throw new RangeError(`listing ${sorted[i]} given twice`);
      write(sorted[i]!, values, i * F);
    }
    return new FeatureTable(sorted, values);
  }

  /** The listing's row, or −1. */
  private rowOf(id: number): number {
    let lo = 0;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.ids[mid]!;
      if (at === id) return mid;
      if (at < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: number): boolean {
    return this.rowOf(id) >= 0;
  }

  /** The listing's vector as an object (featuresAt), or undefined when it is not in the table. */
  get(id: number): FeatureVector | undefined {
    const i = this.rowOf(id);
    return i < 0 ? undefined : featuresAt(this.values, i * F);
  }

  /** The listing's vector in RANKING_FEATURES order (featureArray), or null when it is not in the table. */
  array(id: number): number[] | null {
    const i = this.rowOf(id);
    return i < 0 ? null : Array.from(this.values.subarray(i * F, i * F + F));
  }

  /** One feature of the listing, or NaN when the listing is not in the table: no array or object made. */
  value(id: number, feature: RankingFeature): number {
    const i = this.rowOf(id);
    return i < 0 ? Number.NaN : this.values[i * F + featureIndex[feature]]!;
  }

  /**
   * rankScore(model, get(id)) without the object: the same sum in the same order, so the same number;
   * NaN when the listing is not in the table.
   */
  score(model: RankerWeights, id: number): number {
    const i = this.rowOf(id);
    if (i < 0) return Number.NaN;
    const w = weightArrayOf(model);
    let score = model.bias;
    for (let k = 0, at = i * F; k < F; k += 1, at += 1) score += w[k]! * this.values[at]!;
    return score;
  }

  /** The listing ids, ascending. */
  keys(): IterableIterator<number> {
    return this.ids.values();
  }

  /** Each listing with its vector as an object, by ascending id. */
  *entries(): IterableIterator<[number, FeatureVector]> {
    for (let i = 0; i < this.ids.length; i += 1) yield [this.ids[i]!, featuresAt(this.values, i * F)];
  }
}
