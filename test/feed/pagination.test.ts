import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  SUGGESTIONS,
  createFeedHarness,
  listingIdsOf,
  suggestionsPage,
  type FeedHarness,
  type SuggestionsPage,
} from '../support/feedHarness.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { testJwtSecret } from '../support/gateway.js';
import { expectErrorCode } from '../support/graphqlResult.js';

/** Cursors are `base64url(JSON payload).signature`; the key defaults to JWT_SECRET (see createFeedSettings). */
function signedCursor(payload: unknown, key = testJwtSecret): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url').slice(0, 22)}`;
}

function payloadOf(cursor: string): { v: number; s: string; p: number; r: number } {
  return JSON.parse(Buffer.from(cursor.split('.')[0]!, 'base64url').toString('utf8')) as {
    v: number;
    s: string;
    p: number;
    r: number;
  };
}

/** Replaces the character at `i` with a different base64url character. */
const flipAt = (text: string, i: number): string =>
  text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);

describe('suggestions pagination', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let gw: FeedHarness;
  let otherKey: FeedHarness;
  let viewer: Viewer;

  /** Pages forward `pages` times with first: size; returns the pages. */
  async function pageForward(
    who: Viewer | undefined,
    size: number,
    pages: number,
  ): Promise<SuggestionsPage[]> {
    const out: SuggestionsPage[] = [];
    let after: string | null = null;
    for (let i = 0; i < pages; i += 1) {
      const page = await suggestionsPage(gw, who, { first: size, after });
      out.push(page);
      after = page.pageInfo.endCursor;
    }
    return out;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [20, 20, 20]);
    // No served window: within a session, only the session itself keeps listings from repeating.
    gw = createFeedHarness(db, { FEED_SERVED_WINDOW_MINUTES: '0' });
    otherKey = createFeedHarness(db, {
      FEED_SERVED_WINDOW_MINUTES: '0',
      FEED_CURSOR_SECRET: 'another-cursor-secret-another-cursor-secret',
    });
    viewer = await createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.9 }]);
  });

  afterAll(async () => {
    await gw?.close();
    await otherKey?.close();
    await db?.drop();
  });

  it('pages 5 × first: 8 without repeating a listing, at positions 0..39', async () => {
    const pages = await pageForward(viewer, 8, 5);
    const ids = pages.flatMap(listingIdsOf);
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    expect(pages.flatMap((p) => p.edges.map((e) => e.node.position))).toEqual([...Array(40).keys()]);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, true, true, true]);
    expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([false, true, true, true, true]);
    // One feed session throughout: every cursor carries the same session id.
    const sessions = new Set(pages.map((p) => payloadOf(p.pageInfo.endCursor!).s));
    expect(sessions.size).toBe(1);
    expect(payloadOf(pages[4]!.pageInfo.endCursor!).p).toBe(40);
  });

  it('pages an anonymous feed without repeating a listing', async () => {
    const pages = await pageForward(undefined, 8, 3);
    const ids = pages.flatMap(listingIdsOf);
    expect(ids).toHaveLength(24);
    expect(new Set(ids).size, `pages: ${JSON.stringify(pages.map(listingIdsOf))}`).toBe(24);
  });

  it('resumes after an edge cursor at the next position', async () => {
    const first = await suggestionsPage(gw, viewer, { first: 8 });
    const resumed = await suggestionsPage(gw, viewer, { first: 4, after: first.edges[3]!.cursor });
    expect(resumed.edges.map((e) => e.node.position)).toEqual([4, 5, 6, 7]);
    expect(listingIdsOf(resumed).filter((id) => listingIdsOf(first).slice(0, 4).includes(id))).toEqual([]);
  });

  it('accepts a cursor issued by another gateway sharing the key (replicas)', async () => {
    const first = await suggestionsPage(gw, viewer, { first: 3 });
    const replica = createFeedHarness(db, { FEED_SERVED_WINDOW_MINUTES: '0' });
    try {
      const next = await suggestionsPage(replica, viewer, { first: 3, after: first.pageInfo.endCursor });
      expect(next.edges.map((e) => e.node.position)).toEqual([3, 4, 5]);
    } finally {
      await replica.close();
    }
  });

  describe('refuses cursors it did not issue', () => {
    let valid: string;

    beforeAll(async () => {
      valid = (await suggestionsPage(gw, viewer, { first: 2 })).pageInfo.endCursor!;
    });

    const cases: [string, () => string | Promise<string>][] = [
      ['a flipped signature character', () => flipAt(valid, valid.length - 3)],
      ['a flipped payload character', () => flipAt(valid, 5)],
      [
        'a changed position with the old signature',
        () => {
          const [, signature] = valid.split('.');
          const body = Buffer.from(JSON.stringify({ ...payloadOf(valid), p: 0 })).toString('base64url');
          return `${body}.${signature}`;
        },
      ],
      ['an unsigned payload', () => valid.split('.')[0]!],
      ['garbage', () => 'not-a-cursor'],
      ['an extra segment', () => `${valid}.x`],
      [
        'a cursor signed with another key',
        async () => (await suggestionsPage(otherKey, viewer, { first: 1 })).pageInfo.endCursor!,
      ],
      [
        'a correctly signed cursor with a negative position',
        () => signedCursor({ ...payloadOf(valid), p: -1 }),
      ],
      ['a correctly signed cursor with an extra field', () => signedCursor({ ...payloadOf(valid), x: 1 })],
      [
        'a correctly signed cursor with a non-uuid session',
        () => signedCursor({ ...payloadOf(valid), s: 'x' }),
      ],
    ];

    it.each(cases)('refuses %s with BAD_USER_INPUT', async (_label, make) => {
      const after = await make();
      expect(after).not.toBe(valid);
      const result = await gw.execute(SUGGESTIONS, { viewer, variables: { first: 2, after } });
      expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toContain('after');
    });

    it('accepts the untampered cursor and a correctly signed one (the checks above can pass)', async () => {
      const page = await suggestionsPage(gw, viewer, { first: 2, after: valid });
      expect(page.edges.map((e) => e.node.position)).toEqual([2, 3]);
      const crafted = await suggestionsPage(gw, viewer, { first: 1, after: signedCursor(payloadOf(valid)) });
      expect(crafted.edges.map((e) => e.node.position)).toEqual([2]);
    });
  });

  it.each([
    [{ first: 0 }, 'first'],
    [{ first: 101 }, 'first'],
    [{ first: -1 }, 'first'],
    [{ last: 5 }, 'last'],
    [{ first: 5, last: 5 }, 'last'],
  ])('rejects %j with BAD_USER_INPUT on the field %s', async (variables, arg) => {
    const result = await gw.execute(SUGGESTIONS, { viewer, variables });
    expect(expectErrorCode(result, 'BAD_USER_INPUT').extensions.field).toBe(arg);
  });

  it('accepts first: 100 (the maximum)', async () => {
    const page = await suggestionsPage(gw, undefined, { first: 100 });
    expect(page.edges.length).toBeGreaterThan(0);
  });
});
