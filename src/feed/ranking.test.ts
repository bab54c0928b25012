import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RANKER_WEIGHTS,
  RANKING_FEATURES,
  featureArray,
  featuresFromArray,
  rankCandidates,
  rankScore,
  type FeatureVector,
} from './ranking.js';

const zero = Object.fromEntries(RANKING_FEATURES.map((f) => [f, 0])) as Record<string, number>;
const features = (over: Partial<FeatureVector>): FeatureVector => ({ ...zero, ...over }) as FeatureVector;

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
