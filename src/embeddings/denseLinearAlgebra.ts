/**
 * The small dense pieces of the randomised SVD: Gram matrices of tall row-major blocks, a symmetric
 * eigensolver for the (rank + oversampling)-square matrices, and orthonormalisation through them.
 * Only +, *, / and Math.sqrt (exact in IEEE arithmetic), so results are the same on every machine.
 */

/**
 * G (width x width, row-major, full) = Xᵀ X for X (rows x width, row-major). Cost rows * width² / 2.
 * X is copied column-major first (into `scratch` when given) so each entry is one long dot product with
 * its sums in registers: about twice as fast in V8 as accumulating row by row into G.
 */
export function gram(x: Float64Array, rows: number, width: number, scratch?: Float64Array): Float64Array {
  const columns = scratch ?? new Float64Array(rows * width);
  for (let r = 0; r < rows; r += 1) {
    const o = r * width;
    for (let c = 0; c < width; c += 1) columns[c * rows + r] = x[o + c]!;
  }
  const g = new Float64Array(width * width);
  for (let a = 0; a < width; a += 1) {
    const ao = a * rows;
    for (let b = a; b < width; b += 1) {
      const bo = b * rows;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i + 3 < rows; i += 4) {
        s0 += columns[ao + i]! * columns[bo + i]!;
        s1 += columns[ao + i + 1]! * columns[bo + i + 1]!;
        s2 += columns[ao + i + 2]! * columns[bo + i + 2]!;
        s3 += columns[ao + i + 3]! * columns[bo + i + 3]!;
      }
      for (; i < rows; i += 1) s0 += columns[ao + i]! * columns[bo + i]!;
      const sum = s0 + s1 + (s2 + s3);
      g[a * width + b] = sum;
      g[b * width + a] = sum;
    }
  }
  return g;
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: returns eigenvalues in
 * descending order and the eigenvectors as the columns of `vectors` (row-major n x n). O(n³) per sweep;
 * n is at most a few hundred here.
 */
export function symmetricEigen(
  matrix: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  // Eigenvectors kept as rows (vT), and A updated along its rows with the columns mirrored, so the hot
  // loops walk contiguous memory.
  const vT = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) vT[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep += 1) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < n; p += 1) {
      diag += a[p * n + p]! * a[p * n + p]!;
      for (let q = p + 1; q < n; q += 1) off += a[p * n + q]! * a[p * n + q]!;
    }
    // Off-diagonal mass below 1e-26 of the diagonal's (a relative 1e-13 in norm): converged far past
    // what float32 output needs.
    if (off <= 1e-26 * diag || off === 0) break;
    for (let p = 0; p < n - 1; p += 1) {
      for (let q = p + 1; q < n; q += 1) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        // The stable rotation of Numerical Recipes 11.1 / Golub & Van Loan 8.5.2 (t = tan of the angle).
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        const po = p * n;
        const qo = q * n;
        for (let k = 0; k < n; k += 1) {
          if (k === p || k === q) continue;
          const akp = a[po + k]!;
          const akq = a[qo + k]!;
          const newP = c * akp - s * akq;
          const newQ = s * akp + c * akq;
          a[po + k] = newP;
          a[qo + k] = newQ;
          a[k * n + p] = newP;
          a[k * n + q] = newQ;
        }
        a[po + p] = app - t * apq;
        a[qo + q] = aqq + t * apq;
        a[po + q] = 0;
        a[qo + p] = 0;
        for (let k = 0; k < n; k += 1) {
          const vkp = vT[po + k]!;
          const vkq = vT[qo + k]!;
          vT[po + k] = c * vkp - s * vkq;
          vT[qo + k] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j]! - a[i * n + i]! || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    values[to] = a[from * n + from]!;
    for (let k = 0; k < n; k += 1) vectors[k * n + to] = vT[from * n + k]!;
  });
  return { values, vectors };
}

/** out (rows x outWidth) = X (rows x width) * M (width x outWidth), all row-major. */
export function multiplySmall(
  x: Float64Array,
  rows: number,
  width: number,
  m: Float64Array,
  outWidth: number,
  out: Float64Array,
): void {
  // Mᵀ, so every output entry is a dot product of two contiguous runs.
  const mT = new Float64Array(width * outWidth);
  for (let a = 0; a < width; a += 1)
    for (let b = 0; b < outWidth; b += 1) mT[b * width + a] = m[a * outWidth + b]!;
  for (let r = 0; r < rows; r += 1) {
    const xo = r * width;
    const oo = r * outWidth;
    for (let b = 0; b < outWidth; b += 1) {
      const mo = b * width;
      let s0 = 0;
      let s1 = 0;
      let a = 0;
      for (; a + 1 < width; a += 2) {
        s0 += x[xo + a]! * mT[mo + a]!;
        s1 += x[xo + a + 1]! * mT[mo + a + 1]!;
      }
      if (a < width) s0 += x[xo + a]! * mT[mo + a]!;
      out[oo + b] = s0 + s1;
    }
  }
}

