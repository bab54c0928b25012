import { describe, expect, it } from 'vitest';
import { interestEmbeddings } from './interestEmbeddings.js';

const vectors: (Float32Array | null)[] = [
  Float32Array.from([1, 0, 0]),
  Float32Array.from([0, 1, 0]),
  null,
  Float32Array.from([-1, 0, 0]),
];
const lookup = (item: number): Float32Array | null => vectors[item] ?? null;

describe('interestEmbeddings', () => {
  it('is the normalised mean of the members that have a vector', () => {
    const result = interestEmbeddings(
      lookup,
      new Map([
        ['shoes', [0, 1, 2]],
        ['one', [1]],
      ]),
    );
    const shoes = result.get('shoes')!;
    expect(shoes[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(shoes[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(shoes[2]).toBe(0);
    expect(Array.from(result.get('one')!)).toEqual([0, 1, 0]);
  });

  it('is null when no member has a vector, when there are no members, or when members cancel out', () => {
    const result = interestEmbeddings(
      lookup,
      new Map<number, number[]>([
        [1, [2]],
        [2, []],
        [3, [0, 3]],
      ]),
    );
    expect(result.get(1)).toBeNull();
    expect(result.get(2)).toBeNull();
    expect(result.get(3)).toBeNull();
  });

  it('refuses members of different widths', () => {
    const mixed = (item: number): Float32Array => new Float32Array(item === 0 ? 3 : 4).fill(1);
    expect(() => interestEmbeddings(mixed, new Map([['x', [0, 1]]]))).toThrow(
      "item 1's vector has 4 components, others 3",
    );
  });
});
