import { createBadUserInputError } from '../errors/errors.js';

/**
 * Every connection pages 1..100 items; 20 when the client does not say. A leaf module, so the schema
 * (argument defaults), the resolvers (pagination) and the feed all read the same numbers.
 */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/** Whether `size` is a valid page size: a whole number from 1 to `max` (@default MAX_PAGE_SIZE). */
export function isPageSize(size: number, max = MAX_PAGE_SIZE): boolean {
  return Number.isInteger(size) && size >= 1 && size <= max;
}

/**
 * Checks a page-size argument (`first`, `last`, `limit`): isPageSize, else BAD_USER_INPUT on that
 * argument with the one message every connection and list uses.
 */
export function checkPageSize(argument: string, size: number, max = MAX_PAGE_SIZE): number {
  if (isPageSize(size, max)) return size;
  throw createBadUserInputError(`${argument} must be a whole number from 1 to ${max}, got ${size}`, argument);
}
