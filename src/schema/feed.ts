import { builder } from '../builder.js';
import type { Suggestion } from '../feed/suggestions.js';
import type { Listing } from '../generated/prisma/client.js';
import * as feed from '../resolvers/feed.js';
import { MAX_PAGE_SIZE } from '../validation/pageSize.js';
import { createBadUserInputError } from '../errors/errors.js';
import { ListingRef } from './catalog.js';

const SuggestionSourceEnum = builder.enumType('SuggestionSource', {
  description: 'Where a suggestion came from.',
  values: {
    SIMILAR: {
      description:
        'Personalised: ranked for the viewer from what is close to their profile, liked together with what they liked, and popular in their categories.',
    },
    EXPLORE: { description: 'A random active listing, to learn more about the viewer.' },
    POPULAR: { description: 'Popular right now.' },
    RECENT: { description: 'Newly listed.' },
    GLOBAL: { description: 'Popular in any category (the category filter ran dry).' },
  } as const,
});

const FallbackReasonEnum = builder.enumType('FeedFallbackReason', {
  values: {
    ANONYMOUS: { description: 'No signed-in viewer: the non-personalised feed.' },
    NO_PROFILE_EMBEDDING: { description: 'The viewer has no interests to personalise from yet.' },
    NOT_ENOUGH_CANDIDATES: { description: 'Personalisation found fewer listings than asked for.' },
    SIMILARITY_UNAVAILABLE: { description: 'The similarity search failed or timed out.' },
  } as const,
});

const FeedFallbackRef = builder
  .objectRef<{
    reason: feed.FallbackReasonValue;
    source: 'SIMILAR' | 'EXPLORE' | 'POPULAR' | 'RECENT' | 'GLOBAL';
  }>('FeedFallback')
  .implement({
    description: 'Why (part of) a page came from the popular → recent → global chain.',
    fields: (t) => ({
      reason: t.field({ type: FallbackReasonEnum, resolve: (f) => f.reason }),
      source: t.field({ type: SuggestionSourceEnum, resolve: (f) => f.source }),
    }),
  });

const SuggestionRef = builder.objectRef<Suggestion>('Suggestion').implement({
  description: 'One listing in the viewer’s feed.',
  fields: (t) => ({
    listing: t.field({ type: ListingRef, resolve: (s) => s.listing }),
    score: t.exposeFloat('score', {
      description:
        'How the item ranked in its source, higher first: the ranking score for SIMILAR (the cosine similarity with FEED_RANKER=off), popularity for POPULAR and GLOBAL.',
    }),
    source: t.field({ type: SuggestionSourceEnum, resolve: (s) => s.source }),
    position: t.exposeInt('position', { description: 'Position in the feed session, from 0.' }),
    impressionId: t.exposeID('impressionId', {
      description: 'Pass to recordFeedback to reward this impression.',
    }),
  }),
});

const SimilarListingRef = builder.objectRef<{ listing: Listing; score: number }>('SimilarListing').implement({
  fields: (t) => ({
    listing: t.field({ type: ListingRef, resolve: (s) => s.listing }),
    score: t.exposeFloat('score', { description: 'Cosine similarity, 1 = same direction.' }),
  }),
});

builder.queryFields((t) => ({
  suggestions: t.connection(
    {
      type: SuggestionRef,
      description:
        'The viewer’s personalised feed (anonymous viewers get popular → recent). Page forward with `after`; ' +
        'a feed session never repeats a listing.',
      args: { category: t.arg.string({ description: 'Only this category (its slug).' }) },
      complexity: (args) => ({ field: 5, multiplier: Math.min(args.first ?? 20, MAX_PAGE_SIZE) }),
      resolve: (_root, args, ctx, info) => {
        if (args.last != null || args.before != null) {
          throw createBadUserInputError('the feed pages forward only: use first/after', 'last');
        }
        return feed.suggestions(ctx, args, info);
      },
    },
    {
      name: 'SuggestionConnection',
      fields: (c) => ({
        fallback: c.field({
          type: FeedFallbackRef,
          nullable: true,
          description: 'Set when personalisation could not serve (all or part of) this page.',
          resolve: (connection) => connection.fallback,
        }),
      }),
    },
    { name: 'SuggestionEdge' },
  ),
  similarListings: t.field({
    type: [SimilarListingRef],
    description: 'Active listings most similar to a listing (item-to-item, by embedding).',
    args: { listingId: t.arg.id({ required: true }), first: t.arg.int() },
    complexity: (args) => ({ field: 5, multiplier: Math.min(args.first ?? 10, MAX_PAGE_SIZE) }),
    resolve: (_root, args, ctx) => feed.similarListings(ctx, String(args.listingId), args.first),
  }),
}));

builder.objectField(ListingRef, 'similar', (t) =>
  t.field({
    type: [SimilarListingRef],
    description: 'Listings most similar to this one.',
    args: { first: t.arg.int() },
    complexity: (args) => ({ field: 5, multiplier: Math.min(args.first ?? 10, MAX_PAGE_SIZE) }),
    resolve: (listing, args, ctx) =>
      feed.similarListings(ctx, listing.id, args.first, { anchorVisible: true }),
  }),
);

const FeedbackPayloadRef = builder
  .objectRef<{ impressionId: string; reward: number }>('FeedbackPayload')
  .implement({
    fields: (t) => ({ impressionId: t.exposeID('impressionId'), reward: t.exposeFloat('reward') }),
  });

const HideListingPayloadRef = builder
  .objectRef<{ listingId: string; hidden: boolean }>('HideListingPayload')
  .implement({
    fields: (t) => ({ listingId: t.exposeID('listingId'), hidden: t.exposeBoolean('hidden') }),
  });

builder.mutationFields((t) => ({
  recordFeedback: t.field({
    type: FeedbackPayloadRef,
    description: 'Rewards one impression (0..1), once; a second call is refused. Rate limited per user.',
    authScopes: { user: true },
    args: { impressionId: t.arg.id({ required: true }), reward: t.arg.float({ required: true }) },
    resolve: (_root, args, ctx) => feed.recordFeedback(ctx, args),
  }),
  hideListing: t.field({
    type: HideListingPayloadRef,
    description: '"Not interested": never suggest this listing to the viewer again. Rate limited per user.',
    authScopes: { user: true },
    args: { listingId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => feed.hideListing(ctx, args),
  }),
}));
