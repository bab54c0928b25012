import pg from 'pg';

/** timestamptz's type oid. */
const TIMESTAMPTZ = 1184;

const defaultParseTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => Date;

/** The two decimal digits at `at` as a number, or -1 when either is not a digit. */
function two(text: string, at: number): number {
  const tens = text.charCodeAt(at) - 48;
  const ones = text.charCodeAt(at + 1) - 48;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1;
}

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
    text.charCodeAt(16) !== 58
  ) {
    return defaultParseTimestamptz(text);
  }
  const century = two(text, 0);
  const yy = two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const hour = two(text, 11);
  const minute = two(text, 14);
  const second = two(text, 17);
  if (century < 10 || yy < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
    return defaultParseTimestamptz(text);
  }
  let at = 19;
  let ms = 0;
  if (text.charCodeAt(at) === 46) {
    // '.': up to six digits; milliseconds are the first three (truncated, as Date.UTC does).
    at += 1;
    let scale = 100;
    for (let code = text.charCodeAt(at); code >= 48 && code <= 57; code = text.charCodeAt(at)) {
      ms += (code - 48) * scale;
      scale /= 10;
      at += 1;
    }
    ms = Math.trunc(ms);
  }
  const sign = text.charCodeAt(at);
  const offsetHours = two(text, at + 1);
  if ((sign !== 43 && sign !== 45) || offsetHours < 0) return defaultParseTimestamptz(text);
  let offsetSec = offsetHours * 3600;
  at += 3;
  if (at < n) {
    const minutes = text.charCodeAt(at) === 58 ? two(text, at + 1) : -1;
    if (minutes < 0) return defaultParseTimestamptz(text);
    offsetSec += minutes * 60;
    at += 3;
  }
  if (at < n) {
    const seconds = text.charCodeAt(at) === 58 ? two(text, at + 1) : -1;
    if (seconds < 0) return defaultParseTimestamptz(text);
    offsetSec += seconds;
    at += 3;
  }
  if (at !== n) return defaultParseTimestamptz(text);
  const utc = Date.UTC(century * 100 + yy, month - 1, day, hour, minute, second, ms);
  return new Date(utc - (sign === 45 ? -offsetSec : offsetSec) * 1000);
}

/** pg's type parsers with parseTimestamptz for timestamptz: what every pool of Lodestar's reads with. */
export const lodestarTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === TIMESTAMPTZ && format !== 'binary'
      ? parseTimestamptz
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * pg's type parsers with timestamptz left as PostgreSQL's text: exact to the microsecond (a Date keeps
 * milliseconds), so a keyset cursor taken from a row finds the row's successor, not the row again.
 */
export const exactTimestampTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === TIMESTAMPTZ && format !== 'binary'
      ? (text: string) => text
      : lodestarTypes.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * A timestamptz in PostgreSQL's text (as exactTimestampTypes leaves it) as ISO 8601 UTC with every
 * fractional digit it has (`2026-12-10T09:30:00.123456Z`); infinities stay as they are.
 */
export function timestamptzIso(text: string): string {
  if (text === 'infinity' || text === '-infinity') return text;
  const iso = parseTimestamptz(text).toISOString();
  // The fraction does not depend on the zone (offsets are whole seconds): the digits after the point.
  const fraction = /\.(\d+)/.exec(text.slice(19))?.[1];
  return fraction && fraction.length > 3 ? `${iso.slice(0, 20)}${fraction}Z` : iso;
}
