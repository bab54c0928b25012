import { z } from 'zod';
import { createBadUserInputError } from '../errors/errors.js';
import { checkPageSize, DEFAULT_PAGE_SIZE } from '../validation/pageSize.js';
import { LazyEdge, LazyPageInfo } from '../platform/lazyConnection.js';

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface PageRequest<K> {
  direction: 'forward' | 'backward';
  size: number;
  /** Rows strictly after (forward) or before (backward) this key; null = from the start/end. */
  cursor: K | null;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

/** Cursors are opaque to clients: base64url of a versioned key tuple. */
export function encodeCursor(key: readonly unknown[]): string {
  return Buffer.from(JSON.stringify({ v: 1, k: key }), 'utf8').toString('base64url');
}

export function decodeCursor<K>(cursor: string, keySchema: z.ZodType<K>, argName: string): K {
  const fail = () => createBadUserInputError(`${argName} is not a valid cursor for this list`, argName);
  if (cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw fail();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw fail();
  }
  const envelope = z
    .object({ v: z.literal(1), k: keySchema })
    .strict()
    .safeParse(parsed);
  if (!envelope.success) throw fail();
  return envelope.data.k;
}

/** Validates Relay arguments: page sizes 1..100, one direction at a time, well-formed cursors. */
export function pageRequest<K>(args: ConnectionArgs, keySchema: z.ZodType<K>): PageRequest<K> {
  if (args.first != null) checkPageSize('first', args.first);
  if (args.last != null) checkPageSize('last', args.last);
  const backward = args.last != null || args.before != null;
  if (backward && (args.first != null || args.after != null)) {
    throw createBadUserInputError(
      'use first/after or last/before, not both',
      args.first != null ? 'first' : 'after',
    );
  }
  if (backward) {
    return {
      direction: 'backward',
      size: args.last ?? DEFAULT_PAGE_SIZE,
      cursor: args.before != null ? decodeCursor(args.before, keySchema, 'before') : null,
    };
  }
  return {
    direction: 'forward',
    size: args.first ?? DEFAULT_PAGE_SIZE,
    cursor: args.after != null ? decodeCursor(args.after, keySchema, 'after') : null,
  };
}

/**
 * Builds a Relay connection from rows fetched as `size + 1` items in the page's direction (the extra
 * row only says whether there is more). Backward pages arrive reversed and are put back in order.
 */
export function toConnection<T, K extends readonly unknown[]>(
  request: PageRequest<K>,
  fetched: T[],
  keyOf: (row: T) => K,
): Connection<T> {
  const hasMore = fetched.length > request.size;
  const page = fetched.slice(0, request.size);
  if (request.direction === 'backward') page.reverse();
  const cursorOf = (node: T) => encodeCursor(keyOf(node));
  const edges = page.map((node) => new LazyEdge(node, cursorOf));
  return {
    edges,
    pageInfo: new LazyPageInfo(
      request.direction === 'forward' ? hasMore : request.cursor !== null,
      request.direction === 'backward' ? hasMore : request.cursor !== null,
      () => edges[0]?.cursor ?? null,
      () => edges.at(-1)?.cursor ?? null,
    ),
  };
}
