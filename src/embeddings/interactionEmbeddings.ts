/**
 * Item embeddings for a catalogue without a model of its own, from the interaction history alone
 * (issue #15 item 4, `npm run import -- --embed interactions`): a truncated SVD of the weighted
 * user x item matrix, each item's factor zero-padded to the column's dimension and L2-normalised.
 * Items nobody interacted with get no embedding (null), never a zero vector: pgvector's cosine of a zero
 * vector is NaN, and "no evidence" must not look like a direction.
 *
 * The defaults (weighting, factor scaling, popularity damping) were chosen by `npm run eval:embeddings`
 * (docs/bring-your-own-data.md has the table). Time and memory are linear in nnz and nItems * rank.
 */
import { EMBEDDING_DIMENSIONS } from '../validation/embedding.js';
import { randomisedSvd } from './randomisedSvd.js';
import type { Csr, InteractionArrays } from './sparseMatrix.js';
import { buildUserItemCsr, transposeCsr } from './sparseMatrix.js';
import { applyWeighting, INTERACTION_WEIGHTINGS, type InteractionWeighting } from './weighting.js';

export type { InteractionArrays } from './sparseMatrix.js';
export { InteractionInputError } from './sparseMatrix.js';
export type { InteractionWeighting } from './weighting.js';
export { INTERACTION_WEIGHTINGS } from './weighting.js';

/** Item factor = V (none), V * Sigma^(1/2) (sqrt) or V * Sigma (full), before normalisation. */
export const FACTOR_SCALINGS = ['none', 'sqrt', 'full'] as const;
export type FactorScaling = (typeof FACTOR_SCALINGS)[number];

export interface InteractionEmbeddingOptions {
  /** Components kept, 64..128. */
  readonly rank?: number;
  /** Length of each vector (the vector column's width); components beyond the rank are zero. */
  readonly dimension?: number;
  /** Same seed and input, same vectors. */
  readonly seed?: number;
  /** Power iterations of the range finder, 0..8: more is sharper and slower (one 2-product pass each). */
  readonly powerIterations?: number;
  /** Extra sketch columns beyond the rank, 0..64 (Halko et al. suggest 5-10). */
  readonly oversampling?: number;
  readonly weighting?: InteractionWeighting;
  readonly factorScaling?: FactorScaling;
  /** Each item's column divided by (its user count)^this before the SVD, 0..1: 0 leaves popularity alone. */
  readonly popularityDamping?: number;
}

export const MIN_RANK = 64;
export const MAX_RANK = 128;

export const DEFAULT_INTERACTION_EMBEDDING_OPTIONS = {
  rank: 64,
  dimension: EMBEDDING_DIMENSIONS,
  seed: 1,
  powerIterations: 2,
  oversampling: 10,
  weighting: 'log',
  factorScaling: 'full',
  popularityDamping: 0.25,
} as const satisfies Required<InteractionEmbeddingOptions>;

export interface InteractionEmbeddings {
  readonly dimension: number;
  /** Components found: the requested rank, or fewer when the matrix has lower rank. */
  readonly rank: number;
  readonly singularValues: Float64Array;
  readonly nItems: number;
  /** Items with a vector. */
  readonly embeddedItems: number;
  /**
   * nItems x rank, row-major, unit rows (zero rows for items without an embedding): the compact form,
   * so 100k items cost 100k * rank floats rather than 100k * dimension. `vectorOf` pads on demand.
   */
  readonly factors: Float32Array;
  hasEmbedding(item: number): boolean;
  /** A fresh Float32Array of `dimension` (norm 1), or null for an item without interactions. */
  vectorOf(item: number): Float32Array | null;
}

/** A wrong option, named, with what is allowed. */
export class EmbeddingOptionsError extends RangeError {
  override readonly name = 'EmbeddingOptionsError';
}

function wholeNumberIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new EmbeddingOptionsError(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
  return value;
}

type ResolvedOptions = {
  -readonly [K in keyof InteractionEmbeddingOptions]-?: InteractionEmbeddingOptions[K];
};

