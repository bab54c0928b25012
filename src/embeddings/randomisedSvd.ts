/**
 * Truncated SVD of a sparse matrix by randomised range finding (Halko, Martinsson & Tropp 2011,
 * algorithms 4.4 and 5.1): sketch the range with a Gaussian block, sharpen it with a few power
 * iterations (orthonormalising after every product, so the block's condition number never compounds),
 * then solve the small problem exactly. Cost: (2q + 2) sparse products of nnz * l plus O((rows + cols) * l²)
 * dense work, l = rank + oversampling; memory O((rows + cols) * l).
 */
import { gram, multiplySmall, orthonormaliseColumns, symmetricEigen } from './denseLinearAlgebra.js';
import type { Csr } from './sparseMatrix.js';
import { multiplyDense } from './sparseMatrix.js';
import { seededRandom } from './seededRandom.js';

export interface TruncatedSvd {
  /** Components actually found: at most the requested rank, fewer when the matrix has lower rank. */
  readonly rank: number;
  /** Singular values, descending, length `rank`. */
  readonly singularValues: Float64Array;
  /**
   * Right singular vectors scaled by singularValue^exponent (the caller's `rightScaling`), as rows of a
   * (a.nCols x rank) row-major block: row j is column j's factor.
   */
  readonly rightFactors: Float64Array;
}

export interface SvdOptions {
  readonly rank: number;
  readonly oversampling: number;
  readonly powerIterations: number;
  readonly seed: number;
  /** V * Sigma^rightScaling: 0 for V, 0.5 for the symmetric split, 1 for V * Sigma. */
  readonly rightScaling: number;
}

/** σ^(s - 1), with the usual exponents spelled out: Math.pow's last bits are not fixed by the spec. */
function scaleFor(sigma: number, rightScaling: number): number {
  if (rightScaling === 1) return 1;
  if (rightScaling === 0.5) return 1 / Math.sqrt(sigma);
  if (rightScaling === 0) return 1 / sigma;
  return Math.pow(sigma, rightScaling - 1);
}

export function randomisedSvd(a: Csr, aT: Csr, options: SvdOptions): TruncatedSvd {
  const { rank, oversampling, powerIterations, seed, rightScaling } = options;
  const width = Math.min(rank + oversampling, a.nRows, a.nCols);
  if (width === 0) return { rank: 0, singularValues: new Float64Array(0), rightFactors: new Float64Array(0) };

  // A Gaussian sketch; sums of uniforms are close enough for a range finder and engine-independent.
  const omega = new Float64Array(a.nCols * width);
  const random = seededRandom(seed);
  for (let i = 0; i < omega.length; i += 1) omega[i] = random.gaussian();
  const left = new Float64Array(a.nRows * width);
  const right = omega; // reused: the sketch is not needed after the first product
  const scratch = new Float64Array(Math.max(a.nRows, a.nCols) * width);

  multiplyDense(a, omega, width, left);
  orthonormaliseColumns(left, a.nRows, width, scratch);
  for (let i = 0; i < powerIterations; i += 1) {
    multiplyDense(aT, left, width, right);
    orthonormaliseColumns(right, a.nCols, width, scratch);
    multiplyDense(a, right, width, left);
    orthonormaliseColumns(left, a.nRows, width, scratch);
  }

  // Z = Aᵀ Q = V Σ Ũᵀ (Q spans A's range), so Zᵀ Z = Ũ Σ² Ũᵀ and Z Ũ = V Σ.
  multiplyDense(aT, left, width, right);
  const { values, vectors } = symmetricEigen(gram(right, a.nCols, width), width);
  const top = Math.max(values[0]!, 0);
  let found = 0;
  while (found < Math.min(rank, width) && values[found]! > top * 1e-12 && values[found]! > 0) found += 1;

  const singularValues = new Float64Array(found);
  const transform = new Float64Array(width * found);
  for (let c = 0; c < found; c += 1) {
    const sigma = Math.sqrt(values[c]!);
    singularValues[c] = sigma;
    // Z Ũ_c = σ_c V_c, so V_c σ^s = Z Ũ_c σ^(s - 1).
    const scale = scaleFor(sigma, rightScaling);
    for (let k = 0; k < width; k += 1) transform[k * found + c] = vectors[k * width + c]! * scale;
  }
  const rightFactors = new Float64Array(a.nCols * found);
  multiplySmall(right, a.nCols, width, transform, found, rightFactors);
  return { rank: found, singularValues, rightFactors };
}
