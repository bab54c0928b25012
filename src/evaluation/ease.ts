import { topK } from '../embeddings/topK.js';
import type { Catalogue, ScoredUser } from './scoring.js';

/**
 * EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019), the evaluation's
 * upper reference: a full item-to-item linear model fitted in closed form on the train likes,
 * B = I − P · diag(1 / diag P) with P = (XᵀX + λI)⁻¹ and X the user × item matrix of train likes; a
 * user's score for item j is Σ B[i][j] over the items i they liked. It weighs every pair of listings
 * against every other, which nothing in the feed can afford on a real catalogue (n² memory, n³ time),
 * so it shows how much the train likes hold beyond what the feed and the nearest-item reference get
 * from them. Pure.
 */

/**
 * Largest number of liked listings the harness fits EASE on: two n × n arrays of doubles while it fits
 * (0.4 GB at 5,000), and time that grows with n³.
 */
export const EASE_MAX_ITEMS = 5000;
/** λ, the L2 penalty; fixed (not tuned on the held-out likes). */
export const DEFAULT_EASE_LAMBDA = 200;

/**
 * The inverse of a symmetric positive-definite n × n matrix (row-major), by its Cholesky factor:
 * A = L Lᵀ, then A⁻¹ = L⁻ᵀ L⁻¹. Computed in `a`, which is returned (one more n × n array while it
 * runs). Throws when `a` is not positive definite (to rounding: a λ too small for the data).
 */
export function invertSpd(a: Float64Array, n: number): Float64Array {
  if (a.length !== n * n) throw new RangeError(`expected ${n * n} entries, got ${a.length}`);
  // Cholesky in place: the lower triangle of `a` becomes L.
  for (let j = 0; j < n; j += 1) {
    const rowJ = j * n;
    let d = a[rowJ + j]!;
    for (let k = 0; k < j; k += 1) d -= a[rowJ + k]! * a[rowJ + k]!;
    if (!(d > 0)) throw new RangeError('matrix is not positive definite');
    const ljj = Math.sqrt(d);
    a[rowJ + j] = ljj;
    for (let i = j + 1; i < n; i += 1) {
      const rowI = i * n;
      let s = a[rowI + j]!;
      for (let k = 0; k < j; k += 1) s -= a[rowI + k]! * a[rowJ + k]!;
      a[rowI + j] = s / ljj;
    }
  }
  // M = L⁻¹ (lower triangular), a row at a time: M[i] = (eᵢ − Σ_{k<i} L[i][k] M[k]) / L[i][i], each
  // term a pass along a contiguous row.
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) {
    const rowI = i * n;
    m[rowI + i] = 1;
    for (let k = 0; k < i; k += 1) {
      const lik = a[rowI + k]!;
      if (lik === 0) continue;
      const rowK = k * n;
      for (let j = 0; j <= k; j += 1) m[rowI + j]! -= lik * m[rowK + j]!;
    }
    const inv = 1 / a[rowI + i]!;
    for (let j = 0; j <= i; j += 1) m[rowI + j]! *= inv;
  }
  // A⁻¹ = Mᵀ M: (A⁻¹)[i][j] = Σ_{k ≥ max(i, j)} M[k][i] M[k][j], into `a` (L is no longer needed);
  // symmetric, so the lower half is summed and mirrored.
  a.fill(0);
  for (let k = 0; k < n; k += 1) {
    const rowK = k * n;
    for (let i = 0; i <= k; i += 1) {
      const mki = m[rowK + i]!;
      if (mki === 0) continue;
      const rowI = i * n;
      for (let j = 0; j <= i; j += 1) a[rowI + j]! += mki * m[rowK + j]!;
    }
  }
  for (let i = 0; i < n; i += 1) for (let j = 0; j < i; j += 1) a[j * n + i] = a[i * n + j]!;
  return a;
}

/**
 * EASE's item-to-item weights over `n` items from each user's liked item indices (0..n-1; repeats
 * count once): B[i][j] as above, with a zero diagonal. Row-major n × n.
 */
export function easeWeights(
  histories: readonly (readonly number[])[],
  n: number,
  lambda: number,
): Float64Array {
  if (!(lambda > 0)) throw new RangeError(`lambda must be > 0, got ${lambda}`);
  const gram = new Float64Array(n * n);
  for (const history of histories) {
    const items = [...new Set(history)];
    for (const i of items) {
      if (!(i >= 0 && i < n)) throw new RangeError(`item ${i} is outside 0..${n - 1}`);
      const row = i * n;
      for (const j of items) gram[row + j]! += 1;
    }
  }
  for (let i = 0; i < n; i += 1) gram[i * n + i]! += lambda;
  // B in place of P: B[i][j] = −P[i][j] / P[j][j], the diagonal 0.
  const p = invertSpd(gram, n);
  const diagonal = Float64Array.from({ length: n }, (_, j) => p[j * n + j]!);
  for (let i = 0; i < n; i += 1) {
    const row = i * n;
    for (let j = 0; j < n; j += 1) p[row + j] = i === j ? 0 : -p[row + j]! / diagonal[j]!;
  }
  return p;
}

/**
 * EASE's top k active listings per scored user, the user's train likes excluded, fitted on every
 * user's train likes (`trainHistories`, listing ids, scored or not) of the listings that have any
 * (so a listing nobody liked in train is never recommended, as it has no weights). Returns null when
 * more than EASE_MAX_ITEMS listings were liked: too large to fit here.
 */
export function easeLists(
  catalogue: Catalogue,
  trainHistories: readonly (readonly number[])[],
  users: readonly ScoredUser[],
  k: number,
  lambda = DEFAULT_EASE_LAMBDA,
): number[][] | null {
  const liked = [...new Set(trainHistories.flat())].sort((a, b) => a - b);
  if (liked.length > EASE_MAX_ITEMS) return null;
  const indexOf = new Map(liked.map((id, index) => [id, index]));
  const n = liked.length;
  const b = easeWeights(
    trainHistories.map((history) => history.map((id) => indexOf.get(id)!)),
    n,
    lambda,
  );
  const scores = new Float64Array(n);
  return users.map((user) => {
    scores.fill(0);
    const own = new Set<number>();
    for (const id of user.train) {
      const i = indexOf.get(id);
      if (i === undefined || own.has(i)) continue;
      own.add(i);
      const row = i * n;
      for (let j = 0; j < n; j += 1) scores[j]! += b[row + j]!;
    }
    return topK(scores, k, (j) => own.has(j) || !catalogue.indexOf.has(liked[j]!)).map((j) => liked[j]!);
  });
}
