import type { Rng } from './createRng.js';

/** Draws indexes 0..n-1 with probability proportional to their weights. */
export interface WeightedSampler {
  readonly size: number;
  sample(rng: Rng): number;
}

/** First index whose running total exceeds `target` (binary search over non-decreasing totals). */
export function firstAbove(running: Float64Array, target: number): number {
  let lo = 0;
  let hi = running.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((running[mid] ?? 0) > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function createWeightedSampler(weights: ArrayLike<number>): WeightedSampler {
  const cumulative = new Float64Array(weights.length);
  let total = 0;
  for (let i = 0; i < weights.length; i += 1) {
    total += weights[i] ?? 0;
    cumulative[i] = total;
  }
  return {
    size: weights.length,
    sample(rng) {
      if (total <= 0) throw new Error('weighted sampler has no weight to draw from');
      return firstAbove(cumulative, rng.next() * total);
    },
  };
}

/**
 * Zipf–Mandelbrot weight of a popularity rank: 1 / (rank + 1 + offset). The offset keeps the very
 * top from swallowing everything; plain division keeps it bit-identical across engines (no pow).
 */
export function powerLawWeight(rank: number, offset: number): number {
  return 1 / (rank + 1 + offset);
}

/** A random permutation of 0..n-1: position = popularity rank, value = item index. */
export function shuffledIndexes(n: number, rng: Rng): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i += 1) order[i] = i;
  for (let i = n - 1; i > 0; i -= 1) {
    const j = Math.floor(rng.next() * (i + 1));
    const tmp = order[i] ?? 0;
    order[i] = order[j] ?? 0;
    order[j] = tmp;
  }
  return order;
}

/** rank[item] for an order produced by shuffledIndexes. */
export function ranksOf(order: Int32Array): Int32Array {
  const rank = new Int32Array(order.length);
  for (let r = 0; r < order.length; r += 1) rank[order[r] ?? 0] = r;
  return rank;
}
