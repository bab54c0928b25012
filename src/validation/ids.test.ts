import { describe, expect, it } from 'vitest';
import { parseBigintId, parseListingId, parseSerialId, parseUuid } from './ids.js';

/** The BAD_USER_INPUT a parser throws: its message and the argument it names. */
function refusal(parse: () => unknown): { message: string; field: unknown } {
  try {
    parse();
  } catch (error) {
    const e = error as { message: string; extensions?: { code?: string; field?: unknown } };
    expect(e.extensions?.code).toBe('BAD_USER_INPUT');
    return { message: e.message, field: e.extensions?.field };
  }
  throw new Error('expected a refusal');
}

describe('ids: one parser per kind of id, one message shape', () => {
  it('serial ids: 1 to 2^31−1, digits only, numbers or strings', () => {
    expect(parseSerialId('42', 'listingId', 'listing')).toBe(42);
    expect(parseSerialId(7, 'interestId', 'interest')).toBe(7);
    expect(parseSerialId('2147483647', 'id', 'listing')).toBe(2_147_483_647);
    for (const bad of ['0', '-1', '1.5', '1e3', ' 1', 'abc', '', '2147483648', '99999999999']) {
      expect(refusal(() => parseSerialId(bad, 'interestId', 'interest'))).toEqual({
        message: `interestId must be an interest id (a positive whole number), got "${bad}"`,
        field: 'interestId',
      });
    }
  });

  it('listing ids name `id` unless told otherwise', () => {
    expect(refusal(() => parseListingId('x')).field).toBe('id');
    expect(refusal(() => parseListingId('x', 'listingId')).message).toBe(
      'listingId must be a listing id (a positive whole number), got "x"',
    );
  });

  it('bigint ids stay text and may exceed 2^53', () => {
    expect(parseBigintId('123456789012345678', 'commentId', 'comment')).toBe('123456789012345678');
    for (const bad of ['0', '01', '1234567890123456789', 'abc']) {
      expect(refusal(() => parseBigintId(bad, 'commentId', 'comment')).message).toBe(
        `commentId must be a comment id (a positive whole number), got "${bad}"`,
      );
    }
  });

  it('uuids are lower-cased; anything else is refused', () => {
    const id = '0B4D1F3A-5C6E-4F80-9A1B-2C3D4E5F6A7B';
    expect(parseUuid(id, 'userId', 'user')).toBe(id.toLowerCase());
    expect(refusal(() => parseUuid(`${id}x`, 'userId', 'user')).message).toBe(
      `userId must be a user id (a uuid), got "${id}x"`,
    );
  });

  it('a long refused value is cut to 64 characters in the message', () => {
    const { message } = refusal(() => parseUuid('a'.repeat(10_000), 'impressionId', 'impression'));
    expect(message).toBe(`impressionId must be an impression id (a uuid), got "${'a'.repeat(64)}…"`);
  });
});
