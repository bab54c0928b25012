import { listingTarget } from './listingTarget.js';
import { runWrite, type WriteContext, type WriteTx } from './runWrite.js';

/** What like and unlike return (and replay): the new state and count, so clients need not refetch. */
export interface LikeResult {
  listingId: number;
  liked: boolean;
  /** False when the like already existed (or, for unlike, never did): nothing changed. */
  changed: boolean;
  likeCount: number;
}

/** like: idempotent by primary key; concurrent duplicates wait for each other and add one like. */
const insertLikeSql = `INSERT INTO likes (user_id, listing_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`;
const deleteLikeSql = `DELETE FROM likes WHERE user_id = $1 AND listing_id = $2`;
const likeCountSql = `SELECT like_count FROM marketplace_listings WHERE id = $1`;

async function likeCountOf(tx: WriteTx, listingId: number): Promise<number> {
  const { rows } = await tx.client.query<{ like_count: number }>(likeCountSql, [listingId]);
  return rows[0]?.like_count ?? 0;
}

/** A like changes the liker's and the seller's features and the listing's; a replay changed nothing. */
async function invalidateAfter(
  ctx: WriteContext,
  outcome: { result: LikeResult; replayed: boolean },
  sellerId: string | null,
): Promise<void> {
  if (!outcome.result.changed || outcome.replayed) return;
  await ctx.features.invalidate({
    users: [ctx.viewer.userId, ...(sellerId ? [sellerId] : [])],
    listings: [outcome.result.listingId],
  });
}

/** Likes an active listing; liking it again is a success with `changed: false` and no second count. */
export async function likeListing(ctx: WriteContext, listingId: number, idempotencyKey?: string | null) {
  let sellerId: string | null = null;
  const outcome = await runWrite(
    ctx,
    { operation: 'likeListing', idempotencyKey, input: { listingId } },
    async (tx): Promise<LikeResult> => {
      sellerId = (await listingTarget(tx, listingId, 'liked')).sellerId;
      const inserted = await tx.client.query(insertLikeSql, [ctx.viewer.userId, listingId]);
      const changed = inserted.rowCount === 1;
      if (changed) await tx.enqueue('like.created', { userId: ctx.viewer.userId, listingId, sellerId });
      return { listingId, liked: true, changed, likeCount: await likeCountOf(tx, listingId) };
    },
  );
  await invalidateAfter(ctx, outcome, sellerId);
  return outcome.result;
}

/** Removes the viewer's like; unliking a listing never liked is a success with `changed: false`. */
export async function unlikeListing(ctx: WriteContext, listingId: number, idempotencyKey?: string | null) {
  let sellerId: string | null = null;
  const outcome = await runWrite(
    ctx,
    { operation: 'unlikeListing', idempotencyKey, input: { listingId } },
    async (tx): Promise<LikeResult> => {
      sellerId = (await listingTarget(tx, listingId)).sellerId;
      const deleted = await tx.client.query(deleteLikeSql, [ctx.viewer.userId, listingId]);
      const changed = deleted.rowCount === 1;
      if (changed) await tx.enqueue('like.deleted', { userId: ctx.viewer.userId, listingId, sellerId });
      return { listingId, liked: false, changed, likeCount: await likeCountOf(tx, listingId) };
    },
  );
  await invalidateAfter(ctx, outcome, sellerId);
  return outcome.result;
}
