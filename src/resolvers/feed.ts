import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import {
  suggestions as serveSuggestions,
  type FallbackReason,
  type SuggestionConnection,
} from '../feed/suggestions.js';

export type FallbackReasonValue = FallbackReason;
export type SuggestionConnectionShape = SuggestionConnection;
import * as feedback from '../feed/feedback.js';
import * as hide from '../feed/hide.js';
import * as similar from '../feed/similar.js';
import { parseListingId } from './catalog.js';
import { parseUuid } from '../validation/ids.js';
import { categoryIdOfSlug } from '../validation/categorySlug.js';
import { checkPageSize } from '../validation/pageSize.js';
import { readsDescriptions } from './lookahead.js';
import { writeMutation } from './writeMutation.js';
import { primeLoaders } from '../loaders/createLoaders.js';

async function categoryId(ctx: Context, slug: string | null | undefined): Promise<number | null> {
  return slug == null ? null : categoryIdOfSlug(slug, (s) => ctx.loaders.categoryBySlug.load(s));
}

export async function suggestions(
  ctx: Context,
  args: { first?: number | null; after?: string | null; category?: string | null },
  info?: GraphQLResolveInfo,
) {
  const connection = await serveSuggestions(
    ctx,
    {
      first: args.first,
      after: args.after,
      categoryId: await categoryId(ctx, args.category),
      description: readsDescriptions(info),
    },
    ctx.feed,
  );
  primeLoaders(ctx.loaders, { categories: connection.categories });
  return connection;
}

/** recordFeedback: checks the impression id and reward, then records it once (src/feed/feedback.ts). */
export const recordFeedback = writeMutation('recordFeedback', {
  parse: ({ impressionId, reward }: { impressionId: string; reward: number }) => {
    parseUuid(impressionId, 'impressionId', 'impression');
    if (!Number.isFinite(reward) || reward < 0 || reward > 1) {
      throw createBadUserInputError(`reward must be between 0 and 1, got ${reward}`, 'reward');
    }
    return { impressionId, reward };
  },
  // Recorded once by impression id: no idempotency key.
  run: (ctx: Context, { impressionId, reward }) => feedback.recordFeedback(ctx, impressionId, reward),
});

/** hideListing: "not interested" (src/feed/hide.ts). */
export const hideListing = writeMutation('hideListing', {
  parse: ({ listingId }: { listingId: string }) => parseListingId(listingId, 'listingId'),
  run: async (ctx: Context, id) => {
    const result = await hide.hideListing(ctx, id);
    // A hidden listing leaves the viewer's feed: the candidates this process kept for them are read again.
    if (ctx.viewer.userId !== null) ctx.feed.memory.forget(ctx.viewer.userId);
    return result;
  },
});

/**
 * similarListings: nearest listings to one listing (src/feed/similar.ts); `anchorVisible` when the
 * caller is the anchor's own `similar` field, whose parent was already read under the viewer's identity.
 */
export async function similarListings(
  ctx: Context,
  listingId: string | number,
  first: number | null | undefined,
  options: { anchorVisible?: boolean } = {},
) {
  const id = parseListingId(listingId, 'listingId');
  const size = checkPageSize('first', first ?? 10);
  return similar.similarListings({ prisma: ctx.prisma, db: ctx.reads }, id, size, options);
}
