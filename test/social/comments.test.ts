import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { UserViewer } from '../../src/auth/viewer.js';
import { runWrite } from '../../src/social/runWrite.js';
import { insertCategory, insertListing, insertProfile } from '../support/fixtures.js';
import type { InProcess } from '../support/gateway.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { serviceContext } from '../support/socialWorld.js';
import {
  ascending,
  oneTo,
  outboxWhere,
  socialEnv,
  socialFile,
  type SocialFile,
} from '../support/socialWrites.js';
import { it, test } from '../support/testFixtures.js';
import { graphql } from '../support/graphql.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';

const ADD_COMMENT = graphql(`
  mutation AddComment($listingId: ID!, $body: String!) {
    addComment(listingId: $listingId, body: $body) {
      comment {
        id
        body
        createdAt
        deleted
        author {
          handle
        }
        listing {
          id
          commentCount
        }
      }
      commentCount
      changed
    }
  }
`);

const DELETE_COMMENT = graphql(`
  mutation DeleteComment($commentId: ID!) {
    deleteComment(commentId: $commentId) {
      comment {
        id
        body
        deleted
        author {
          handle
        }
        listing {
          id
          commentCount
        }
      }
      commentCount
      changed
    }
  }
`);

const UNKNOWN_LISTING = 2_000_000_000;
const CONTROL_MESSAGE = 'body must not contain control characters (newlines and tabs are fine)';
const lengthMessage = (length: number) => `body must be 1 to 2000 characters after trimming, got ${length}`;

test.override('env', socialEnv());

