import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz, timestamptzIso } from './pgTypes.js';

const reference = pg.types.getTypeParser(1184, 'text') as (text: string) => Date | number | null;

/** What the default parser (postgres-date) makes of it, as a comparable value. */
const expected = (text: string) => {
  const value = reference(text);
  return value instanceof Date ? value.getTime() : value;
};
const actual = (text: string) => {
  const value: unknown = parseTimestamptz(text);
  return value instanceof Date ? value.getTime() : value;
};

describe('parseTimestamptz', () => {
  it('reads what PostgreSQL writes exactly as the default parser does', () => {
    const texts = [
      '2026-12-04 19:20:38+00',
      '2026-12-04 19:20:38.5+00',
      '2026-12-04 19:20:38.123456+00',
      '2026-12-04 19:20:38.999999+00',
      '2026-12-04 19:20:38.1+05:30',
      '2026-12-04 00:00:00-08',
      '1999-12-31 23:59:59.000001-03:30',
      '2024-02-29 12:00:00+05:45:30',
      '1000-01-01 00:00:00+00',
      '9999-12-31 23:59:59.999+14',
    ];
    for (const text of texts) expect(actual(text), text).toBe(expected(text));
  });

  it('agrees with the default parser on 5,000 random instants, offsets and precisions', () => {
    let seed = 7;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const pad = (v: number, width = 2) => String(v).padStart(width, '0');
    for (let i = 0; i < 5000; i += 1) {
      const fraction = next(7) === 0 ? '' : `.${pad(next(1_000_000), 6).slice(0, 1 + next(6))}`;
      const hours = next(15);
      const offset = `${next(2) === 0 ? '+' : '-'}${pad(hours)}${next(3) === 0 ? `:${pad(next(60))}` : ''}`;
      const text =
        `${1000 + next(9000)}-${pad(1 + next(12))}-${pad(1 + next(28))} ` +
        `${pad(next(24))}:${pad(next(60))}:${pad(next(60))}${fraction}${offset}`;
      expect(actual(text), text).toBe(expected(text));
    }
  });

  it('hands everything else to the default parser: BC, other years, infinity', () => {
    for (const text of [
      '0044-03-15 12:00:00+00 BC',
      '0099-01-01 00:00:00+00',
      '12026-01-01 00:00:00+00',
      'infinity',
      '-infinity',
      '2026-12-04T19:20:38Z',
    ]) {
      expect(actual(text), text).toEqual(expected(text));
    }
  });
});

describe('timestamptzIso', () => {
  it('writes UTC with every fractional digit PostgreSQL gave, whatever the zone', () => {
    expect(timestamptzIso('2026-12-04 19:20:38.123456+00')).toBe('2026-12-04T19:20:38.123456Z');
    expect(timestamptzIso('2026-12-04 19:20:38.000001+05:30')).toBe('2026-12-04T13:50:38.000001Z');
    expect(timestamptzIso('2026-12-04 19:20:38.5+00')).toBe('2026-12-04T19:20:38.500Z');
    expect(timestamptzIso('2026-12-04 00:00:00-08')).toBe('2026-12-04T08:00:00.000Z');
    expect(timestamptzIso('-infinity')).toBe('-infinity');
  });
});
