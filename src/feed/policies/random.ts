/**
 * Seeded randomness for the feed policies. Math.random cannot be replayed, and a logged page must be
 * reproducible from its seed (request id + page) to audit or re-score it, so every draw goes through an Rng.
 */
import { createSfc32 } from '../../random/createSfc32.js';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
}

/** cyrb53 (bryc, public domain): a fast 53-bit string hash, good enough to spread seeds, not a MAC. */
export function cyrb53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

const TWO_32 = 4294967296;

function sfc32(a: number, b: number, c: number, d: number): Rng {
  const nextUint32 = createSfc32(a, b, c, d);
  return { next: () => nextUint32() / TWO_32 };
}

/**
 * A generator from a number or string seed. Strings are the intended use (`${requestId}:${page}`): the
 * hash makes nearby seeds ("…:1", "…:2") give unrelated streams.
 */
export function createRng(seed: number | string): Rng {
  const text = typeof seed === 'number' ? `n:${seed}` : `s:${seed}`;
  const word = (salt: number) => cyrb53(text, salt) >>> 0;
  return sfc32(word(0x9e3779b9), word(0x85ebca6b), word(0xc2b2ae35), word(0x27d4eb2f));
}

/** An independent child stream, so a side computation (e.g. Monte Carlo) does not shift the parent's draws. */
export function forkRng(parent: Rng): Rng {
  const word = () => Math.floor(parent.next() * TWO_32);
  return sfc32(word(), word(), word(), word());
}

/** Uniform integer in [0, n). */
export function uniformInt(rng: Rng, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`uniformInt needs a positive integer, got ${n}`);
  return Math.floor(rng.next() * n);
}

/** Standard normal by the Marsaglia polar method (no trig; the spare value is dropped to stay stateless). */
export function standardNormal(rng: Rng): number {
  for (;;) {
    const u = 2 * rng.next() - 1;
    const v = 2 * rng.next() - 1;
    const s = u * u + v * v;
    if (s > 0 && s < 1) return u * Math.sqrt((-2 * Math.log(s)) / s);
  }
}

/** Gamma(shape, 1) by Marsaglia–Tsang (2000); shape < 1 uses Gamma(shape + 1) · U^(1/shape). */
export function gamma(rng: Rng, shape: number): number {
  if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) {
    // 1 - next() is in (0, 1], so the power never turns a finite draw into log(0) territory.
    return gamma(rng, shape + 1) * Math.pow(1 - rng.next(), 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = standardNormal(rng);
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = 1 - rng.next();
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2) return d * v;
    if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function beta(rng: Rng, a: number, b: number): number {
  const x = gamma(rng, a);
  const y = gamma(rng, b);
  const sum = x + y;
  // Both gammas underflow to 0 only for tiny shapes; the mean is the least surprising answer then.
  return sum > 0 ? x / sum : a / (a + b);
}
