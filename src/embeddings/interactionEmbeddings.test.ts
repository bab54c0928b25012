import { describe, expect, it } from 'vitest';
import { EMBEDDING_DIMENSIONS } from '../validation/embedding.js';
import {
  EmbeddingOptionsError,
  InteractionInputError,
  interactionEmbeddings,
  type InteractionArrays,
  type InteractionEmbeddings,
} from './interactionEmbeddings.js';
import { seededRandom } from './seededRandom.js';

/**
 * Planted structure: items in `groups` latent groups, every user draws ~15 items from one group and a
 * little noise from anywhere. Items of a group should end up each other's nearest neighbours.
 */
function planted(options: { groups: number; itemsPerGroup: number; users: number; coldItems: number }): {
  input: InteractionArrays;
  groupOf: (item: number) => number;
} {
  const { groups, itemsPerGroup, users, coldItems } = options;
  const random = seededRandom(42);
  const interactedItems = groups * itemsPerGroup;
  const u: number[] = [];
  const i: number[] = [];
  for (let user = 0; user < users; user += 1) {
    const group = user % groups;
    for (let n = 0; n < 15; n += 1) {
      u.push(user);
      i.push(group * itemsPerGroup + random.below(itemsPerGroup));
    }
    u.push(user);
    i.push(random.below(interactedItems));
  }
  return {
    input: {
      userIndex: Uint32Array.from(u),
      itemIndex: Uint32Array.from(i),
      weight: new Float32Array(u.length).fill(1),
      nUsers: users,
      // Cold items sit at the end of the index range with no interactions at all.
      nItems: interactedItems + coldItems,
    },
    groupOf: (item) => Math.floor(item / itemsPerGroup),
  };
}

function nearestNeighbour(embeddings: InteractionEmbeddings, item: number): number {
  const { rank, factors, nItems } = embeddings;
  let best = -1;
  let bestScore = -Infinity;
  for (let j = 0; j < nItems; j += 1) {
    if (j === item || !embeddings.hasEmbedding(j)) continue;
    let dot = 0;
    for (let c = 0; c < rank; c += 1) dot += factors[item * rank + c]! * factors[j * rank + c]!;
    if (dot > bestScore) {
      bestScore = dot;
      best = j;
    }
  }
  return best;
}

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

const world = planted({ groups: 8, itemsPerGroup: 40, users: 640, coldItems: 5 });