describe('addComment and deleteComment', () => {
  let file: SocialFile;
  let categoryId: number;
  let sellerId: string;
  /** A fresh active listing per test, so counts and outbox items start at zero. */
  let listingId: number;

  const add = (
    viewer: UserViewer | undefined,
    body: string,
    id: number | string = listingId,
    h?: InProcess,
  ) =>
    (h ?? file.h).execute(ADD_COMMENT, {
      viewer,
      variables: { listingId: String(id), body },
    });
  const remove = (viewer: UserViewer | undefined, commentId: string, h?: InProcess) =>
    (h ?? file.h).execute(DELETE_COMMENT, {
      viewer,
      variables: { commentId },
    });
  const oneUser = async () => (await file.users(1))[0]!;
  const handleOf = async (userId: string) =>
    (await file.db.pool.query<{ handle: string }>('SELECT handle FROM profiles WHERE user_id = $1', [userId]))
      .rows[0]!.handle;
  /** The listing's denormalised comment_count, and the comments it should count (not deleted). */
  const counts = async (id = listingId) => {
    const { rows } = await file.db.pool.query<{ comment_count: number; visible: number; all: number }>(
      `SELECT comment_count,
              (SELECT count(*)::int FROM comments WHERE listing_id = $1 AND deleted_at IS NULL) AS visible,
              (SELECT count(*)::int FROM comments WHERE listing_id = $1) AS all
         FROM marketplace_listings WHERE id = $1`,
      [id],
    );
    return rows[0]!;
  };
  const storedComment = async (commentId: string) => {
    const { rows } = await file.db.pool.query<{
      user_id: string;
      listing_id: number;
      body: string;
      deleted: boolean;
    }>('SELECT user_id, listing_id, body, deleted_at IS NOT NULL AS deleted FROM comments WHERE id = $1', [
      commentId,
    ]);
    return rows[0];
  };
  const outbox = (id = listingId) =>
    outboxWhere(file.db.pool, ['comment.created', 'comment.deleted'], { listingId: id });
  const commentOf = async (viewer: UserViewer, body = 'a comment') =>
    dataOf(await add(viewer, body)).addComment.comment.id;

  test.beforeAll(async ({ db, redis, inProcess, inProcessWith }) => {
    file = socialFile({ db, redis, inProcess, inProcessWith });
    categoryId = await insertCategory(file.db.pool);
    sellerId = await insertProfile(file.db.pool);
  });

  beforeEach(async () => {
    await file.flushRedis();
    listingId = await insertListing(file.db.pool, { categoryId, sellerId });
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
  });

  describe('adding', () => {
    it('stores the trimmed body and returns it with its author, the listing and the new count', async () => {
      const viewer = await oneUser();
      const payload = dataOf(await add(viewer, '  Is this still available?  ')).addComment;
      expect(payload).toEqual({
        comment: {
          id: expect.stringMatching(/^\d+$/) as unknown,
          body: 'Is this still available?',
          createdAt: expect.any(String) as unknown,
          deleted: false,
          author: { handle: await handleOf(viewer.userId) },
          listing: { id: String(listingId), commentCount: 1 },
        },
        commentCount: 1,
        changed: true,
      });
      expect(Math.abs(Date.parse(payload.comment.createdAt) - Date.now())).toBeLessThan(60_000);
      expect(await storedComment(payload.comment.id)).toEqual({
        user_id: viewer.userId,
        listing_id: listingId,
        body: 'Is this still available?',
        deleted: false,
      });
      const second = dataOf(await add(await oneUser(), 'Me too')).addComment;
      expect(second).toMatchObject({ commentCount: 2, comment: { listing: { commentCount: 2 } } });
      expect(await counts()).toEqual({ comment_count: 2, visible: 2, all: 2 });
    });

    it('stores CRLF line endings as LF and keeps newlines and tabs inside the body', async () => {
      const viewer = await oneUser();
      const payload = dataOf(
        await add(viewer, '\r\n  First line\r\nsecond\tcolumn\n\nthird\r\n '),
      ).addComment;
      expect(payload.comment.body).toBe('First line\nsecond\tcolumn\n\nthird');
      expect((await storedComment(payload.comment.id))?.body).toBe('First line\nsecond\tcolumn\n\nthird');
    });

    it('accepts exactly 2,000 characters, also with whitespace around them that is trimmed', async () => {
      const viewer = await oneUser();
      const exact = dataOf(await add(viewer, 'x'.repeat(2000))).addComment;
      expect(exact.comment.body).toHaveLength(2000);
      const padded = dataOf(await add(viewer, `  \n${'y'.repeat(2000)}\t `)).addComment;
      expect(padded.comment.body).toBe('y'.repeat(2000));
      expect(await counts()).toMatchObject({ comment_count: 2, visible: 2 });
    });

    it('counts characters, not UTF-16 units: 2,000 emoji fit, 2,001 do not', async () => {
      const viewer = await oneUser();
      const emoji = '😀';
      const fits = dataOf(await add(viewer, emoji.repeat(2000))).addComment;
      expect([...fits.comment.body]).toHaveLength(2000);
      const { message } = expectErrorCode(await add(viewer, emoji.repeat(2001)), 'BAD_USER_INPUT');
      expect(message).toBe(lengthMessage(2001));
    });

    it.each([
      ['empty', '', 0],
      ['only whitespace and line breaks', ' \r\n\t \n ', 0],
      ['2,001 characters', 'z'.repeat(2001), 2001],
    ])(
      'refuses a body that is %s, saying how long it was, and writes nothing',
      async (_name, body, length) => {
        const viewer = await oneUser();
        const { message, extensions } = expectErrorCode(await add(viewer, body), 'BAD_USER_INPUT');
        expect(message).toBe(lengthMessage(length));
        expect(extensions.field).toBe('body');
        expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 0 });
        expect(await outbox()).toEqual([]);
      },
    );

    it('refuses a body with nothing visible (zero-width characters, a BOM), keeps emoji joined by them', async () => {
      const viewer = await oneUser();
      for (const body of ['\u200b\u200b\ufeff', ' \u200d\n\u2060 ', '\u00ad']) {
        const { message, extensions } = expectErrorCode(await add(viewer, body), 'BAD_USER_INPUT');
        expect(message, JSON.stringify(body)).toBe('body must contain a visible character');
        expect(extensions.field).toBe('body');
      }
      expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 0 });
      // A family emoji is people joined by zero-width joiners: visible, stored as sent.
      const family = '\u{1f469}\u200d\u{1f469}\u200d\u{1f467}';
      expect(dataOf(await add(viewer, family)).addComment.comment.body).toBe(family);
    });

    it.each([
      ['NUL', 'before\u0000after'],
      ['a bell', 'ding\u0007'],
      ['an escape sequence', 'red \u001b[31mtext'],
      ['a lone carriage return', 'over\rwrite'],
      ['a vertical tab', 'a\u000bb'],
      ['a form feed', 'a\u000cb'],
      ['DEL', 'a\u007fb'],
    ])('refuses a body containing %s and writes nothing', async (_name, body) => {
      const viewer = await oneUser();
      const { message, extensions } = expectErrorCode(await add(viewer, body), 'BAD_USER_INPUT');
      expect(message).toBe(CONTROL_MESSAGE);
      expect(extensions.field).toBe('body');
      expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 0 });
      expect(await outbox()).toEqual([]);
    });

    it.each([
      ['NEL (U+0085)', 'a\u0085b'],
      ['CSI (U+009B), a terminal escape', 'a\u009b31mb'],
    ])('refuses a C1 control character, %s, like the C0 ones', async (_name, body) => {
      const viewer = await oneUser();
      const { message } = expectErrorCode(await add(viewer, body), 'BAD_USER_INPUT');
      expect(message).toBe(CONTROL_MESSAGE);
      expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 0 });
    });

    it('an unknown listing is NOT_FOUND naming it', async () => {
      const viewer = await oneUser();
      const { message } = expectErrorCode(await add(viewer, 'hello', UNKNOWN_LISTING), 'NOT_FOUND');
      expect(message).toBe(`listing ${UNKNOWN_LISTING} was not found`);
      expect(await outbox(UNKNOWN_LISTING)).toEqual([]);
    });

    it('a malformed listing id is BAD_USER_INPUT on listingId', async () => {
      const viewer = await oneUser();
      const { message, extensions } = expectErrorCode(await add(viewer, 'hello', 'abc'), 'BAD_USER_INPUT');
      expect(message).toBe('listingId must be a listing id (a positive whole number), got "abc"');
      expect(extensions.field).toBe('listingId');
    });

    it('a removed listing is NOT_FOUND to anyone but its seller and admins (its state is not theirs to know)', async () => {
      const viewer = await oneUser();
      await file.db.pool.query(`UPDATE marketplace_listings SET status = 'removed' WHERE id = $1`, [
        listingId,
      ]);
      const { message } = expectErrorCode(await add(viewer, 'hello'), 'NOT_FOUND');
      expect(message).toBe(`listing ${listingId} was not found`);
      expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 0 });
      expect(await outbox()).toEqual([]);
    });

    it.each(['sold', 'inactive'])(
      'a listing that is %s cannot be commented on: BAD_USER_INPUT naming its status, nothing written',
      async (status) => {
        const viewer = await oneUser();
        await file.db.pool.query('UPDATE marketplace_listings SET status = $2 WHERE id = $1', [
          listingId,
          status,
        ]);
        const { message, extensions } = expectErrorCode(await add(viewer, 'hello'), 'BAD_USER_INPUT');
        expect(message).toBe(`listing ${listingId} is ${status}, not active: it cannot be commented on`);
        expect(extensions.field).toBe('listingId');
        expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 0 });
        expect(await outbox()).toEqual([]);
      },
    );

    it('an anonymous caller is UNAUTHENTICATED and nothing is written', async () => {
      expectErrorCode(await add(undefined, 'hello'), 'UNAUTHENTICATED');
      expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 0 });
    });

    it('20 concurrent comments on one listing add exactly 20, each payload seeing its own total', async () => {
      const viewers = await file.users(20);
      const results = await Promise.all(viewers.map((v, i) => add(v, `comment ${i}`)));
      const payloads = results.map((r) => dataOf(r).addComment);
      // Each reads the count after its own insert, under the listing's row lock: all totals differ.
      expect(ascending(payloads.map((p) => p.commentCount))).toEqual(oneTo(20));
      expect(new Set(payloads.map((p) => p.comment.id)).size).toBe(20);
      expect(await counts()).toEqual({ comment_count: 20, visible: 20, all: 20 });
      expect(await outbox()).toHaveLength(20);
    });
  });

  describe('deleting', () => {
    it('the author deletes their comment: hidden, kept in the database, no longer counted', async () => {
      const [author, other] = await file.users(2);
      const kept = await commentOf(other!, 'stays');
      const commentId = await commentOf(author!, 'goes away');
      expect(await counts()).toMatchObject({ comment_count: 2 });
      const payload = dataOf(await remove(author, commentId)).deleteComment;
      expect(payload).toEqual({
        comment: {
          id: commentId,
          body: 'goes away',
          deleted: true,
          author: { handle: await handleOf(author!.userId) },
          listing: { id: String(listingId), commentCount: 1 },
        },
        commentCount: 1,
        changed: true,
      });
      expect(await storedComment(commentId)).toMatchObject({ body: 'goes away', deleted: true });
      expect(await counts()).toEqual({ comment_count: 1, visible: 1, all: 2 });
      const { rows } = await file.db.pool.query<{ id: string }>(
        'SELECT id::text FROM public_comments WHERE listing_id = $1',
        [listingId],
      );
      expect(rows.map((r) => r.id)).toEqual([kept]);
    });

    it('deleting twice is a no-op the second time: changed false, the count unchanged', async () => {
      const author = await oneUser();
      await commentOf(author);
      const commentId = await commentOf(author);
      expect(dataOf(await remove(author, commentId)).deleteComment).toMatchObject({
        changed: true,
        commentCount: 1,
      });
      const again = dataOf(await remove(author, commentId)).deleteComment;
      expect(again).toMatchObject({
        changed: false,
        commentCount: 1,
        comment: { id: commentId, deleted: true },
      });
      expect(await counts()).toEqual({ comment_count: 1, visible: 1, all: 2 });
      expect((await outbox()).filter((e) => e.kind === 'comment.deleted')).toHaveLength(1);
    });

    it("an admin deletes anyone's comment", async () => {
      const author = await oneUser();
      const admin: UserViewer = {
        role: 'admin',
        userId: await insertProfile(file.db.pool, { role: 'admin' }),
      };
      const commentId = await commentOf(author, 'spam');
      const payload = dataOf(await remove(admin, commentId)).deleteComment;
      expect(payload).toMatchObject({
        changed: true,
        commentCount: 0,
        comment: { id: commentId, deleted: true, author: { handle: await handleOf(author.userId) } },
      });
      expect(await storedComment(commentId)).toMatchObject({ user_id: author.userId, deleted: true });
      expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 1 });
      expect(dataOf(await remove(admin, commentId)).deleteComment.changed).toBe(false);
    });

    it("another user may not delete someone's comment: FORBIDDEN, and it stays", async () => {
      const [author, other] = await file.users(2);
      const commentId = await commentOf(author!, 'mine');
      const { message } = expectErrorCode(await remove(other, commentId), 'FORBIDDEN');
      expect(message).toBe('only the author or an admin may delete a comment');
      expect(await storedComment(commentId)).toMatchObject({ body: 'mine', deleted: false });
      expect(await counts()).toEqual({ comment_count: 1, visible: 1, all: 1 });
    });

    it('an unknown comment is NOT_FOUND, and a malformed id BAD_USER_INPUT', async () => {
      const viewer = await oneUser();
      const { message } = expectErrorCode(await remove(viewer, '999999999999'), 'NOT_FOUND');
      expect(message).toBe('comment 999999999999 was not found');
      const malformed = expectErrorCode(await remove(viewer, 'abc'), 'BAD_USER_INPUT');
      expect(malformed.message).toBe('commentId must be a comment id (a positive whole number), got "abc"');
      expect(malformed.extensions.field).toBe('commentId');
    });

    it("someone else's deleted comment is NOT_FOUND to another user: its existence is not revealed", async () => {
      const [author, other] = await file.users(2);
      const commentId = await commentOf(author!);
      dataOf(await remove(author, commentId));
      expectErrorCode(await remove(other, commentId), 'NOT_FOUND');
    });

    it('deleted comments are not counted, however they were deleted', async () => {
      const [a, b, c] = await file.users(3);
      const admin: UserViewer = {
        role: 'admin',
        userId: await insertProfile(file.db.pool, { role: 'admin' }),
      };
      const ids = [await commentOf(a!), await commentOf(b!), await commentOf(c!), await commentOf(a!)];
      dataOf(await remove(a, ids[0]!));
      dataOf(await remove(admin, ids[1]!));
      expectErrorCode(await remove(a, ids[2]!), 'FORBIDDEN');
      dataOf(await remove(a, ids[0]!));
      expect(await counts()).toEqual({ comment_count: 2, visible: 2, all: 4 });
      const added = dataOf(await add(b, 'after the deletions')).addComment;
      expect(added.commentCount).toBe(3);
    });
  });

  describe('outbox', () => {
    it('writes one comment.created per comment and one comment.deleted per real deletion, nothing else', async () => {
      const [author, other] = await file.users(2);
      const commentId = await commentOf(author!);
      expectErrorCode(await add(author, '   '), 'BAD_USER_INPUT');
      expectErrorCode(await add(author, 'bad\u0000'), 'BAD_USER_INPUT');
      expectErrorCode(await remove(other, commentId), 'FORBIDDEN');
      dataOf(await remove(author, commentId));
      dataOf(await remove(author, commentId));
      await file.db.pool.query(`UPDATE marketplace_listings SET status = 'sold' WHERE id = $1`, [listingId]);
      expectErrorCode(await add(author, 'too late'), 'BAD_USER_INPUT');
      expect(await outbox()).toEqual([
        { kind: 'comment.created', payload: { commentId, listingId, userId: author!.userId, sellerId } },
        { kind: 'comment.deleted', payload: { commentId, listingId, userId: author!.userId } },
      ]);
    });
  });

  describe('row-level security on the write path', () => {
    it("a write under user A's identity cannot insert a comment as user B: 42501, nothing commits", async () => {
      const [a, b] = await file.users(2);
      const attempt = runWrite(
        serviceContext(file.h, a!),
        { operation: 'addComment', idempotencyKey: null, input: {} },
        async (tx) => {
          await tx.enqueue('comment.created', { commentId: '0', listingId, userId: b!.userId, sellerId });
          await tx.client.query('INSERT INTO comments (listing_id, user_id, body) VALUES ($1, $2, $3)', [
            listingId,
            b!.userId,
            'not mine to write',
          ]);
          return {};
        },
      );
      await expect(attempt).rejects.toMatchObject({
        code: '42501',
        message: 'new row violates row-level security policy for table "comments"',
      });
      expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 0 });
      expect(await outbox()).toEqual([]);
    });

    it("a write under user A's identity cannot see or soft-delete user B's comment", async () => {
      const [a, b] = await file.users(2);
      const commentId = await commentOf(b!);
      const { result } = await runWrite(
        serviceContext(file.h, a!),
        { operation: 'deleteComment', idempotencyKey: null, input: {} },
        async (tx) => {
          const seen = await tx.client.query('SELECT 1 FROM comments WHERE id = $1', [commentId]);
          const updated = await tx.client.query('UPDATE comments SET deleted_at = now() WHERE id = $1', [
            commentId,
          ]);
          return { seen: seen.rowCount, updated: updated.rowCount };
        },
      );
      expect(result).toEqual({ seen: 0, updated: 0 });
      expect(await storedComment(commentId)).toMatchObject({ deleted: false });
      expect(await counts()).toEqual({ comment_count: 1, visible: 1, all: 1 });
    });
  });

  describe('rate limit', () => {
    it('the comment after the budget is RATE_LIMITED and writes nothing; refused bodies cost nothing', async () => {
      const limited = file.harness({ RATE_LIMIT_COMMENTS_PER_MIN: '2' });
      await awayFromWindowEdge();
      const viewer = await oneUser();
      expectErrorCode(await add(viewer, '', listingId, limited), 'BAD_USER_INPUT');
      expectErrorCode(await add(viewer, 'nul\u0000', listingId, limited), 'BAD_USER_INPUT');
      const commentId = dataOf(await add(viewer, 'one', listingId, limited)).addComment.comment.id;
      dataOf(await remove(viewer, commentId, limited));
      const { message, extensions } = expectErrorCode(
        await add(viewer, 'three', listingId, limited),
        'RATE_LIMITED',
      );
      expect(message).toMatch(/^too many comments or problem reports; retry in \d+ s$/);
      expect(extensions).toMatchObject({ action: 'comment', retryAfterMs: expect.any(Number) as unknown });
      expect(await counts()).toEqual({ comment_count: 0, visible: 0, all: 1 });
      // The budget is the user's: someone else still comments.
      dataOf(await add(await oneUser(), 'someone else', listingId, limited));
    });
  });
});
