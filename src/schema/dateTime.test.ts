import { describe, expect, it } from 'vitest';
import { parseInstant } from './dateTime.js';

describe('parseInstant (the DateTime scalar input)', () => {
  it('reads RFC 3339 instants: Z or an offset, with or without fractions', () => {
    expect(parseInstant('2026-11-28T17:00:00Z')?.toISOString()).toBe('2026-11-28T17:00:00.000Z');
    expect(parseInstant('2026-11-28T17:00:00.250Z')?.toISOString()).toBe('2026-11-28T17:00:00.250Z');
    expect(parseInstant('2026-11-28T18:00:00+01:00')?.toISOString()).toBe('2026-11-28T17:00:00.000Z');
    expect(parseInstant('2026-11-28 12:30:00-04:30')?.toISOString()).toBe('2026-11-28T17:00:00.000Z');
    expect(parseInstant('2028-02-29T00:00:00Z')?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(parseInstant('0001-01-01T00:00:00Z')?.getUTCFullYear()).toBe(1);
    expect(parseInstant('9999-12-31T23:59:59.999Z')?.getUTCFullYear()).toBe(9999);
    // What the API itself returns reads back as the same instant.
    const now = new Date();
    expect(parseInstant(now.toISOString())?.getTime()).toBe(now.getTime());
  });

  it('refuses what new Date() would guess at', () => {
    for (const text of [
      '2026-02-30T00:00:00Z', // 2 March to new Date()
      '2026-02-29T00:00:00Z', // not a leap year
      '2026-04-31T00:00:00Z',
      '2026-12-05T24:00:00Z',
      '2026-12-05T10:60:00Z',
      '2026-12-05T10:00:60Z',
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '2026-12-05', // no time
      '2026-12-05T10:00:00', // no zone: the server's would be guessed
      '2026-12-05T10:00Z', // no seconds
      'Dec 5 2026',
      '1733400000000',
      '-271821-04-20T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '2026-12-05T10:00:00+24:00',
      ' 2026-12-05T10:00:00Z',
      '2026-12-05T10:00:00Z\n',
      '',
    ]) {
      expect(parseInstant(text), JSON.stringify(text)).toBeNull();
    }
  });
});