/** Directions whose squared length is below this share of the largest are treated as absent. */
const RELATIVE_EIGEN_FLOOR = 1e-12;
/**
 * Q = X W Λ^(-1/2) is orthonormal to about 1e-16 * cond(X)²: below this squared condition number one
 * pass is exact enough (error < 1e-10) and the second is skipped, which halves the dense work.
 */
const ONE_PASS_CONDITION_SQUARED = 1e6;

/**
 * Replaces the columns of X (rows x width, row-major) by an orthonormal basis of their span, through
 * the eigen-decomposition of XᵀX: Q = X W Λ^(-1/2). Directions the columns do not span (a rank-deficient
 * block, e.g. fewer users than rank + oversampling) become zero columns instead of noise, so the rank
 * simply comes out lower. A second pass runs when the block was ill-conditioned enough for the first to
 * leave it measurably non-orthogonal. `scratch` holds at least rows * width numbers.
 */
export function orthonormaliseColumns(
  x: Float64Array,
  rows: number,
  width: number,
  scratch: Float64Array,
): void {
  for (let pass = 0; pass < 2; pass += 1) {
    const g = gram(x, rows, width, scratch);
    if (pass > 0 && isNearIdentityOnSupport(g, width)) return;
    const { values, vectors } = symmetricEigen(g, width);
    // Full rank and well conditioned (the usual case inside the power iterations): Q = X R⁻¹ with
    // G = RᵀR costs half the full product below and is as orthogonal, so one pass does.
    if (values[width - 1]! > 0 && values[0]! / values[width - 1]! < ONE_PASS_CONDITION_SQUARED) {
      const r = choleskyColumns(g, width);
      if (r !== undefined) {
        solveUpperInPlace(x, rows, width, r);
        return;
      }
    }
    const floor = Math.max(values[0]!, 0) * RELATIVE_EIGEN_FLOOR;
    const transform = new Float64Array(width * width);
    let smallest = Infinity;
    for (let c = 0; c < width; c += 1) {
      const lambda = values[c]!;
      if (!(lambda > floor) || lambda <= 0) continue;
      smallest = Math.min(smallest, lambda);
      const scale = 1 / Math.sqrt(lambda);
      for (let k = 0; k < width; k += 1) transform[k * width + c] = vectors[k * width + c]! * scale;
    }
    multiplySmall(x, rows, width, transform, width, scratch);
    x.set(scratch.subarray(0, rows * width));
    if (smallest === Infinity || values[0]! / smallest < ONE_PASS_CONDITION_SQUARED) return;
  }
}

/**
 * The Cholesky factor R (G = RᵀR, R upper triangular) stored by columns: rCol[c * width + a] = R[a][c],
 * so the solve below reads contiguous memory. Undefined when a pivot is not positive.
 */
function choleskyColumns(g: Float64Array, width: number): Float64Array | undefined {
  const rCol = new Float64Array(width * width);
  for (let c = 0; c < width; c += 1) {
    const cc = c * width;
    for (let d = 0; d <= c; d += 1) {
      // R[d][c] = (G[d][c] - Σ_{a<d} R[a][d] R[a][c]) / R[d][d]; the diagonal takes a square root.
      const dd = d * width;
      let sum = g[d * width + c]!;
      for (let a = 0; a < d; a += 1) sum -= rCol[dd + a]! * rCol[cc + a]!;
      if (d < c) rCol[cc + d] = sum / rCol[dd + d]!;
      else if (sum > 0) rCol[cc + c] = Math.sqrt(sum);
      else return undefined;
    }
  }
  return rCol;
}

/** Each row x of X (rows x width) becomes q with q R = x (forward substitution, in place). */
function solveUpperInPlace(x: Float64Array, rows: number, width: number, rCol: Float64Array): void {
  for (let row = 0; row < rows; row += 1) {
    const o = row * width;
    for (let c = 0; c < width; c += 1) {
      const cc = c * width;
      let sum = x[o + c]!;
      for (let a = 0; a < c; a += 1) sum -= x[o + a]! * rCol[cc + a]!;
      x[o + c] = sum / rCol[cc + c]!;
    }
  }
}

/** True when G is within 1e-10 of a diagonal of ones and zeros (zero columns are allowed). */
function isNearIdentityOnSupport(g: Float64Array, width: number): boolean {
  for (let a = 0; a < width; a += 1) {
    for (let b = 0; b < width; b += 1) {
      const value = g[a * width + b]!;
      const target = a === b && value > 0.5 ? 1 : 0;
      if (Math.abs(value - target) > 1e-10) return false;
    }
  }
  return true;
}
