import { describe, expect, it } from 'vitest';
import { topK } from './topK.js';

describe('topK', () => {
  it('returns the k best indices, best first, lower index on ties, skipping excluded and NaN', () => {
    const scores = [0.5, 0.9, NaN, 0.9, 0.1, 0.7, 1.2];
    expect(topK(scores, 3)).toEqual([6, 1, 3]);
    expect(topK(scores, 3, (i) => i === 6)).toEqual([1, 3, 5]);
    expect(topK(scores, 10)).toEqual([6, 1, 3, 5, 0, 4]);
    expect(topK([], 3)).toEqual([]);
  });

  it('matches a full sort on random scores', () => {
    const scores = Array.from(
      { length: 500 },
      (_, i) => Math.sin(i * 12.9898) * 43758.5453 - Math.floor(Math.sin(i * 12.9898) * 43758.5453),
    );
    const sorted = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    expect(topK(scores, 20)).toEqual(sorted.slice(0, 20).map(([, i]) => i));
  });
});
