import pg from 'pg';

/** timestamptz's type oid. */
const TIMESTAMPTZ = 1184;

const defaultParseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date;

const digit = (text: string, at: number): number => text.charCodeAt(at) - 48;
const two = (text: string, at: number): number => digit(text, at) * 10 + digit(text, at + 1);
const isDigit = (text: string, at: number): boolean => {
  const code = text.charCodeAt(at);
  return code >= 48 && code <= 57;
};

/**
 * A timestamptz as PostgreSQL writes it in text (DateStyle ISO): `YYYY-MM-DD HH:MM:SS[.f…]±HH[:MM[:SS]]`,
 * read by position instead of pg's regular expressions (the default parser, postgres-date, was 7 % of the
 * gateway's CPU on a listings page: a handful of timestamps per row). The same Date as the default parser,
 * fractions truncated to milliseconds; anything else (BC, years outside 1000–9999, infinity, another
 * DateStyle) goes to the default parser.
 */
export function parseTimestamptz(text: string): Date {
  const n = text.length;
  if (
    n < 22 ||
    text.charCodeAt(4) !== 45 || // '-'
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 32 || // ' '
    text.charCodeAt(13) !== 58 || // ':'
    text.charCodeAt(16) !== 58 ||
    digit(text, 0) < 1 ||
    digit(text, 0) > 9
  ) {
    return defaultParseTimestamptz(text);
  }
  for (const at of [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]) {
    if (!isDigit(text, at)) return defaultParseTimestamptz(text);
  }
  let at = 19;
  let ms = 0;
  if (text.charCodeAt(at) === 46) {
    // '.': up to six digits; milliseconds are the first three (truncated, as Date.UTC does).
    at += 1;
    let scale = 100;
    while (at < n && isDigit(text, at)) {
      ms += digit(text, at) * scale;
      scale /= 10;
      at += 1;
    }
    ms = Math.trunc(ms);
  }
  const sign = text.charCodeAt(at);
  if ((sign !== 43 && sign !== 45) || at + 3 > n || !isDigit(text, at + 1) || !isDigit(text, at + 2)) {
    return defaultParseTimestamptz(text);
  }
  let offsetSec = two(text, at + 1) * 3600;
  at += 3;
  for (const unit of [60, 1]) {
    if (at === n) break;
    if (text.charCodeAt(at) !== 58 || at + 3 > n || !isDigit(text, at + 1) || !isDigit(text, at + 2)) {
      return defaultParseTimestamptz(text);
    }
    offsetSec += two(text, at + 1) * unit;
    at += 3;
  }
  if (at !== n) return defaultParseTimestamptz(text);
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + two(text, 2);
  const utc = Date.UTC(year, two(text, 5) - 1, two(text, 8), two(text, 11), two(text, 14), two(text, 17), ms);
  return new Date(utc - (sign === 45 ? -offsetSec : offsetSec) * 1000);
}

/** pg's type parsers with parseTimestamptz for timestamptz: what every pool of Lodestar's reads with. */
export const lodestarTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === TIMESTAMPTZ && format !== 'binary'
      ? parseTimestamptz
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};
