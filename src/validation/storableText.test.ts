import { describe, expect, it } from 'vitest';
import { findUnstorableText, isStorableText } from './storableText.js';

describe('storable text', () => {
  it('refuses a NUL and lone surrogates, accepts everything else Postgres stores', () => {
    expect(isStorableText('plain text, tabs\tand\nnewlines')).toBe(true);
    expect(isStorableText('emoji 😀 and accents é and CJK 漢字')).toBe(true);
    expect(isStorableText('\u0001 other control characters are storable')).toBe(true);
    expect(isStorableText('a\u0000b')).toBe(false);
    expect(isStorableText('\u0000')).toBe(false);
    expect(isStorableText('lone high \ud83d here')).toBe(false);
    expect(isStorableText('lone low \ude00 here')).toBe(false);
    expect(isStorableText('ends high \ud83d')).toBe(false);
  });

  it('finds the first unstorable string or key in nested values, with its path', () => {
    expect(findUnstorableText({ a: ['x', { b: 'ok' }], n: 1, t: true, z: null })).toBeUndefined();
    expect(findUnstorableText({ a: ['x', { b: 'o\u0000k' }] }, '$vars')).toEqual({
      path: '$vars.a[1].b',
      reason: 'a NUL character',
    });
    expect(findUnstorableText({ ['k\u0000']: 1 })).toMatchObject({ path: 'k\u0000', reason: /key/ });
    expect(findUnstorableText('\ud800')).toMatchObject({ reason: 'an unpaired UTF-16 surrogate' });
  });

  it('walks deep and wide values without recursion, each node once', () => {
    let deep: unknown = 'bad\u0000';
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    expect(findUnstorableText(deep)?.reason).toBe('a NUL character');
    const shared = { s: 'ok' };
    const wide = Array.from({ length: 100_000 }, () => shared);
    expect(findUnstorableText(wide)).toBeUndefined();
  });
});
