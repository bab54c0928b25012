import { describe, expect, it } from 'vitest';
import { checkPageSize, MAX_PAGE_SIZE } from './pageSize.js';

describe('checkPageSize', () => {
  it('returns a size from 1 to MAX_PAGE_SIZE', () => {
    expect(checkPageSize('first', 1)).toBe(1);
    expect(checkPageSize('limit', MAX_PAGE_SIZE)).toBe(MAX_PAGE_SIZE);
  });

  it.each([0, -1, 101, 2.5])('refuses %s with the one message, on the argument', (size) => {
    expect(() => checkPageSize('last', size)).toThrow(
      `last must be a whole number from 1 to 100, got ${size}`,
    );
    try {
      checkPageSize('last', size);
    } catch (error) {
      expect((error as { extensions?: Record<string, unknown> }).extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
      });
    }
  });
});
