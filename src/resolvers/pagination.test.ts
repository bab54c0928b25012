import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeCursor, encodeCursor, pageRequest, toConnection } from './pagination.js';

const key = z.tuple([z.number().int().positive()]);

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error instanceof GraphQLError ? error.extensions.code : error;
  }
  return undefined;
}

describe('pageRequest', () => {
  it('defaults to the first 20 items', () => {
    expect(pageRequest({}, key)).toEqual({ direction: 'forward', size: 20, cursor: null });
  });

  it('accepts 1 to 100 items and refuses anything else as BAD_USER_INPUT', () => {
    expect(pageRequest({ first: 1 }, key).size).toBe(1);
    expect(pageRequest({ last: 100 }, key).size).toBe(100);
    for (const first of [0, -1, 101, 1.5])
      expect(codeOf(() => pageRequest({ first }, key))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => pageRequest({ last: 101 }, key))).toBe('BAD_USER_INPUT');
  });

  it('refuses paging both ways at once', () => {
    expect(codeOf(() => pageRequest({ first: 5, last: 5 }, key))).toBe('BAD_USER_INPUT');
    expect(codeOf(() => pageRequest({ after: encodeCursor([3]), before: encodeCursor([9]) }, key))).toBe(
      'BAD_USER_INPUT',
    );
  });

  it('decodes its own cursors and rejects tampered ones', () => {
    expect(pageRequest({ after: encodeCursor([42]) }, key).cursor).toEqual([42]);
    const tampered = [
      'not a cursor!',
      Buffer.from('{"v":2,"k":[1]}').toString('base64url'),
      Buffer.from('{"v":1,"k":["1"]}').toString('base64url'),
      Buffer.from('{"v":1,"k":[1],"x":1}').toString('base64url'),
      Buffer.from('[1]').toString('base64url'),
      'a'.repeat(600),
    ];
    for (const after of tampered) expect(codeOf(() => pageRequest({ after }, key))).toBe('BAD_USER_INPUT');
  });

  it('names the argument whose cursor is bad', () => {
    expect(() => decodeCursor('zz', key, 'before')).toThrow('before is not a valid cursor for this list');
  });
});

describe('toConnection', () => {
  const rows = [{ id: 9 }, { id: 8 }, { id: 7 }];

  it('uses the extra row only to say there is a next page', () => {
    const page = toConnection({ direction: 'forward', size: 2, cursor: null }, rows, (r) => [r.id] as const);
    expect(page.edges.map((e) => e.node.id)).toEqual([9, 8]);
    expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    expect(page.pageInfo.endCursor).toBe(encodeCursor([8]));
  });

  it('puts a backward page back in order', () => {
    const fetched = [{ id: 3 }, { id: 4 }, { id: 5 }];
    const page = toConnection(
      { direction: 'backward', size: 2, cursor: [2] },
      fetched,
      (r) => [r.id] as const,
    );
    expect(page.edges.map((e) => e.node.id)).toEqual([4, 3]);
    expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
  });

  it('reports an empty page with null cursors', () => {
    const page = toConnection(
      { direction: 'forward', size: 5, cursor: null },
      [],
      (r: { id: number }) => [r.id] as const,
    );
    expect(page.edges).toEqual([]);
    const { hasNextPage, hasPreviousPage, startCursor, endCursor } = page.pageInfo;
    expect({ hasNextPage, hasPreviousPage, startCursor, endCursor }).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: null,
      endCursor: null,
    });
  });

  it('gives each edge its key’s cursor and the page its first and last', () => {
    const page = toConnection({ direction: 'forward', size: 3, cursor: null }, rows, (r) => [r.id] as const);
    expect(page.edges.map((e) => e.cursor)).toEqual([
      encodeCursor([9]),
      encodeCursor([8]),
      encodeCursor([7]),
    ]);
    expect([page.pageInfo.startCursor, page.pageInfo.endCursor]).toEqual([
      encodeCursor([9]),
      encodeCursor([7]),
    ]);
  });
});
