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

describe('parseSyntheticModel', () => {
  it('reads only the knobs given', () => {
    expect(parseSyntheticModel({})).toEqual({});
    expect(parseSyntheticModel({ sharpness: '12', noise: '0.35', seed: '3' })).toEqual({
      sharpness: 12,
      noise: 0.35,
    });
    expect(parseSyntheticModel({ 'popularity-exponent': '0' })).toEqual({ popularityExponent: 0 });
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
  ])('refuses --%s %j', (flag, raw, message) => {
    expect(() => parseSyntheticModel({ [flag]: raw })).toThrow(message);
  });
});
