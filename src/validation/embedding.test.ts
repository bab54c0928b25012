import { describe, expect, it } from 'vitest';
import { EMBEDDING_DIMENSIONS, embeddingProblem, vectorLiteral } from './embedding.js';

const unit = (at = 0): number[] => Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => (i === at ? 1 : 0));

describe('embeddingProblem', () => {
  it('accepts a non-zero vector of the configured dimension', () => {
    expect(embeddingProblem(unit())).toBeNull();
    expect(embeddingProblem(unit().map(() => -0.05))).toBeNull();
  });

  it.each([
    ['not a list', 'abc', 'must be a list of numbers'],
    ['too short', [1, 2, 3], `must have ${EMBEDDING_DIMENSIONS} numbers, got 3`],
    [
      'too long',
      [...unit(), 1],
      `must have ${EMBEDDING_DIMENSIONS} numbers, got ${EMBEDDING_DIMENSIONS + 1}`,
    ],
    ['all zeros', unit().map(() => 0), 'must not be all zeros'],
    ['zero once stored as float32', unit().map(() => 1e-50), 'must not be all zeros'],
    ['NaN', unit().map((v, i) => (i === 7 ? Number.NaN : v)), 'position 7 is not one'],
    ['Infinity', unit().map((v, i) => (i === 3 ? Number.POSITIVE_INFINITY : v)), 'position 3'],
    ['a string', unit().map((v, i) => (i === 2 ? '1' : v)), 'position 2'],
    ['beyond float32', unit().map((v, i) => (i === 5 ? 1e39 : v)), 'position 5 is beyond'],
  ])('refuses %s', (_name, value, message) => {
    expect(embeddingProblem(value)).toContain(message);
  });

  it('writes pgvector text', () => {
    expect(vectorLiteral([1, -0.5, 2e-3])).toBe('[1,-0.5,0.002]');
  });
});