describe('interactionEmbeddings', () => {
  it('recovers planted groups: nearly every item’s nearest neighbour is in its own group', () => {
    const embeddings = interactionEmbeddings(world.input);
    let same = 0;
    const items = 8 * 40;
    for (let item = 0; item < items; item += 1) {
      if (world.groupOf(nearestNeighbour(embeddings, item)) === world.groupOf(item)) same += 1;
    }
    expect(same / items).toBeGreaterThan(0.95);
    // And for contrast, not by construction: a different-group pair is far apart on average.
    const a = embeddings.vectorOf(0)!;
    const b = embeddings.vectorOf(40 * 4)!;
    let dot = 0;
    for (let c = 0; c < a.length; c += 1) dot += a[c]! * b[c]!;
    expect(dot).toBeLessThan(0.5);
  });

  it('is deterministic for a seed and changes with it', () => {
    const first = interactionEmbeddings(world.input, { seed: 9 });
    const again = interactionEmbeddings(world.input, { seed: 9 });
    const other = interactionEmbeddings(world.input, { seed: 10 });
    expect(Buffer.from(again.factors.buffer).equals(Buffer.from(first.factors.buffer))).toBe(true);
    expect(Buffer.from(other.factors.buffer).equals(Buffer.from(first.factors.buffer))).toBe(false);
  });

  it('gives items without interactions (or only zero weights) null, never a zero vector', () => {
    const weight = Float32Array.from(world.input.weight);
    // Item 7 appears only with weight 0 after this.
    const input = { ...world.input, weight };
    for (let e = 0; e < weight.length; e += 1) if (input.itemIndex[e] === 7) weight[e] = 0;
    const embeddings = interactionEmbeddings(input);
    for (let cold = 320; cold < 325; cold += 1) {
      expect(embeddings.vectorOf(cold)).toBeNull();
      expect(embeddings.hasEmbedding(cold)).toBe(false);
    }
    expect(embeddings.vectorOf(7)).toBeNull();
    expect(embeddings.embeddedItems).toBe(319);
    expect(embeddings.vectorOf(8)).not.toBeNull();
  });

  it('returns unit vectors of the column’s dimension, the rank components then zeros', () => {
    const embeddings = interactionEmbeddings(world.input, { rank: 96 });
    expect(embeddings.dimension).toBe(EMBEDDING_DIMENSIONS);
    expect(embeddings.rank).toBeLessThanOrEqual(96);
    expect(embeddings.singularValues[0]).toBeGreaterThan(embeddings.singularValues[1]!);
    for (const item of [0, 100, 319]) {
      const v = embeddings.vectorOf(item)!;
      expect(v).toHaveLength(384);
      expect(norm(v)).toBeCloseTo(1, 6);
      expect(v.subarray(embeddings.rank).every((x) => x === 0)).toBe(true);
      expect(v.every((x) => Number.isFinite(x))).toBe(true);
    }
    const narrow = interactionEmbeddings(world.input, { dimension: 64 });
    expect(narrow.vectorOf(3)).toHaveLength(64);
    expect(() => embeddings.vectorOf(325)).toThrow(RangeError);
  });

  it('comes out with a lower rank, still unit vectors, when the matrix has fewer users than the rank', () => {
    const input: InteractionArrays = {
      userIndex: Uint32Array.from([0, 0, 1, 1, 2, 2, 2]),
      itemIndex: Uint32Array.from([0, 1, 1, 2, 3, 4, 0]),
      weight: Float32Array.from([1, 1, 1, 2, 1, 1, 1]),
      nUsers: 3,
      nItems: 6,
    };
    const embeddings = interactionEmbeddings(input);
    expect(embeddings.rank).toBeLessThanOrEqual(3);
    expect(embeddings.embeddedItems).toBe(5);
    expect(embeddings.vectorOf(5)).toBeNull();
    for (let item = 0; item < 5; item += 1) expect(norm(embeddings.vectorOf(item)!)).toBeCloseTo(1, 6);
  });

  it('handles no interactions at all', () => {
    const none = interactionEmbeddings({
      userIndex: new Uint32Array(0),
      itemIndex: new Uint32Array(0),
      weight: new Float32Array(0),
      nUsers: 0,
      nItems: 3,
    });
    expect(none.embeddedItems).toBe(0);
    expect(none.vectorOf(0)).toBeNull();
  });

  it.each([
    [{ rank: 63 }, 'rank must be a whole number from 64 to 128, got 63'],
    [{ rank: 129 }, 'rank must be a whole number from 64 to 128, got 129'],
    [{ rank: 64.5 }, 'rank must be a whole number from 64 to 128, got 64.5'],
    [{ rank: 128, dimension: 100 }, 'dimension must be a whole number from 128 to 16000, got 100'],
    [{ powerIterations: 9 }, 'powerIterations must be a whole number from 0 to 8, got 9'],
    [{ seed: -1 }, 'seed must be a whole number from 0 to 4294967295, got -1'],
    [{ popularityDamping: 2 }, 'popularityDamping must be a number from 0 to 1, got 2'],
    [
      { weighting: 'tfidf' as 'log' },
      'weighting must be one of binary, log, bm25, userNormalised, got tfidf',
    ],
  ])('refuses %o with a clear message', (options, message) => {
    expect(() => interactionEmbeddings(world.input, options)).toThrow(EmbeddingOptionsError);
    expect(() => interactionEmbeddings(world.input, options)).toThrow(message);
  });

  it('names the offending entry of bad input', () => {
    const base = {
      userIndex: Uint32Array.from([0, 1]),
      itemIndex: Uint32Array.from([0, 1]),
      weight: Float32Array.from([1, 1]),
      nUsers: 2,
      nItems: 2,
    };
    expect(() => interactionEmbeddings({ ...base, itemIndex: Uint32Array.from([0, 2]) })).toThrow(
      new InteractionInputError('itemIndex[1] is 2, beyond nItems 2'),
    );
    expect(() => interactionEmbeddings({ ...base, userIndex: Uint32Array.from([5, 0]) })).toThrow(
      'userIndex[0] is 5, beyond nUsers 2',
    );
    expect(() => interactionEmbeddings({ ...base, weight: Float32Array.from([1, NaN]) })).toThrow(
      'weight[1] must be finite and >= 0, got NaN',
    );
    expect(() => interactionEmbeddings({ ...base, weight: Float32Array.from([1]) })).toThrow(
      'userIndex, itemIndex and weight must have the same length, got 2, 2 and 1',
    );
  });
});
