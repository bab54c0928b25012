import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  describeSyntheticModel,
  parseSyntheticModel,
  syntheticInteractions,
} from './syntheticInteractions.js';

function popularityShareOfTopTenth(data: ReturnType<typeof syntheticInteractions>): number {
  const counts = new Float64Array(data.nItems);
  for (const item of data.itemIndex) counts[item]! += 1;
  const sorted = [...counts].sort((a, b) => b - a);
  const top = sorted.slice(0, Math.ceil(data.nItems / 10)).reduce((a, b) => a + b, 0);
  return top / data.itemIndex.length;
}

describe('syntheticInteractions', () => {
  it('is deterministic for a seed and different across seeds', () => {
    const a = syntheticInteractions({ seed: 5, users: 60, items: 120 });
    const b = syntheticInteractions({ seed: 5, users: 60, items: 120 });
    const c = syntheticInteractions({ seed: 6, users: 60, items: 120 });
    expect(Array.from(a.itemIndex)).toEqual(Array.from(b.itemIndex));
    expect(Array.from(a.itemIndex)).not.toEqual(Array.from(c.itemIndex));
  });

  it('concentrates likes on popular items as the popularity exponent grows', () => {
    const flat = syntheticInteractions({ seed: 5, users: 200, items: 300, popularityExponent: 0 });
    const steep = syntheticInteractions({ seed: 5, users: 200, items: 300, popularityExponent: 1.2 });
    expect(popularityShareOfTopTenth(steep)).toBeGreaterThan(popularityShareOfTopTenth(flat) + 0.1);
  });
});

/** Each user's liked items, in time order. */
function likesByUser(data: ReturnType<typeof syntheticInteractions>): Map<number, number[]> {
  const byUser = new Map<number, number[]>();
  const order = Array.from(data.time.keys()).sort((a, b) => data.time[a]! - data.time[b]! || a - b);
  for (const e of order) {
    const list = byUser.get(data.userIndex[e]!) ?? [];
    list.push(data.itemIndex[e]!);
    byUser.set(data.userIndex[e]!, list);
  }
  return byUser;
}

/** Share of a user's consecutive likes (in time order) whose items share their first category. */
function consecutiveSameCategory(data: ReturnType<typeof syntheticInteractions>): number {
  const byUser = likesByUser(data);
  let pairs = 0;
  let same = 0;
  for (const items of byUser.values())
    for (let i = 1; i < items.length; i += 1) {
      pairs += 1;
      if (data.itemCategories[items[i]!]![0] === data.itemCategories[items[i - 1]!]![0]) same += 1;
    }
  return same / pairs;
}

describe('syntheticInteractions with sessions', () => {
  it('draws exactly the likes of the model without runs when sessions is 0 (documented results stay)', () => {
    // The fingerprint of the output before the sessions knob existed (same seed and sizes; Node 20).
    const data = syntheticInteractions({ seed: 5, users: 60, items: 120, sessions: 0 });
    const fingerprint = createHash('sha256')
      .update(Buffer.from(data.userIndex.buffer))
      .update(Buffer.from(data.itemIndex.buffer))
      .update(Buffer.from(data.time.buffer))
      .digest('hex')
      .slice(0, 16);
    expect([fingerprint, data.itemIndex.length]).toEqual(['92eed7fd8ab0e2eb', 2342]);
  });

  it('makes consecutive likes resemble each other as sessions grows', () => {
    const shape = { seed: 5, users: 200, items: 300 };
    const none = consecutiveSameCategory(syntheticInteractions({ ...shape, sessions: 0 }));
    const runs = consecutiveSameCategory(syntheticInteractions({ ...shape, sessions: 0.8 }));
    expect(runs).toBeGreaterThan(none + 0.1);
  });
});

/** Mean over users of the share of their likes in their most-liked (first) category. */
function topCategoryShare(data: ReturnType<typeof syntheticInteractions>): number {
  const counts = new Map<number, Map<number, number>>();
  for (let e = 0; e < data.userIndex.length; e += 1) {
    const user = data.userIndex[e]!;
    const category = data.itemCategories[data.itemIndex[e]!]![0]!;
    const byCategory = counts.get(user) ?? new Map<number, number>();
    byCategory.set(category, (byCategory.get(category) ?? 0) + 1);
    counts.set(user, byCategory);
  }
  let sum = 0;
  for (const byCategory of counts.values()) {
    const values = [...byCategory.values()];
    sum += Math.max(...values) / values.reduce((a, b) => a + b, 0);
  }
  return sum / counts.size;
}

