import { describe, expect, it } from 'vitest';
import { PopularityBiasAccumulator } from './popularityBias.js';

describe('PopularityBiasAccumulator', () => {
  it('compares the recommended items’ train likes with the catalogue mean and ranks them by percentile', () => {
    // Catalogue mean 2.5; sorted counts 0, 1, 1, 8 → percentiles 0.125, 0.5 (the tie's midpoint), 0.875.
    const bias = new PopularityBiasAccumulator([8, 1, 0, 1]);
    bias.add([0]);
    bias.add([1, 2]);
    const s = bias.summary();
    expect(s.ratio).toBeCloseTo(3 / 2.5, 10);
    expect(s.percentile).toBeCloseTo((0.875 + 0.5 + 0.125) / 3, 10);
  });

  it('is 0 with no lists and refuses items outside the catalogue', () => {
    const bias = new PopularityBiasAccumulator([1, 2]);
    expect(bias.summary()).toEqual({ ratio: 0, percentile: 0 });
    expect(() => bias.add([2])).toThrow(RangeError);
  });
});
