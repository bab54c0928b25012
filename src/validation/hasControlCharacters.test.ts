import { describe, expect, it } from 'vitest';
import { hasControlCharacters } from './hasControlCharacters.js';

describe('hasControlCharacters', () => {
  it('allows newline and tab in text that may span lines, refuses other C0 and C1 characters', () => {
    expect(hasControlCharacters('two\nlines\tand a tab')).toBe(false);
    expect(hasControlCharacters('bell\u0007')).toBe(true);
    expect(hasControlCharacters('carriage\rreturn')).toBe(true);
    expect(hasControlCharacters('c1\u0085')).toBe(true);
  });

  it('singleLine refuses newline and tab too', () => {
    expect(hasControlCharacters('key\n', { singleLine: true })).toBe(true);
    expect(hasControlCharacters('key\t', { singleLine: true })).toBe(true);
    expect(hasControlCharacters('key-1', { singleLine: true })).toBe(false);
  });
});
