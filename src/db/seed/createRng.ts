/**
 * Deterministic pseudo-random numbers for the seeder.
 *
 * sfc32 (src/random) uses only 32-bit integer arithmetic, so a given seed yields the same stream on
 * every machine and Node version. Each generator phase asks for its own named stream: adding draws to
 * one phase then never shifts the data of another.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform whole number in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /**
   * Roughly standard-normal (sum of three uniforms, rescaled). Avoids Math.log/Math.cos, whose
   * last bits the ECMAScript spec leaves to the engine, so vectors stay byte-identical everywhere.
   */
  gaussian(): number;
  /** An RFC 4122 version-4 shaped UUID drawn from this stream. */
  uuid(): string;
}

import { createSfc32 } from '../../random/createSfc32.js';

const UINT32 = 4294967296;

/** FNV-1a: turns a stream name into 32 bits of seed material. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i += 1) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 spreads a small seed over sfc32's 128-bit state so nearby seeds diverge at once. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex32(n: number): string {
  return (
    (HEX[(n >>> 24) & 0xff] ?? '') +
    (HEX[(n >>> 16) & 0xff] ?? '') +
    (HEX[(n >>> 8) & 0xff] ?? '') +
    (HEX[n & 0xff] ?? '')
  );
}

export function createRng(seed: number, stream: string): Rng {
  const mix = { s: (seed >>> 0) ^ hashName(stream) };
  const nextUint32 = createSfc32(splitmix32(mix), splitmix32(mix), splitmix32(mix), splitmix32(mix));

  const next = (): number => nextUint32() / UINT32;

  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new Error('rng.pick: cannot pick from an empty list');
      return item;
    },
    gaussian: () => (next() + next() + next() - 1.5) * 2,
    uuid: () => {
      const w1 = nextUint32();
      const w2 = ((nextUint32() & 0xffff0fff) | 0x00004000) >>> 0;
      const w3 = ((nextUint32() & 0x3fffffff) | 0x80000000) >>> 0;
      const w4 = nextUint32();
      const h2 = hex32(w2);
      const h3 = hex32(w3);
      return `${hex32(w1)}-${h2.slice(0, 4)}-${h2.slice(4)}-${h3.slice(0, 4)}-${h3.slice(4)}${hex32(w4)}`;
    },
  };
}
