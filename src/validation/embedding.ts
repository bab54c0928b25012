/**
 * The deployment's embedding width: every `vector(384)` column in the migrations (listings, interests,
 * profiles). A leaf, so the seeder, the catalogue checks and the interaction embeddings share one
 * number; changing it means a migration of those columns too.
 */
export const EMBEDDING_DIMENSIONS = 384;

/** The largest magnitude pgvector stores: vectors are single-precision floats. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Why a list of numbers cannot be stored as an embedding, or null when it can: exactly
 * EMBEDDING_DIMENSIONS finite numbers within single precision that are not all zero once stored as
 * single-precision floats (a zero vector has no direction: its cosine distance to anything is
 * undefined). One pass.
 */
export function embeddingProblem(values: unknown): string | null {
  if (!Array.isArray(values)) return 'must be a list of numbers';
  if (values.length !== EMBEDDING_DIMENSIONS) {
    return `must have ${EMBEDDING_DIMENSIONS} numbers, got ${values.length}`;
  }
  let squares = 0;
  for (let i = 0; i < values.length; i += 1) {
    const value: unknown = values[i];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return `must hold only finite numbers (position ${i} is not one)`;
    }
    if (Math.abs(value) > FLOAT32_MAX) {
      return `must hold single-precision numbers (position ${i} is beyond ±3.4e38)`;
    }
    const stored = Math.fround(value);
    squares += stored * stored;
  }
  if (!(squares > 0) || !Number.isFinite(squares)) {
    return squares > 0 ? 'is too large (its norm overflows)' : 'must not be all zeros (its norm is 0)';
  }
  return null;
}

/** pgvector's text form, `[1,2,3]`, for a `$n::vector` parameter. */
export const vectorLiteral = (values: ArrayLike<number>): string => `[${Array.from(values).join(',')}]`;
