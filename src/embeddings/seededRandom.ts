/**
 * Seeded randomness for the embeddings and their evaluation, on sfc32 (src/random): the same seed gives
 * the same stream on every machine. Gaussians come from sums of uniforms, which avoids Math.log and
 * Math.cos (their last bits are left to the engine).
 */
import { createSfc32 } from '../random/createSfc32.js';

const UINT32 = 4294967296;

export interface SeededRandom {
  /** A uniform 32-bit word. */
  word(): number;
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Uniform whole number in [0, n). */
  below(n: number): number;
  /** Approximately standard normal (Irwin-Hall of four uniforms, rescaled to variance 1). */
  gaussian(): number;
}

/** splitmix32 spreads the seed (and a stream number) over sfc32's 128-bit state. */
export function seededRandom(seed: number, stream = 0): SeededRandom {
  let s = ((seed >>> 0) ^ Math.imul(stream + 1, 0x9e3779b1)) | 0;
  const mix = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const word = createSfc32(mix(), mix(), mix(), mix());
  const uniform = (): number => word() / UINT32;
  const gaussianScale = Math.sqrt(3) / UINT32;
  return {
    word,
    uniform,
    below: (n) => Math.floor(uniform() * n),
    gaussian: () => (word() + word() + word() + word() - 2 * UINT32) * gaussianScale,
  };
}
