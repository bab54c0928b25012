import { describe, expect, it } from 'vitest';
import { gram, multiplySmall, orthonormaliseColumns, symmetricEigen } from './denseLinearAlgebra.js';
import { seededRandom } from './seededRandom.js';

function randomBlock(rows: number, width: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from({ length: rows * width }, () => random.gaussian());
}

describe('gram and multiplySmall', () => {
  it('match the textbook definitions', () => {
    const x = randomBlock(7, 3, 1);
    const g = gram(x, 7, 3);
    for (let a = 0; a < 3; a += 1)
      for (let b = 0; b < 3; b += 1) {
        let expected = 0;
        for (let r = 0; r < 7; r += 1) expected += x[r * 3 + a]! * x[r * 3 + b]!;
        expect(g[a * 3 + b]).toBeCloseTo(expected, 12);
      }
    const m = randomBlock(3, 2, 2);
    const out = new Float64Array(14);
    multiplySmall(x, 7, 3, m, 2, out);
    for (let r = 0; r < 7; r += 1)
      for (let b = 0; b < 2; b += 1) {
        let expected = 0;
        for (let a = 0; a < 3; a += 1) expected += x[r * 3 + a]! * m[a * 2 + b]!;
        expect(out[r * 2 + b]).toBeCloseTo(expected, 12);
      }
  });
});

describe('symmetricEigen', () => {
  it('diagonalises a known 2x2 matrix', () => {
    // [[2, 1], [1, 2]]: eigenvalues 3 and 1, vectors (1, 1)/√2 and (1, -1)/√2.
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[0]!)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[0]! * vectors[2]!).toBeGreaterThan(0);
  });

  it('satisfies G v = λ v with orthonormal vectors, eigenvalues descending, on a 40x40 Gram matrix', () => {
    const n = 40;
    const g = gram(randomBlock(200, n, 3), 200, n);
    const { values, vectors } = symmetricEigen(g, n);
    for (let c = 1; c < n; c += 1) expect(values[c]).toBeLessThanOrEqual(values[c - 1]!);
    let residual = 0;
    let orthogonality = 0;
    for (let c = 0; c < n; c += 1) {
      for (let i = 0; i < n; i += 1) {
        let gv = 0;
        for (let k = 0; k < n; k += 1) gv += g[i * n + k]! * vectors[k * n + c]!;
        residual = Math.max(residual, Math.abs(gv - values[c]! * vectors[i * n + c]!));
      }
      for (let d = 0; d < n; d += 1) {
        let dot = 0;
        for (let k = 0; k < n; k += 1) dot += vectors[k * n + c]! * vectors[k * n + d]!;
        orthogonality = Math.max(orthogonality, Math.abs(dot - (c === d ? 1 : 0)));
      }
    }
    expect(residual / values[0]!).toBeLessThan(1e-12);
    expect(orthogonality).toBeLessThan(1e-12);
  });
});

describe('orthonormaliseColumns', () => {
  it('gives orthonormal columns spanning the same space', () => {
    const rows = 50;
    const width = 6;
    const x = randomBlock(rows, width, 4);
    const original = Float64Array.from(x);
    orthonormaliseColumns(x, rows, width, new Float64Array(rows * width));
    const g = gram(x, rows, width);
    for (let a = 0; a < width; a += 1)
      for (let b = 0; b < width; b += 1) expect(g[a * width + b]).toBeCloseTo(a === b ? 1 : 0, 10);
    // Each original column is reproduced by its projection onto the new basis.
    for (let a = 0; a < width; a += 1) {
      const coefficients = new Float64Array(width);
      for (let b = 0; b < width; b += 1)
        for (let r = 0; r < rows; r += 1) coefficients[b]! += original[r * width + a]! * x[r * width + b]!;
      for (let r = 0; r < rows; r += 1) {
        let projected = 0;
        for (let b = 0; b < width; b += 1) projected += coefficients[b]! * x[r * width + b]!;
        expect(projected).toBeCloseTo(original[r * width + a]!, 9);
      }
    }
  });

  it('turns directions a rank-deficient block does not span into zero columns', () => {
    const rows = 30;
    const x = randomBlock(rows, 4, 5);
    // Columns 2 and 3 repeat columns 0 and 1: rank 2.
    for (let r = 0; r < rows; r += 1) {
      x[r * 4 + 2] = x[r * 4]!;
      x[r * 4 + 3] = 2 * x[r * 4 + 1]! - x[r * 4]!;
    }
    orthonormaliseColumns(x, rows, 4, new Float64Array(rows * 4));
    const norms = [0, 1, 2, 3].map((c) => {
      let s = 0;
      for (let r = 0; r < rows; r += 1) s += x[r * 4 + c]! ** 2;
      return s;
    });
    expect(norms.filter((s) => Math.abs(s - 1) < 1e-9)).toHaveLength(2);
    expect(norms.filter((s) => s === 0)).toHaveLength(2);
  });
});
