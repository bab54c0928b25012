/**
 * How raw interaction weights (summed per user and item) become matrix entries before the SVD. Raw
 * counts let a handful of heavy users and blockbuster items fill the first components; each scheme
 * below damps that differently (compared by `npm run eval:embeddings`).
 */
import type { Csr } from './sparseMatrix.js';

/**
 * - binary: 1 for every (user, item) with any interaction.
 * - log: log(1 + summed weight): repeats count, with diminishing returns.
 * - bm25: Okapi BM25 per user row (K1 = 100, B = 0.8, as in the `implicit` library): item idf times a
 *   saturating, user-length-normalised weight.
 * - userNormalised: binary divided by sqrt(the user's item count), so each user's row has length 1.
 */
export const INTERACTION_WEIGHTINGS = ['binary', 'log', 'bm25', 'userNormalised'] as const;
export type InteractionWeighting = (typeof INTERACTION_WEIGHTINGS)[number];

const BM25_K1 = 100;
const BM25_B = 0.8;
/** BM25's idf goes to zero or below for an item nearly everyone has; keep such items in the matrix. */
const MIN_IDF = 0.01;

/** A new matrix with the same pattern and weighted values; O(nnz + nRows + nCols). */
export function applyWeighting(a: Csr, weighting: InteractionWeighting, popularityDamping: number): Csr {
  const nnz = a.col.length;
  const value = new Float64Array(nnz);
  const itemUsers = new Uint32Array(a.nCols);
  for (let e = 0; e < nnz; e += 1) itemUsers[a.col[e]!]! += 1;

  if (weighting === 'binary') value.fill(1);
  else if (weighting === 'log') for (let e = 0; e < nnz; e += 1) value[e] = Math.log1p(a.value[e]!);
  else if (weighting === 'userNormalised') {
    for (let r = 0; r < a.nRows; r += 1) {
      const begin = a.rowStart[r]!;
      const end = a.rowStart[r + 1]!;
      const w = 1 / Math.sqrt(end - begin);
      for (let e = begin; e < end; e += 1) value[e] = w;
    }
  } else {
    let total = 0;
    for (let e = 0; e < nnz; e += 1) total += a.value[e]!;
    const averageLength = a.nRows > 0 ? total / a.nRows : 0;
    const logUsers = Math.log(a.nRows);
    for (let r = 0; r < a.nRows; r += 1) {
      const begin = a.rowStart[r]!;
      const end = a.rowStart[r + 1]!;
      let length = 0;
      for (let e = begin; e < end; e += 1) length += a.value[e]!;
      const lengthNorm = 1 - BM25_B + (BM25_B * length) / averageLength;
      for (let e = begin; e < end; e += 1) {
        const w = a.value[e]!;
        const idf = Math.max(MIN_IDF, logUsers - Math.log1p(itemUsers[a.col[e]!]!));
        value[e] = ((w * (BM25_K1 + 1)) / (BM25_K1 * lengthNorm + w)) * idf;
      }
    }
  }

  if (popularityDamping > 0) {
    const columnScale = new Float64Array(a.nCols);
    for (let j = 0; j < a.nCols; j += 1)
      columnScale[j] = itemUsers[j]! > 0 ? 1 / power(itemUsers[j]!, popularityDamping) : 0;
    for (let e = 0; e < nnz; e += 1) value[e]! *= columnScale[a.col[e]!]!;
  }
  return { ...a, value };
}

/** x^p, with the usual exponents as square roots (exact in IEEE arithmetic, unlike Math.pow). */
function power(x: number, p: number): number {
  if (p === 1) return x;
  if (p === 0.5) return Math.sqrt(x);
  if (p === 0.25) return Math.sqrt(Math.sqrt(x));
  return Math.pow(x, p);
}
