import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RANKER_WEIGHTS,
  FeatureTable,
  RANKING_FEATURES,
  featureIndex,
  featureArray,
  featuresFromArray,
  fixedRankerWeights,
  rankCandidates,
  rankScore,
  type FeatureVector,
} from './ranking.js';

const zero = Object.fromEntries(RANKING_FEATURES.map((f) => [f, 0])) as Record<string, number>;
const features = (over: Partial<FeatureVector>): FeatureVector => ({ ...zero, ...over }) as FeatureVector;

describe('fixedRankerWeights', () => {
  it('is the defaults themselves when FEED_RANKER_WEIGHTS names nothing', () => {
    expect(fixedRankerWeights({})).toBe(DEFAULT_RANKER_WEIGHTS);
  });

  it('replaces only the features named', () => {
    const weights = fixedRankerWeights({ popularity: 0, coengagement: 2 });
    expect(weights).toEqual({
      bias: DEFAULT_RANKER_WEIGHTS.bias,
      weights: { ...DEFAULT_RANKER_WEIGHTS.weights, popularity: 0, coengagement: 2 },
    });
    expect(DEFAULT_RANKER_WEIGHTS.weights.popularity).toBe(0.4);
  });
});

describe('ranking model', () => {
  it('round-trips a feature vector through its logged array', () => {
    const f = features({ similarity: 0.5, popularity: 3, fromCoengagement: 1 });
    expect(featuresFromArray(featureArray(f))).toEqual(f);
  });

  it('refuses logged arrays of the wrong shape or with non-numbers', () => {
    expect(featuresFromArray([1, 2])).toBeNull();
    expect(featuresFromArray(RANKING_FEATURES.map(() => 'x'))).toBeNull();
    expect(featuresFromArray(RANKING_FEATURES.map(() => Number.NaN))).toBeNull();
    expect(featuresFromArray({})).toBeNull();
  });

  it('ranks a more similar, co-engaged listing above a merely popular one with the defaults', () => {
    const ranked = rankCandidates(DEFAULT_RANKER_WEIGHTS, [
      { id: 1, features: features({ popularity: 1 }) },
      { id: 2, features: features({ similarity: 0.8, coengagement: 0.7 }) },
    ]);
    expect(ranked.map((c) => c.id)).toEqual([2, 1]);
  });

  it('adds the bias and each weighted feature', () => {
    const model = { bias: 1, weights: features({ similarity: 2, recency: -1 }) };
    expect(rankScore(model, features({ similarity: 0.5, recency: 2 }))).toBeCloseTo(0);
  });

  it('breaks ties by id', () => {
    const same = features({ similarity: 0.3 });
    const ranked = rankCandidates(DEFAULT_RANKER_WEIGHTS, [
      { id: 9, features: same },
      { id: 3, features: same },
    ]);
    expect(ranked.map((c) => c.id)).toEqual([3, 9]);
  });
});

describe('FeatureTable', () => {
  // Values with long binary fractions, so a sum taken in another order would differ in its last bits.
  const vector = (id: number): FeatureVector =>
    Object.fromEntries(
      RANKING_FEATURES.map((name, k) => [name, Math.sin(id * 7.3 + k) * 3.1]),
    ) as FeatureVector;
  const model = {
    bias: 0.37,
    weights: Object.fromEntries(
      RANKING_FEATURES.map((name, k) => [name, Math.cos(k * 1.9) * 2.3]),
    ) as FeatureVector,
  };

  it('scores a listing exactly as rankScore scores its vector, under any model', () => {
    // Given out of order: the table finds each by its id whatever order it was built in.
    const ids = Array.from({ length: 200 }, (_, i) => 1000 + ((i * 7919) % 200) * 13);
    const table = FeatureTable.of(ids.map((id) => [id, vector(id)] as const));
    for (const id of ids) {
      expect(table.score(model, id)).toBe(rankScore(model, vector(id)));
      expect(table.score(DEFAULT_RANKER_WEIGHTS, id)).toBe(rankScore(DEFAULT_RANKER_WEIGHTS, vector(id)));
    }
  });

  it('gives back each vector as it was given, as an object and as the logged array', () => {
    const odd = { ...vector(5), similarity: Number.NaN };
    const table = FeatureTable.of([
      [5, odd],
      [6, vector(6)],
      // A listing given twice keeps its first vector.
      [5, vector(99)],
    ]);
    expect(table.size).toBe(2);
    expect(table.get(5)).toEqual(odd);
    expect(table.array(6)).toEqual(featureArray(vector(6)));
    expect(table.array(5)?.[0]).toBeNaN();
    for (const name of RANKING_FEATURES) expect(table.value(6, name)).toBe(vector(6)[name]);
    expect(table.value(5, 'similarity')).toBeNaN();
    expect(table.value(5, 'categoryShare')).toBe(odd.categoryShare);
    expect([...table.keys()]).toEqual([5, 6]);
    expect([...table.entries()]).toEqual([
      [5, odd],
      [6, vector(6)],
    ]);
  });

  it('builds a table from writers that fill each vector in place, by feature index', () => {
    const table = FeatureTable.build([7, 3], (id, values, offset) => {
      values[offset + featureIndex.similarity] = id / 10;
      values[offset + featureIndex.fromCategoryPopular] = 1;
    });
    expect([...table.keys()]).toEqual([3, 7]);
    expect(table.get(7)).toEqual({ ...zero, similarity: 0.7, fromCategoryPopular: 1 });
    expect(() => FeatureTable.build([1, 1], () => {})).toThrow(RangeError);
  });

  it('knows nothing of a listing it was not given', () => {
    const table = FeatureTable.of([
      [9, vector(9)],
      [1, vector(1)],
      [5, vector(5)],
    ]);
    expect([...table.keys()]).toEqual([1, 5, 9]);
    for (const absent of [0, 2, 6, 10, -1]) expect(table.has(absent)).toBe(false);
    expect(table.get(9)).toEqual(vector(9));
    expect(table.has(2)).toBe(false);
    expect(table.get(2)).toBeUndefined();
    expect(table.array(2)).toBeNull();
    expect(table.score(model, 2)).toBeNaN();
    expect(table.value(2, 'categoryShare')).toBeNaN();
  });
});
