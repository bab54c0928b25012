import { createBadUserInputError, createNotFoundError } from '../errors/errors.js';
import { runWrite, type WriteContext, type WriteTx } from './runWrite.js';
import { parseUuid } from '../validation/ids.js';

export interface FollowResult {
  userId: string;
  following: boolean;
  changed: boolean;
  /** The followed user's followers after the change. */
  followerCount: number;
  /** How many the viewer follows after the change. */
  followingCount: number;
}

const targetSql = `SELECT 1 FROM public_profiles WHERE user_id = $1`;
const insertFollowSql = `INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`;
const deleteFollowSql = `DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2`;
const countsSql = `
SELECT (SELECT follower_count FROM public_profiles WHERE user_id = $2) AS follower_count,
       (SELECT following_count FROM public_profiles WHERE user_id = $1) AS following_count`;

/** The user to (un)follow: a well-formed id that is not the viewer's own. */
export function followTargetOf(viewerId: string, userId: string, operation: 'follow' | 'unfollow'): string {
  const id = parseUuid(userId, 'userId', 'user');
  if (id === viewerId) throw createBadUserInputError(`you cannot ${operation} yourself`, 'userId');
  return id;
}

async function countsOf(tx: WriteTx, follower: string, followee: string) {
  const { rows } = await tx.client.query<{ follower_count: number; following_count: number }>(countsSql, [
    follower,
    followee,
  ]);
  return { followerCount: rows[0]?.follower_count ?? 0, followingCount: rows[0]?.following_count ?? 0 };
}

async function change(
  ctx: WriteContext,
  operation: 'follow' | 'unfollow',
  rawUserId: string,
  idempotencyKey: string | null | undefined,
): Promise<FollowResult> {
  const target = followTargetOf(ctx.viewer.userId, rawUserId, operation);
  const outcome = await runWrite(
    ctx,
    { operation, idempotencyKey, input: { userId: target } },
    async (tx): Promise<FollowResult> => {
      const exists = await tx.client.query(targetSql, [target]);
      if (exists.rowCount === 0) throw createNotFoundError('user', target);
      const result = await tx.client.query(operation === 'follow' ? insertFollowSql : deleteFollowSql, [
        ctx.viewer.userId,
        target,
      ]);
      const changed = result.rowCount === 1;
      if (changed) {
        await tx.enqueue(operation === 'follow' ? 'follow.created' : 'follow.deleted', {
          followerId: ctx.viewer.userId,
          followeeId: target,
        });
      }
      return {
        userId: target,
        following: operation === 'follow',
        changed,
        ...(await countsOf(tx, ctx.viewer.userId, target)),
      };
    },
  );
  if (outcome.result.changed && !outcome.replayed) {
    await ctx.features.invalidate({ users: [ctx.viewer.userId, target] });
  }
  return outcome.result;
}

/** Follows another existing user (not yourself); following again is a success with `changed: false`. */
export const follow = (ctx: WriteContext, userId: string, idempotencyKey?: string | null) =>
  change(ctx, 'follow', userId, idempotencyKey);

/** Stops following; a no-op when not following. */
export const unfollow = (ctx: WriteContext, userId: string, idempotencyKey?: string | null) =>
  change(ctx, 'unfollow', userId, idempotencyKey);
