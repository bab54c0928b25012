import { describe, expect, it } from 'vitest';
import { numberArrayLiteral, textArrayLiteral } from './pgArrays.js';

describe('array literals', () => {
  it('writes numbers as they are, in JavaScript’s round-trip form', () => {
    expect(numberArrayLiteral([1, -2, 300000])).toBe('{1,-2,300000}');
    expect(numberArrayLiteral(Int32Array.from([5, 6]))).toBe('{5,6}');
    expect(numberArrayLiteral([0.1, 1 / 3, 1e-7, Number.NaN, Infinity])).toBe(
      '{0.1,0.3333333333333333,1e-7,NaN,Infinity}',
    );
    expect(numberArrayLiteral([])).toBe('{}');
  });

  it('quotes only the text elements that need it', () => {
    expect(textArrayLiteral(['SIMILAR', 'epsilon-greedy', '0190a6f2-8e1c-7c4b-9a51-1f0e2d3c4b5a'])).toBe(
      '{SIMILAR,epsilon-greedy,0190a6f2-8e1c-7c4b-9a51-1f0e2d3c4b5a}',
    );
    expect(textArrayLiteral(['', 'null', 'NULL', 'a b', 'x,y', '{z}', 'say "hi"', 'back\\slash'])).toBe(
      '{"","null","NULL","a b","x,y","{z}","say \\"hi\\"","back\\\\slash"}',
    );
    expect(textArrayLiteral([null, 'a'])).toBe('{NULL,a}');
  });
});
