/**
 * sfc32: 128-bit state, passes PractRand to large sizes, and uses only 32-bit integer arithmetic, so a
 * given state yields the same stream on every machine and Node version. Returns a generator of uint32s.
 * The first outputs of a freshly seeded sfc32 still echo the seed words, so they are discarded.
 */
export function createSfc32(a: number, b: number, c: number, d: number): () => number {
  const nextUint32 = (): number => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i += 1) nextUint32();
  return nextUint32;
}
