import type { UserViewer } from '../auth/viewer.js';
import type { Context } from '../context.js';
import * as comments from '../social/comments.js';
import * as follows from '../social/follows.js';
import * as interests from '../social/interests.js';
import * as likes from '../social/likes.js';
import * as signals from '../social/signals.js';
import { parseListingId } from './catalog.js';
import { writeMutation } from './writeMutation.js';
import { checkPageSize } from '../validation/pageSize.js';
import {
  DEFAULT_LISTING_COMMENTS,
  MAX_LISTING_COMMENTS,
  type CommentView,
} from '../social/listingComments.js';

type UserContext = Context & { viewer: UserViewer };

const listingIdOf = ({ listingId }: { listingId: string }) => parseListingId(listingId, 'listingId');

/** likeListing: rate limited per user, idempotent, counted exactly once. */
export const likeListing = writeMutation('likeListing', {
  parse: listingIdOf,
  run: async (ctx: UserContext, id, key) => {
    const result = await likes.likeListing(ctx, id, key);
    // A liked listing leaves the viewer's feed: the candidates this process kept for them are read again.
    ctx.feed.memory.forget(ctx.viewer.userId);
    return result;
  },
});

export const unlikeListing = writeMutation('unlikeListing', {
  parse: listingIdOf,
  run: (ctx: UserContext, id, key) => likes.unlikeListing(ctx, id, key),
});

export const addComment = writeMutation('addComment', {
  parse: (args: { listingId: string; body: string }) => {
    const id = listingIdOf(args);
    comments.normaliseCommentBody(args.body);
    // The domain normalises the body again; it is passed as given.
    return { id, body: args.body };
  },
  run: (ctx: UserContext, { id, body }, key) => comments.addComment(ctx, id, body, key),
});

export const deleteComment = writeMutation('deleteComment', {
  parse: ({ commentId }: { commentId: string }) => comments.parseCommentId(commentId),
  run: (ctx: UserContext, commentId, key) => comments.deleteComment(ctx, commentId, key),
});

export const follow = writeMutation('follow', {
  parse: ({ userId }: { userId: string }, ctx: UserContext) =>
    follows.followTargetOf(ctx.viewer.userId, userId, 'follow'),
  run: (ctx, userId, key) => follows.follow(ctx, userId, key),
});

export const unfollow = writeMutation('unfollow', {
  parse: ({ userId }: { userId: string }, ctx: UserContext) =>
    follows.followTargetOf(ctx.viewer.userId, userId, 'unfollow'),
  run: (ctx, userId, key) => follows.unfollow(ctx, userId, key),
});

type InterestArg = { interestId: string; affinity?: number | null };

/** The interest changes check their ids and affinities in the domain, after the budget. */
const changeInterests = (ctx: UserContext, change: interests.InterestChange, key: string | null) =>
  interests.changeInterests(ctx, change, ctx.config.maxInterests, key);

export const setInterests = writeMutation('setInterests', {
  parse: (args: { interests: InterestArg[] }) => ({ mode: 'set' as const, interests: args.interests }),
  run: changeInterests,
});

export const addInterest = writeMutation('addInterest', {
  parse: ({ interestId, affinity }: InterestArg) => ({
    mode: 'add' as const,
    interests: [{ interestId, affinity }],
  }),
  run: changeInterests,
});

export const removeInterest = writeMutation('removeInterest', {
  parse: ({ interestId }: { interestId: string }) => ({
    mode: 'remove' as const,
    interestIds: [interestId],
  }),
  run: changeInterests,
});

export const recordSignal = writeMutation('recordSignal', {
  parse: (args: {
    kind: signals.SignalKind;
    listingId?: string | null;
    query?: string | null;
    weight?: number | null;
  }) => ({
    kind: args.kind,
    listingId: args.listingId == null ? null : parseListingId(args.listingId, 'listingId'),
    query: args.query ?? null,
    weight: args.weight ?? null,
  }),
  run: (ctx: UserContext, input, key) => signals.recordSignal(ctx, input, key),
});

/** viewer.rateLimits: what is left of each write budget. */
export async function rateLimitStatus(ctx: Context, userId: string) {
  return ctx.rateLimits.status(userId);
}

/** `Listing.comments`: batched per level through the request's loader (one statement for a page). */
export function listingComments(
  ctx: Context,
  listingId: number,
  first: number | null | undefined,
): Promise<CommentView[]> {
  const take = checkPageSize('first', first ?? DEFAULT_LISTING_COMMENTS, MAX_LISTING_COMMENTS);
  return ctx.loaders.listingComments.load({ listingId, take });
}
