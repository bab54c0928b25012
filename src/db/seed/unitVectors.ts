import { EMBEDDING_DIMENSIONS } from '../../validation/embedding.js';
import type { Rng } from './createRng.js';

/** The deployment's embedding width (vector(384) in the migrations); the one constant lives in a leaf. */
export const EMBEDDING_DIM = EMBEDDING_DIMENSIONS;

// Noise is scaled so its expected length is `spread`, independent of the dimension.
const NOISE_SCALE = 1 / Math.sqrt(EMBEDDING_DIM);

/** Scales `v` to unit length in place (and returns it). */
export function normaliseInPlace(v: Float64Array): Float64Array {
  let sumSq = 0;
  for (let i = 0; i < v.length; i += 1) sumSq += (v[i] ?? 0) * (v[i] ?? 0);
  const norm = Math.sqrt(sumSq);
  if (norm === 0) throw new Error('cannot normalise a zero vector');
  for (let i = 0; i < v.length; i += 1) v[i] = (v[i] ?? 0) / norm;
  return v;
}

/** A direction drawn uniformly-ish over the sphere: used for category centroids. */
export function randomUnitVector(rng: Rng): Float64Array {
  const v = new Float64Array(EMBEDDING_DIM);
  for (let i = 0; i < EMBEDDING_DIM; i += 1) v[i] = rng.gaussian();
  return normaliseInPlace(v);
}

/**
 * `base` nudged by random noise of expected length `spread`, re-normalised. Cosine to the base is
 * about 1 / sqrt(1 + spread²), which is what clusters interests around their category and
 * listings around their interest.
 */
export function jitterUnitVector(base: Float64Array, spread: number, rng: Rng): Float64Array {
  const v = new Float64Array(EMBEDDING_DIM);
  const scale = spread * NOISE_SCALE;
  for (let i = 0; i < EMBEDDING_DIM; i += 1) v[i] = (base[i] ?? 0) + rng.gaussian() * scale;
  return normaliseInPlace(v);
}

/** Literal components are the unit vector's components times this, rounded to whole numbers. */
export const LITERAL_SCALE = 10_000;
// Longest component text is "-10000," (7 bytes); plus the brackets.
const scratch = Buffer.alloc(EMBEDDING_DIM * 7 + 2);
const ZERO = 48;

/**
 * The direction of a unit vector as a pgvector text literal of whole numbers, e.g.
 * '[-510,233,17,...]' for v × 10⁴. The SQL side must l2_normalize() it back to unit length.
 *
 * Why not '[-0.051047,0.023312,...]': for 100k listings (38M components) the decimal form is
 * twice the bytes and Postgres's strtof spends ~4x longer on it (measured: ~5 s vs ~1.3 s of
 * server CPU, plus ~2 s receiving). Rounding to 1e-4 of a unit vector turns it by ~6e-4 rad,
 * a cosine change of ~2e-7 — invisible to similarity search.
 *
 * Written byte by byte with integer arithmetic (no toFixed, no string concatenation, whose rope
 * strings cost far more to build and collect at this volume); only IEEE multiply and round,
 * so the text is identical on every machine.
 */
export function directionLiteral(v: Float64Array): string {
  let pos = 0;
  scratch[pos++] = 91; // [
  for (let i = 0; i < v.length; i += 1) {
    if (i > 0) scratch[pos++] = 44; // ,
    let q = Math.round((v[i] ?? 0) * LITERAL_SCALE);
    if (q < 0) {
      scratch[pos++] = 45; // -
      q = -q;
    }
    const digits = q >= 10_000 ? 5 : q >= 1_000 ? 4 : q >= 100 ? 3 : q >= 10 ? 2 : 1;
    for (let d = digits - 1; d >= 0; d -= 1) {
      scratch[pos + d] = ZERO + (q % 10);
      q = Math.floor(q / 10);
    }
    pos += digits;
  }
  scratch[pos++] = 93; // ]
  return scratch.toString('latin1', 0, pos);
}
