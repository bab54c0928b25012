import { describe, expect, it } from 'vitest';
import { orthonormaliseColumns } from './denseLinearAlgebra.js';
import { randomisedSvd } from './randomisedSvd.js';
import { seededRandom } from './seededRandom.js';
import { buildUserItemCsr, transposeCsr } from './sparseMatrix.js';

/** A dense rows x cols matrix with known singular values, U Σ Vᵀ, as a CSR. */
function knownMatrix(rows: number, cols: number, sigmas: number[]) {
  const r = sigmas.length;
  const random = seededRandom(8);
  const u = Float64Array.from({ length: rows * r }, () => random.gaussian());
  const v = Float64Array.from({ length: cols * r }, () => random.gaussian());
  orthonormaliseColumns(u, rows, r, new Float64Array(rows * r));
  orthonormaliseColumns(v, cols, r, new Float64Array(cols * r));
  const userIndex: number[] = [];
  const itemIndex: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i < rows; i += 1)
    for (let j = 0; j < cols; j += 1) {
      let value = 0;
      for (let c = 0; c < r; c += 1) value += u[i * r + c]! * sigmas[c]! * v[j * r + c]!;
      userIndex.push(i);
      itemIndex.push(j);
      weight.push(value);
    }
  return { userIndex, itemIndex, weight, v };
}

describe('randomisedSvd', () => {
  it('recovers the singular values and right vectors of an exactly low-rank matrix', () => {
    const sigmas = [9, 5, 3, 2, 1];
    const rows = 60;
    const cols = 40;
    const { userIndex, itemIndex, weight, v } = knownMatrix(rows, cols, sigmas);
    // Entries are signed here, so build the CSR directly rather than through the weight check.
    const csr = {
      ...buildUserItemCsr({
        userIndex: Uint32Array.from(userIndex),
        itemIndex: Uint32Array.from(itemIndex),
        weight: new Float32Array(weight.length).fill(1),
        nUsers: rows,
        nItems: cols,
      }),
      value: Float64Array.from(weight),
    };
    const svd = randomisedSvd(csr, transposeCsr(csr), {
      rank: 8,
      oversampling: 4,
      powerIterations: 2,
      seed: 3,
      rightScaling: 0,
    });
    expect(svd.rank).toBe(5);
    sigmas.forEach((sigma, c) => expect(svd.singularValues[c]).toBeCloseTo(sigma, 8));
    // Right factors (scaling 0) are V up to sign per column.
    for (let c = 0; c < 5; c += 1) {
      let dot = 0;
      for (let j = 0; j < cols; j += 1) dot += svd.rightFactors[j * 5 + c]! * v[j * 5 + c]!;
      expect(Math.abs(dot)).toBeCloseTo(1, 8);
    }
    // Scaling 1 multiplies column c by σ_c.
    const scaled = randomisedSvd(csr, transposeCsr(csr), {
      rank: 8,
      oversampling: 4,
      powerIterations: 2,
      seed: 3,
      rightScaling: 1,
    });
    for (let c = 0; c < 5; c += 1) {
      let sumSq = 0;
      for (let j = 0; j < cols; j += 1) sumSq += scaled.rightFactors[j * 5 + c]! ** 2;
      expect(Math.sqrt(sumSq)).toBeCloseTo(sigmas[c]!, 8);
    }
  });
});
