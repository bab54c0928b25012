/**
 * Every connection pages 1..100 items; 20 when the client does not say. A leaf module, so the schema
 * (argument defaults), the resolvers (pagination) and the feed all read the same numbers.
 */
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;
