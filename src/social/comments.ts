import { createBadUserInputError, createForbiddenError, createNotFoundError } from '../errors/errors.js';
import { listingTarget } from './listingTarget.js';
import { runWrite, type WriteContext } from './runWrite.js';
import { hasControlCharacters } from '../validation/hasControlCharacters.js';
import { parseBigintId } from '../validation/ids.js';
import type { CommentView } from './listingComments.js';

export const MAX_COMMENT_LENGTH = 2000;

export interface CommentResult extends CommentView {
  /** The listing's visible comments after the change. */
  commentCount: number;
  changed: boolean;
}

/** Characters that show nothing: whitespace and format characters (zero-width space and joiners, BOM…). */
const INVISIBLE = /[\p{White_Space}\p{Cf}]/gu;

/**
 * A comment body as stored: CRLF becomes LF, surrounding whitespace is trimmed; 1 to 2,000 characters,
 * no control characters other than newline and tab, and something visible (a body of zero-width
 * characters only would be an empty comment that counts).
 */
export function normaliseCommentBody(body: string): string {
  const text = body.replace(/\r\n/g, '\n').trim();
  if (hasControlCharacters(text)) {
    throw createBadUserInputError(
      'body must not contain control characters (newlines and tabs are fine)',
      'body',
    );
  }
  const length = [...text].length;
  if (length < 1 || length > MAX_COMMENT_LENGTH) {
    throw createBadUserInputError(
      `body must be 1 to ${MAX_COMMENT_LENGTH} characters after trimming, got ${length}`,
      'body',
    );
  }
  if (text.replace(INVISIBLE, '') === '') {
    throw createBadUserInputError('body must contain a visible character', 'body');
  }
  return text;
}

const insertCommentSql = `
INSERT INTO comments (listing_id, user_id, body) VALUES ($1, $2, $3) RETURNING id::text, created_at`;
const commentCountSql = `SELECT comment_count FROM marketplace_listings WHERE id = $1`;
/** The comment as its author (or an admin) sees it under RLS; deleted ones too, to say so. */
const commentSql = `
SELECT id::text, listing_id, user_id, body, created_at, deleted_at IS NOT NULL AS deleted FROM comments WHERE id = $1`;
const softDeleteSql = `UPDATE comments SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL`;

/** Adds a comment to an active listing. */
export async function addComment(
  ctx: WriteContext,
  listingId: number,
  rawBody: string,
  idempotencyKey?: string | null,
): Promise<CommentResult> {
  const body = normaliseCommentBody(rawBody);
  let sellerId: string | null = null;
  const outcome = await runWrite(
    ctx,
    { operation: 'addComment', idempotencyKey, input: { listingId, body } },
    async (tx): Promise<CommentResult> => {
      sellerId = (await listingTarget(tx, listingId, 'commented on')).sellerId;
      const inserted = await tx.client.query<{ id: string; created_at: Date }>(insertCommentSql, [
        listingId,
        ctx.viewer.userId,
        body,
      ]);
      const comment = inserted.rows[0];
      if (!comment) throw new Error('the comment insert returned no row');
      await tx.enqueue('comment.created', {
        commentId: comment.id,
        listingId,
        userId: ctx.viewer.userId,
        sellerId,
      });
      const count = await tx.client.query<{ comment_count: number }>(commentCountSql, [listingId]);
      return {
        commentId: comment.id,
        listingId,
        authorId: ctx.viewer.userId,
        body,
        createdAt: comment.created_at.toISOString(),
        commentCount: count.rows[0]?.comment_count ?? 0,
        deleted: false,
        changed: true,
      };
    },
  );
  if (!outcome.replayed) {
    await ctx.features.invalidate({
      users: [ctx.viewer.userId, ...(sellerId ? [sellerId] : [])],
      listings: [listingId],
    });
  }
  return outcome.result;
}

/** Soft-deletes a comment: its author or an admin (RLS lets nobody else even see it). Deleting twice is a no-op. */
/** A comment id as stored (a positive bigint). */
export const parseCommentId = (commentId: string): string => parseBigintId(commentId, 'commentId', 'comment');

export async function deleteComment(ctx: WriteContext, commentId: string, idempotencyKey?: string | null) {
  parseCommentId(commentId);
  const outcome = await runWrite(
    ctx,
    { operation: 'deleteComment', idempotencyKey, input: { commentId } },
    async (tx): Promise<CommentResult> => {
      const { rows } = await tx.client.query<{
        id: string;
        listing_id: number;
        user_id: string;
        body: string;
        created_at: Date;
        deleted: boolean;
      }>(commentSql, [commentId]);
      const comment = rows[0];
      if (!comment) {
        // Someone else's comment is invisible under RLS: tell them it is not theirs, without showing it.
        const { rows: visible } = await tx.client.query('SELECT 1 FROM public_comments WHERE id = $1', [
          commentId,
        ]);
        if (visible.length > 0)
          throw createForbiddenError('only the author or an admin may delete a comment');
        throw createNotFoundError('comment', commentId);
      }
      const updated = await tx.client.query(softDeleteSql, [commentId]);
      const changed = updated.rowCount === 1;
      if (changed) {
        await tx.enqueue('comment.deleted', {
          commentId,
          listingId: comment.listing_id,
          userId: comment.user_id,
        });
      }
      const count = await tx.client.query<{ comment_count: number }>(commentCountSql, [comment.listing_id]);
      return {
        commentId,
        listingId: comment.listing_id,
        authorId: comment.user_id,
        body: comment.body,
        createdAt: comment.created_at.toISOString(),
        commentCount: count.rows[0]?.comment_count ?? 0,
        deleted: true,
        changed,
      };
    },
  );
  if (outcome.result.changed && !outcome.replayed) {
    await ctx.features.invalidate({ users: [outcome.result.authorId], listings: [outcome.result.listingId] });
  }
  return outcome.result;
}
