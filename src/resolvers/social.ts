import type { UserViewer } from '../auth/viewer.js';
import type { Context } from '../context.js';
import * as comments from '../social/comments.js';
import * as follows from '../social/follows.js';
import * as interests from '../social/interests.js';
import * as likes from '../social/likes.js';
import * as signals from '../social/signals.js';
import { MUTATION_BUDGETS } from '../social/budgets.js';
import { parseListingId } from './catalog.js';

type UserContext = Context & { viewer: UserViewer };

/** The mutation argument wins over the Idempotency-Key header. */
const keyOf = (ctx: Context, argument: string | null | undefined) => argument ?? ctx.idempotencyKey;

/** likeListing: rate limited per user, idempotent, counted exactly once. */
export async function likeListing(ctx: UserContext, listingId: string, idempotencyKey?: string | null) {
  const id = parseListingId(listingId, 'listingId');
  await ctx.rateLimits.consume(MUTATION_BUDGETS.likeListing, ctx.viewer.userId);
  return likes.likeListing(ctx, id, keyOf(ctx, idempotencyKey));
}

export async function unlikeListing(ctx: UserContext, listingId: string, idempotencyKey?: string | null) {
  const id = parseListingId(listingId, 'listingId');
  await ctx.rateLimits.consume(MUTATION_BUDGETS.unlikeListing, ctx.viewer.userId);
  return likes.unlikeListing(ctx, id, keyOf(ctx, idempotencyKey));
}

export async function addComment(
  ctx: UserContext,
  listingId: string,
  body: string,
  idempotencyKey?: string | null,
) {
  const id = parseListingId(listingId, 'listingId');
  comments.normaliseCommentBody(body);
  await ctx.rateLimits.consume(MUTATION_BUDGETS.addComment, ctx.viewer.userId);
  return comments.addComment(ctx, id, body, keyOf(ctx, idempotencyKey));
}

export async function deleteComment(ctx: UserContext, commentId: string, idempotencyKey?: string | null) {
  comments.parseCommentId(commentId);
  await ctx.rateLimits.consume(MUTATION_BUDGETS.deleteComment, ctx.viewer.userId);
  return comments.deleteComment(ctx, commentId, keyOf(ctx, idempotencyKey));
}

export async function follow(ctx: UserContext, userId: string, idempotencyKey?: string | null) {
  follows.followTargetOf(ctx.viewer.userId, userId, 'follow');
  await ctx.rateLimits.consume(MUTATION_BUDGETS.follow, ctx.viewer.userId);
  return follows.follow(ctx, userId, keyOf(ctx, idempotencyKey));
}

export async function unfollow(ctx: UserContext, userId: string, idempotencyKey?: string | null) {
  follows.followTargetOf(ctx.viewer.userId, userId, 'unfollow');
  await ctx.rateLimits.consume(MUTATION_BUDGETS.unfollow, ctx.viewer.userId);
  return follows.unfollow(ctx, userId, keyOf(ctx, idempotencyKey));
}

type InterestArg = { interestId: string | number; affinity?: number | null };

export async function setInterests(ctx: UserContext, list: InterestArg[], idempotencyKey?: string | null) {
  await ctx.rateLimits.consume(MUTATION_BUDGETS.setInterests, ctx.viewer.userId);
  return interests.changeInterests(
    ctx,
    { mode: 'set', interests: list },
    ctx.config.maxInterests,
    keyOf(ctx, idempotencyKey),
  );
}

export async function addInterest(ctx: UserContext, item: InterestArg, idempotencyKey?: string | null) {
  await ctx.rateLimits.consume(MUTATION_BUDGETS.addInterest, ctx.viewer.userId);
  return interests.changeInterests(
    ctx,
    { mode: 'add', interests: [item] },
    ctx.config.maxInterests,
    keyOf(ctx, idempotencyKey),
  );
}

export async function removeInterest(ctx: UserContext, interestId: string, idempotencyKey?: string | null) {
  await ctx.rateLimits.consume(MUTATION_BUDGETS.removeInterest, ctx.viewer.userId);
  return interests.changeInterests(
    ctx,
    { mode: 'remove', interestIds: [interestId] },
    ctx.config.maxInterests,
    keyOf(ctx, idempotencyKey),
  );
}

export async function recordSignal(
  ctx: UserContext,
  args: {
    kind: signals.SignalKind;
    listingId?: string | null;
    query?: string | null;
    weight?: number | null;
  },
  idempotencyKey?: string | null,
) {
  const listingId = args.listingId == null ? null : parseListingId(args.listingId, 'listingId');
  await ctx.rateLimits.consume(MUTATION_BUDGETS.recordSignal, ctx.viewer.userId);
  return signals.recordSignal(
    ctx,
    { kind: args.kind, listingId, query: args.query ?? null, weight: args.weight ?? null },
    keyOf(ctx, idempotencyKey),
  );
}

/** viewer.rateLimits: what is left of each write budget. */
export async function rateLimitStatus(ctx: Context, userId: string) {
  return ctx.rateLimits.status(userId);
}
