import { builder } from '../builder.js';
import * as social from '../resolvers/social.js';
import type { CommentResult } from '../social/comments.js';
import {
  DEFAULT_LISTING_COMMENTS,
  MAX_LISTING_COMMENTS,
  type CommentView,
} from '../social/listingComments.js';
import type { FollowResult } from '../social/follows.js';
import type { InterestsResult } from '../social/interests.js';
import type { SignalResult } from '../social/signals.js';
import type { LikeResult } from '../social/likes.js';
import type { RateLimitStatus } from '../social/rateLimits.js';
import { ListingRef } from './catalog.js';
import { PublicProfileRef, UserInterestRef, ViewerRef } from './profile.js';

const LikePayloadRef = builder.objectRef<LikeResult>('LikePayload').implement({
  description: 'The listing’s like state after the mutation, with its new count.',
  fields: (t) => ({
    listing: t.prismaField({
      type: ListingRef,
      nullable: true,
      description: 'Null when the viewer may not see the listing (removed: only its seller and admins may).',
      resolve: (query, result, _args, ctx) =>
        ctx.prisma.listing.findUnique({ ...query, where: { id: result.listingId } }),
    }),
    liked: t.exposeBoolean('liked'),
    changed: t.exposeBoolean('changed', {
      description:
        'False when it was already in that state (a repeated like or unlike): nothing was counted.',
    }),
    likeCount: t.exposeInt('likeCount'),
  }),
});

const idempotencyDescription =
  'Same key and input within 24 h: the first result, no second effect. Also accepted as the Idempotency-Key header.';

const CommentRef = builder.objectRef<CommentView>('Comment').implement({
  fields: (t) => ({
    id: t.exposeID('commentId'),
    body: t.exposeString('body'),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => new Date(c.createdAt) }),
    deleted: t.exposeBoolean('deleted'),
    author: t.field({
      type: PublicProfileRef,
      nullable: true,
      resolve: (c, _args, ctx) => ctx.loaders.publicProfile.load(c.authorId),
    }),
    listing: t.prismaField({
      type: ListingRef,
      nullable: true,
      description: 'Null when the viewer may not see the listing (removed: only its seller and admins may).',
      resolve: (query, c, _args, ctx) =>
        ctx.prisma.listing.findUnique({ ...query, where: { id: c.listingId } }),
    }),
  }),
});

builder.objectField(ListingRef, 'comments', (t) =>
  t.field({
    type: [CommentRef],
    description: `The listing’s latest comments, newest first (${DEFAULT_LISTING_COMMENTS} by default, at most ${MAX_LISTING_COMMENTS}); deleted ones are not shown.`,
    args: { first: t.arg.int({ defaultValue: DEFAULT_LISTING_COMMENTS }) },
    complexity: (args) => ({
      field: 1,
      multiplier: Math.min(args.first ?? DEFAULT_LISTING_COMMENTS, MAX_LISTING_COMMENTS),
    }),
    resolve: (listing, args, ctx) => social.listingComments(ctx, listing.id, args.first),
  }),
);

const CommentPayloadRef = builder.objectRef<CommentResult>('CommentPayload').implement({
  fields: (t) => ({
    comment: t.field({ type: CommentRef, resolve: (c) => c }),
    commentCount: t.exposeInt('commentCount', { description: 'The listing’s visible comments now.' }),
    changed: t.exposeBoolean('changed', { description: 'False when the comment was already deleted.' }),
  }),
});

const FollowPayloadRef = builder.objectRef<FollowResult>('FollowPayload').implement({
  fields: (t) => ({
    user: t.field({
      type: PublicProfileRef,
      nullable: true,
      resolve: (f, _args, ctx) => ctx.loaders.publicProfile.load(f.userId),
    }),
    following: t.exposeBoolean('following'),
    changed: t.exposeBoolean('changed', { description: 'False when it was already in that state.' }),
    followerCount: t.exposeInt('followerCount', { description: 'The user’s followers now.' }),
    followingCount: t.exposeInt('followingCount', { description: 'How many the viewer follows now.' }),
  }),
});

const InterestsPayloadRef = builder.objectRef<InterestsResult>('InterestsPayload').implement({
  fields: (t) => ({
    interests: t.prismaField({
      type: [UserInterestRef],
      description: 'The viewer’s interests now, strongest first.',
      resolve: (query, r, _args, ctx) =>
        ctx.prisma.userInterest.findMany({
          ...query,
          where: { userId: r.userId },
          orderBy: [{ affinity: 'desc' }, { interestId: 'asc' }],
        }),
    }),
    interestCount: t.exposeInt('interestCount'),
    addedInterestIds: t.idList({ resolve: (r) => r.added }),
    removedInterestIds: t.idList({ resolve: (r) => r.removed }),
    hasEmbedding: t.exposeBoolean('hasEmbedding', {
      description: 'Whether the feed can personalise now (the profile embedding is recomputed at once).',
    }),
    changed: t.exposeBoolean('changed'),
  }),
});

const InterestInputRef = builder.inputType('InterestInput', {
  fields: (t) => ({
    interestId: t.id({ required: true }),
    affinity: t.float({ description: '0..1, default 0.5.' }),
  }),
});

