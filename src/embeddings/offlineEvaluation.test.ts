import { describe, expect, it } from 'vitest';
import {
  embeddingNearestRecommender,
  evaluateRecommender,
  mostPopularRecommender,
  randomRecommender,
} from './offlineEvaluation.js';
import { DEFAULT_SYNTHETIC, syntheticInteractions } from './syntheticInteractions.js';
import { splitByTime } from './timeSplit.js';
import { interactionEmbeddings } from './interactionEmbeddings.js';

describe('reference recommenders', () => {
  const train = new Uint32Array([0, 1]);

  it('never recommend a train item', () => {
    const random = randomRecommender(6, 1);
    expect(random(0, train, 10).sort()).toEqual([2, 3, 4, 5]);
    const popular = mostPopularRecommender({ itemIndex: Uint32Array.from([0, 0, 0, 4, 4, 3]), nItems: 6 });
    expect(popular(0, train, 2)).toEqual([4, 3]);
    // Items 0..3 on a circle; 4 has no vector and is never recommended.
    const factors = Float32Array.from([1, 0, 0.8, 0.6, 0, 1, -1, 0, 0, 0]);
    const nearest = embeddingNearestRecommender(factors, 5);
    expect(nearest(0, Uint32Array.from([0]), 5)).toEqual([1, 2, 3]);
    expect(nearest(0, Uint32Array.from([4]), 5)).toEqual([]);
  });
});

describe('the synthetic dataset and the protocol end to end', () => {
  const data = syntheticInteractions();

  it('has issue #16’s shape and is deterministic', () => {
    expect(data.nUsers).toBe(DEFAULT_SYNTHETIC.users);
    expect(data.nItems).toBe(1700);
    const perUser = new Uint32Array(data.nUsers);
    for (const u of data.userIndex) perUser[u]! += 1;
    const median = [...perUser].sort((a, b) => a - b)[data.nUsers >> 1]!;
    expect(median).toBeGreaterThanOrEqual(30);
    expect(median).toBeLessThanOrEqual(50);
    expect(data.itemCategories.every((c) => c.length >= 1 && c.length <= 6)).toBe(true);
    const span = (Math.max(...data.time) - Math.min(...data.time)) / 86_400_000;
    expect(span).toBeGreaterThan(150);
    expect(span).toBeLessThan(220);
    const again = syntheticInteractions();
    expect(Buffer.from(again.itemIndex.buffer).equals(Buffer.from(data.itemIndex.buffer))).toBe(true);
  });

  it('ranks the embeddings above most popular, and most popular far above random', () => {
    const split = splitByTime(data);
    const { train } = split;
    const embeddings = interactionEmbeddings({
      ...train,
      weight: new Float32Array(train.userIndex.length).fill(1),
    });
    const nearest = evaluateRecommender(
      split,
      embeddingNearestRecommender(embeddings.factors, train.nItems),
      10,
    );
    const popular = evaluateRecommender(split, mostPopularRecommender(train), 10);
    const random = evaluateRecommender(split, randomRecommender(train.nItems, 1), 10);
    expect(nearest.users).toBeGreaterThan(900);
    expect(popular.precision).toBeGreaterThan(4 * random.precision);
    expect(nearest.precision).toBeGreaterThan(1.2 * popular.precision);
    expect(nearest.ndcg).toBeGreaterThan(1.2 * popular.ndcg);
    expect(nearest.coverage).toBeGreaterThan(0.2);
  });
});