export function resolveInteractionEmbeddingOptions(
  options: InteractionEmbeddingOptions = {},
): ResolvedOptions {
  const merged = { ...DEFAULT_INTERACTION_EMBEDDING_OPTIONS, ...options };
  const rank = wholeNumberIn('rank', merged.rank, MIN_RANK, MAX_RANK);
  // pgvector's limit for a vector column.
  wholeNumberIn('dimension', merged.dimension, rank, 16_000);
  wholeNumberIn('seed', merged.seed, 0, 0xffffffff);
  wholeNumberIn('powerIterations', merged.powerIterations, 0, 8);
  wholeNumberIn('oversampling', merged.oversampling, 0, 64);
  if (!(INTERACTION_WEIGHTINGS as readonly string[]).includes(merged.weighting))
    throw new EmbeddingOptionsError(
      `weighting must be one of ${INTERACTION_WEIGHTINGS.join(', ')}, got ${String(merged.weighting)}`,
    );
  if (!(FACTOR_SCALINGS as readonly string[]).includes(merged.factorScaling))
    throw new EmbeddingOptionsError(
      `factorScaling must be one of ${FACTOR_SCALINGS.join(', ')}, got ${String(merged.factorScaling)}`,
    );
  const damping = merged.popularityDamping;
  if (!(Number.isFinite(damping) && damping >= 0 && damping <= 1))
    throw new EmbeddingOptionsError(`popularityDamping must be a number from 0 to 1, got ${damping}`);
  return merged;
}

const SCALING_EXPONENT: Record<FactorScaling, number> = { none: 0, sqrt: 0.5, full: 1 };

export function interactionEmbeddings(
  input: InteractionArrays,
  options: InteractionEmbeddingOptions = {},
): InteractionEmbeddings {
  const resolved = resolveInteractionEmbeddingOptions(options);
  const raw = buildUserItemCsr(input);
  const weighted: Csr = applyWeighting(raw, resolved.weighting, resolved.popularityDamping);
  const svd = randomisedSvd(weighted, transposeCsr(weighted), {
    rank: resolved.rank,
    oversampling: resolved.oversampling,
    powerIterations: resolved.powerIterations,
    seed: resolved.seed,
    rightScaling: SCALING_EXPONENT[resolved.factorScaling],
  });
  return toEmbeddings(raw, svd.rightFactors, svd.rank, svd.singularValues, resolved.dimension);
}

function toEmbeddings(
  raw: Csr,
  rightFactors: Float64Array,
  rank: number,
  singularValues: Float64Array,
  dimension: number,
): InteractionEmbeddings {
  const nItems = raw.nCols;
  const interacted = new Uint8Array(nItems);
  for (let e = 0; e < raw.col.length; e += 1) interacted[raw.col[e]!] = 1;

  // Normalise in float64, store float32. An item with interactions whose factor is (numerically) zero
  // lies outside the kept components; it gets no embedding either, rather than an arbitrary direction.
  const factors = new Float32Array(nItems * rank);
  const embedded = new Uint8Array(nItems);
  let embeddedItems = 0;
  for (let j = 0; j < nItems; j += 1) {
    if (interacted[j] === 0) continue;
    const o = j * rank;
    let sumSq = 0;
    for (let c = 0; c < rank; c += 1) sumSq += rightFactors[o + c]! * rightFactors[o + c]!;
    if (!(sumSq > 1e-24)) continue;
    const inv = 1 / Math.sqrt(sumSq);
    for (let c = 0; c < rank; c += 1) factors[o + c] = rightFactors[o + c]! * inv;
    embedded[j] = 1;
    embeddedItems += 1;
  }

  const checkItem = (item: number): void => {
    if (!Number.isInteger(item) || item < 0 || item >= nItems)
      throw new RangeError(`item must be a whole number from 0 to ${nItems - 1}, got ${item}`);
  };
  return {
    dimension,
    rank,
    singularValues,
    nItems,
    embeddedItems,
    factors,
    hasEmbedding: (item) => {
      checkItem(item);
      return embedded[item] === 1;
    },
    vectorOf: (item) => {
      checkItem(item);
      if (embedded[item] === 0) return null;
      const vector = new Float32Array(dimension);
      vector.set(factors.subarray(item * rank, item * rank + rank));
      return vector;
    },
  };
}
