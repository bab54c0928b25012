import { describe, expect, it } from 'vitest';
import { hitRateAtK, MetricAccumulator, ndcgAtK, precisionAtK, recallAtK } from './rankingMetrics.js';

const relevant = new Set([3, 7, 9]);

describe('ranking metrics at k', () => {
  it('count hits in the first k only', () => {
    const list = [3, 1, 7, 2, 9];
    expect(precisionAtK(list, relevant, 2)).toBe(0.5);
    expect(precisionAtK(list, relevant, 5)).toBeCloseTo(0.6, 12);
    // A short list still divides by k: missing slots are misses.
    expect(precisionAtK([3], relevant, 10)).toBeCloseTo(0.1, 12);
    expect(recallAtK(list, relevant, 3)).toBeCloseTo(2 / 3, 12);
    expect(recallAtK(list, new Set(), 3)).toBe(0);
    expect(hitRateAtK(list, relevant, 1)).toBe(1);
    expect(hitRateAtK([1, 2], relevant, 2)).toBe(0);
  });

  it('computes binary NDCG against the ideal list of min(k, |relevant|) hits', () => {
    // Hits at positions 1 and 3: DCG = 1 + 1/log2(4) = 1.5; ideal (3 relevant, k = 3) = 1 + 1/log2(3) + 1/2.
    expect(ndcgAtK([3, 1, 7], relevant, 3)).toBeCloseTo(1.5 / (1 + 1 / Math.log2(3) + 0.5), 12);
    expect(ndcgAtK([3, 7, 9], relevant, 3)).toBeCloseTo(1, 12);
    expect(ndcgAtK([1, 2, 3], relevant, 3)).toBeCloseTo(0.5 / (1 + 1 / Math.log2(3) + 0.5), 12);
    // One relevant item at the top is perfect whatever k is.
    expect(ndcgAtK([5, 1], new Set([5]), 10)).toBe(1);
    expect(ndcgAtK([5], new Set(), 10)).toBe(0);
  });

  it('refuses a k that is not a whole number >= 1', () => {
    expect(() => precisionAtK([1], relevant, 0)).toThrow('k must be a whole number >= 1, got 0');
    expect(() => new MetricAccumulator(1.5, 10)).toThrow('k must be a whole number >= 1, got 1.5');
  });
});

describe('MetricAccumulator', () => {
  it('averages per user and measures catalogue coverage of the first k', () => {
    const metrics = new MetricAccumulator(2, 10);
    metrics.add([3, 1, 8], relevant); // 1 hit in 2; item 8 is beyond k and not "shown"
    metrics.add([1, 2], relevant); // no hit
    const summary = metrics.summary();
    expect(summary.users).toBe(2);
    expect(summary.precision).toBeCloseTo(0.25, 12);
    expect(summary.hitRate).toBeCloseTo(0.5, 12);
    expect(summary.coverage).toBeCloseTo(3 / 10, 12);
    expect(() => metrics.add([12], relevant)).toThrow('item 12 is outside the catalogue of 10');
    expect(new MetricAccumulator(5, 0).summary()).toMatchObject({ users: 0, precision: 0, coverage: 0 });
  });
});
