import { createBadUserInputError } from '../errors/errors.js';
import { isUuid } from './isUuid.js';

/**
 * The ids clients send, parsed once: a serial id (a positive int4: listings, interests, categories), a
 * bigint id (comments) or a uuid (users, impressions). Anything else is BAD_USER_INPUT naming the
 * argument, in one message shape: `<field> must be a <noun> id (<form>), got "<value>"`; never a
 * NOT_FOUND or a database error. The schema's types (ID, Int) are unchanged.
 */

const MAX_INT4 = 2_147_483_647;
/** A bigint column holds up to 19 digits; 18 keep every accepted id below its maximum. */
const BIGINT_ID = /^[1-9]\d{0,17}$/;
/** How much of a refused value the message repeats. */
const SHOWN_CHARS = 64;

function refuse(field: string, noun: string, form: string, raw: string | number): never {
  const text = String(raw);
  const shown = text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text;
  // "a user", "an interest": the nouns used here never start with a vowel sound spelled u.
  const article = /^[aeio]/i.test(noun) ? 'an' : 'a';
  throw createBadUserInputError(`${field} must be ${article} ${noun} id (${form}), got "${shown}"`, field);
}

/** A serial id: digits only (leading zeros allowed), 1 to 2^31−1. */
export function parseSerialId(raw: string | number, field: string, noun: string): number {
  const text = String(raw);
  const n = Number(text);
  if (!/^\d{1,10}$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > MAX_INT4) {
    refuse(field, noun, 'a positive whole number', raw);
  }
  return n;
}

/** A bigint id, kept as text (JavaScript numbers cannot hold every bigint). */
export function parseBigintId(raw: string, field: string, noun: string): string {
  if (!BIGINT_ID.test(raw)) refuse(field, noun, 'a positive whole number', raw);
  return raw;
}

/** A uuid in canonical form, lower-cased. */
export function parseUuid(raw: string, field: string, noun: string): string {
  if (!isUuid(raw)) refuse(field, noun, 'a uuid', raw);
  return raw.toLowerCase();
}

/** Listing ids (the argument is `id` unless named). */
export const parseListingId = (raw: string | number, field = 'id'): number =>
  parseSerialId(raw, field, 'listing');