describe('syntheticInteractions knobs added later', () => {
  it.each([
    ['categorySignal', 1],
    ['tasteModes', 0],
  ] as const)('draw exactly the likes of the model before the knob at its default (%s %d)', (knob, value) => {
    const shape = { seed: 5, users: 60, items: 120 };
    const before = syntheticInteractions(shape);
    const given = syntheticInteractions({ ...shape, [knob]: value });
    expect(Buffer.from(given.itemIndex.buffer).equals(Buffer.from(before.itemIndex.buffer))).toBe(true);
    expect(Buffer.from(given.time.buffer).equals(Buffer.from(before.time.buffer))).toBe(true);
  });
});

describe('syntheticInteractions with categorySignal', () => {
  it("spreads a user's likes over more categories as the signal weakens, like broad genres", () => {
    const shape = { seed: 5, users: 300, items: 600 };
    const strong = topCategoryShare(syntheticInteractions({ ...shape, categorySignal: 1 }));
    const weak = topCategoryShare(syntheticInteractions({ ...shape, categorySignal: 0.25 }));
    expect(weak).toBeLessThan(strong - 0.1);
  });
});

/** Share of pairs of one user's likes that have no category in common, over all users' pairs. */
function unrelatedPairShare(data: ReturnType<typeof syntheticInteractions>): number {
  const byUser = likesByUser(data);
  let pairs = 0;
  let unrelated = 0;
  for (const items of byUser.values())
    for (let a = 0; a < items.length; a += 1) {
      const first = new Set(data.itemCategories[items[a]!]);
      for (let b = a + 1; b < items.length; b += 1) {
        pairs += 1;
        if (!data.itemCategories[items[b]!]!.some((c) => first.has(c))) unrelated += 1;
      }
    }
  return unrelated / pairs;
}

describe('syntheticInteractions with tasteModes', () => {
  it("spreads a user's likes over separate interests rather than what lies between them", () => {
    const shape = { seed: 5, users: 300, items: 600 };
    const blended = unrelatedPairShare(syntheticInteractions({ ...shape, tasteModes: 0 }));
    const modes = unrelatedPairShare(syntheticInteractions({ ...shape, tasteModes: 1 }));
    expect(modes).toBeGreaterThan(blended + 0.03);
  });
});

describe('parseSyntheticModel', () => {
  it('reads only the knobs given', () => {
    expect(parseSyntheticModel({})).toEqual({});
    expect(parseSyntheticModel({ sharpness: '12', noise: '0.35', seed: '3' })).toEqual({
      sharpness: 12,
      noise: 0.35,
    });
    expect(parseSyntheticModel({ 'popularity-exponent': '0' })).toEqual({ popularityExponent: 0 });
    expect(parseSyntheticModel({ sessions: '0.3' })).toEqual({ sessions: 0.3 });
    expect(parseSyntheticModel({ 'category-signal': '0.25' })).toEqual({ categorySignal: 0.25 });
    expect(parseSyntheticModel({ 'taste-modes': '1' })).toEqual({ tasteModes: 1 });
  });

  it('describes the knobs given for a report, nothing when none are', () => {
    expect(describeSyntheticModel(parseSyntheticModel({ sharpness: '12', noise: '0.35' }))).toBe(
      'sharpness 12, noise 0.35',
    );
    expect(describeSyntheticModel({})).toBe('');
    expect(describeSyntheticModel(undefined)).toBe('');
  });

  it.each([
    ['sharpness', 'abc', /--sharpness must be a number from 0 to 100, got "abc"/],
    ['sharpness', '', /--sharpness must be a number/],
    ['noise', '1.5', /--noise must be a number from 0 to 1/],
    ['popularity-exponent', '-1', /--popularity-exponent must be a number from 0 to 3/],
    ['noise', 'NaN', /--noise/],
    ['sessions', '1.2', /--sessions must be a number from 0 to 1/],
    ['category-signal', '5', /--category-signal must be a number from 0 to 4/],
    ['taste-modes', '2', /--taste-modes must be a number from 0 to 1/],
  ])('refuses --%s %j', (flag, raw, message) => {
    expect(() => parseSyntheticModel({ [flag]: raw })).toThrow(message);
  });
});
