/**
 * Issue #16's reference recommenders, scored on a time split: random, most popular (train positives)
 * and nearest items to the mean of the user's liked-item embeddings. Every method excludes the user's
 * train items and recommends from the whole catalogue. Pure: the #16 harness reuses it beside the feed.
 */
import { MetricAccumulator, type MetricSummary } from './rankingMetrics.js';
import { seededRandom } from './seededRandom.js';
import type { TimeSplit } from './timeSplit.js';
import { topK } from './topK.js';

/** One user's list: best first, at most k items, none of the user's train items. */
export type Recommender = (user: number, trainItems: Uint32Array, k: number) => number[];

export function randomRecommender(nItems: number, seed: number): Recommender {
  const random = seededRandom(seed, 11);
  return (_user, trainItems, k) => {
    const excluded = new Set(trainItems);
    const picked = new Set<number>();
    const available = nItems - excluded.size;
    while (picked.size < Math.min(k, available)) {
      const item = random.below(nItems);
      if (!excluded.has(item)) picked.add(item);
    }
    return [...picked];
  };
}

export function mostPopularRecommender(train: { itemIndex: Uint32Array; nItems: number }): Recommender {
  const counts = new Float64Array(train.nItems);
  for (const item of train.itemIndex) counts[item]! += 1;
  return (_user, trainItems, k) => {
    const excluded = new Set(trainItems);
    return topK(counts, k, (item) => excluded.has(item));
  };
}

/**
 * Nearest items (cosine) to the mean of the user's train items' vectors. `factors` is nItems x width of
 * unit rows, zero rows for items without an embedding (never recommended). Users none of whose items
 * has a vector get an empty list.
 */
export function embeddingNearestRecommender(factors: Float32Array, nItems: number): Recommender {
  const width = nItems === 0 ? 0 : factors.length / nItems;
  const hasVector = new Uint8Array(nItems);
  for (let j = 0; j < nItems; j += 1) {
    for (let c = 0; c < width; c += 1) {
      if (factors[j * width + c] !== 0) {
        hasVector[j] = 1;
        break;
      }
    }
  }
  const scores = new Float64Array(nItems);
  return (_user, trainItems, k) => {
    const mean = new Float64Array(width);
    let used = 0;
    for (const item of trainItems) {
      if (hasVector[item] === 0) continue;
      used += 1;
      for (let c = 0; c < width; c += 1) mean[c]! += factors[item * width + c]!;
    }
    if (used === 0) return [];
    // Cosine to the mean ranks like the dot product with it: item rows are unit length.
    for (let j = 0; j < nItems; j += 1) {
      if (hasVector[j] === 0) {
        scores[j] = NaN;
        continue;
      }
      let dot = 0;
      const o = j * width;
      for (let c = 0; c < width; c += 1) dot += mean[c]! * factors[o + c]!;
      scores[j] = dot;
    }
    const excluded = new Set(trainItems);
    return topK(scores, k, (item) => excluded.has(item));
  };
}

/** Scores one recommender over every scored user of the split. */
export function evaluateRecommender(split: TimeSplit, recommend: Recommender, k: number): MetricSummary {
  const metrics = new MetricAccumulator(k, split.train.nItems);
  split.test.forEach((relevant, user) => {
    if (relevant === null) return;
    metrics.add(recommend(user, split.trainItems[user]!, k), relevant);
  });
  return metrics.summary();
}
