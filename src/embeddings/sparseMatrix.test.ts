import { describe, expect, it } from 'vitest';
import { buildUserItemCsr, multiplyDense, transposeCsr } from './sparseMatrix.js';

describe('buildUserItemCsr', () => {
  it('sorts columns within rows, sums repeated pairs and drops zero weights', () => {
    const csr = buildUserItemCsr({
      userIndex: Uint32Array.from([1, 0, 1, 1, 0, 2]),
      itemIndex: Uint32Array.from([3, 2, 0, 3, 1, 1]),
      weight: Float32Array.from([1, 2, 0.5, 2, 0, 0]),
      nUsers: 4,
      nItems: 4,
    });
    expect(Array.from(csr.rowStart)).toEqual([0, 1, 3, 3, 3]);
    expect(Array.from(csr.col)).toEqual([2, 0, 3]);
    expect(Array.from(csr.value)).toEqual([2, 0.5, 3]);
  });

  it('transposes and multiplies like the dense matrix', () => {
    const csr = buildUserItemCsr({
      userIndex: Uint32Array.from([0, 0, 1, 2]),
      itemIndex: Uint32Array.from([0, 2, 1, 2]),
      weight: Float32Array.from([1, 2, 3, 4]),
      nUsers: 3,
      nItems: 3,
    });
    const t = transposeCsr(csr);
    expect(Array.from(t.rowStart)).toEqual([0, 1, 2, 4]);
    expect(Array.from(t.col)).toEqual([0, 1, 0, 2]);
    expect(Array.from(t.value)).toEqual([1, 3, 2, 4]);
    // A (3x3) times X (3x2).
    const x = Float64Array.from([1, 10, 2, 20, 3, 30]);
    const out = new Float64Array(6);
    multiplyDense(csr, x, 2, out);
    expect(Array.from(out)).toEqual([7, 70, 6, 60, 12, 120]);
  });
});