const SignalKindEnum = builder.enumType('SignalKind', {
  values: {
    VIEW: { value: 'view' },
    CLICK: { value: 'click' },
    DWELL: { value: 'dwell', description: 'weight = seconds' },
    SHARE: { value: 'share' },
    SAVE: { value: 'save' },
    SEARCH: { value: 'search', description: 'needs `query`, not `listingId`' },
  } as const,
});

const SignalPayloadRef = builder.objectRef<SignalResult>('SignalPayload').implement({
  fields: (t) => ({
    signalId: t.exposeID('signalId'),
    kind: t.field({ type: SignalKindEnum, resolve: (s) => s.kind }),
    listingId: t.id({ nullable: true, resolve: (s) => s.listingId }),
    weight: t.exposeFloat('weight'),
  }),
});

builder.mutationFields((t) => ({
  setInterests: t.authField({
    type: InterestsPayloadRef,
    description: 'Replaces the viewer’s interests (at most MAX_INTERESTS). Rate limited per user.',
    authScopes: { user: true },
    args: {
      interests: t.arg({ type: [InterestInputRef], required: true }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.setInterests(ctx, args),
  }),
  addInterest: t.authField({
    type: InterestsPayloadRef,
    description: 'Adds an interest, or changes its affinity.',
    authScopes: { user: true },
    args: {
      interestId: t.arg.id({ required: true }),
      affinity: t.arg.float({ description: '0..1, default 0.5.' }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.addInterest(ctx, args),
  }),
  removeInterest: t.authField({
    type: InterestsPayloadRef,
    description: 'Removes an interest (a no-op when the viewer does not have it).',
    authScopes: { user: true },
    args: {
      interestId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.removeInterest(ctx, args),
  }),
  recordSignal: t.authField({
    type: SignalPayloadRef,
    description:
      'Records a behaviour signal (view, click, dwell, share, save, search). Rate limited per user.',
    authScopes: { user: true },
    args: {
      kind: t.arg({ type: SignalKindEnum, required: true }),
      listingId: t.arg.id(),
      query: t.arg.string(),
      weight: t.arg.float({ description: '0..1000, default 1.' }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.recordSignal(ctx, args),
  }),
  addComment: t.authField({
    type: CommentPayloadRef,
    description: 'Comments on an active listing: 1–2,000 characters after trimming. Rate limited per user.',
    authScopes: { user: true },
    args: {
      listingId: t.arg.id({ required: true }),
      body: t.arg.string({ required: true }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.addComment(ctx, args),
  }),
  deleteComment: t.authField({
    type: CommentPayloadRef,
    description: 'Deletes a comment (its author or an admin); it stays in the database, hidden.',
    authScopes: { user: true },
    args: {
      commentId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.deleteComment(ctx, args),
  }),
  follow: t.authField({
    type: FollowPayloadRef,
    description: 'Follows another user. Rate limited per user.',
    authScopes: { user: true },
    args: {
      userId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.follow(ctx, args),
  }),
  unfollow: t.authField({
    type: FollowPayloadRef,
    description: 'Stops following a user (a no-op when not following).',
    authScopes: { user: true },
    args: {
      userId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.unfollow(ctx, args),
  }),
  likeListing: t.authField({
    type: LikePayloadRef,
    description: 'Likes an active listing (idempotent: liking twice counts once). Rate limited per user.',
    authScopes: { user: true },
    args: {
      listingId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.likeListing(ctx, args),
  }),
  unlikeListing: t.authField({
    type: LikePayloadRef,
    description: 'Removes the viewer’s like (a no-op when there is none). Rate limited with likes.',
    authScopes: { user: true },
    args: {
      listingId: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ description: idempotencyDescription }),
    },
    resolve: (_root, args, ctx) => social.unlikeListing(ctx, args),
  }),
}));

const RateLimitActionEnum = builder.enumType('RateLimitAction', {
  values: {
    LIKE: { value: 'like', description: 'likeListing and unlikeListing' },
    COMMENT: { value: 'comment' },
    FOLLOW: { value: 'follow' },
    INTEREST: { value: 'interest' },
    SIGNAL: { value: 'signal' },
    HIDE: { value: 'hide', description: 'hideListing' },
    FEEDBACK: { value: 'feedback', description: 'recordFeedback' },
  } as const,
});

const RateLimitRef = builder.objectRef<RateLimitStatus>('RateLimit').implement({
  description: 'One write budget: `limit` per minute per user, shared by every gateway instance.',
  fields: (t) => ({
    action: t.field({ type: RateLimitActionEnum, resolve: (r) => r.action }),
    limit: t.exposeInt('limit'),
    remaining: t.exposeInt('remaining'),
    resetAt: t.expose('resetAt', { type: 'DateTime', description: 'When the budget is full again.' }),
  }),
});

builder.objectField(ViewerRef, 'rateLimits', (t) =>
  t.field({
    type: [RateLimitRef],
    description: 'What is left of the viewer’s write budgets.',
    resolve: (profile, _args, ctx) => social.rateLimitStatus(ctx, profile.userId),
  }),
);
