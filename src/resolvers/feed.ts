import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import type { Redis } from 'ioredis';
import { createFeedPolicies } from '../feed/feedPolicies.js';
import {
  suggestions as serveSuggestions,
  type FallbackReason,
  type FeedSettings,
  type SuggestionConnection,
} from '../feed/suggestions.js';

export type FallbackReasonValue = FallbackReason;
export type SuggestionConnectionShape = SuggestionConnection;
import type { ServiceDb } from '../db/service.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import * as feedback from '../feed/feedback.js';
import * as hide from '../feed/hide.js';
import * as similar from '../feed/similar.js';
import { parseListingId } from './catalog.js';
import { isUuid } from '../validation/isUuid.js';
import { MUTATION_BUDGETS } from '../social/budgets.js';
import { budgetKeyOf } from '../social/rateLimits.js';
import { categoryIdOfSlug } from '../validation/categorySlug.js';
import { checkPageSize } from '../validation/pageSize.js';

/** Built once per process: the policies (per experiment arm) and the cursor-signing key. */
export function createFeedSettings(
  config: Config,
  deps: { service: ServiceDb; logger: Logger; redis: Redis | null; metrics: Metrics },
): FeedSettings & { stop: () => void } {
  const policies = createFeedPolicies({ config, ...deps });
  return {
    stop: () => policies.stop(),
    policies,
    servedWindowMinutes: config.feed.servedWindowMinutes,
    categoryShare: config.feed.categoryShare,
    // Replicas must share the key for cursors to work across them: FEED_CURSOR_SECRET or JWT_SECRET.
    cursorKey: config.feed.cursorSecret ?? config.auth.jwtSecret ?? randomBytes(32).toString('hex'),
  };
}

async function categoryId(ctx: Context, slug: string | null | undefined): Promise<number | null> {
  return slug == null ? null : categoryIdOfSlug(slug, (s) => ctx.loaders.categoryBySlug.load(s));
}

export async function suggestions(
  ctx: Context,
  args: { first?: number | null; after?: string | null; category?: string | null },
) {
  return serveSuggestions(
    ctx,
    { first: args.first, after: args.after, categoryId: await categoryId(ctx, args.category) },
    ctx.feed,
  );
}

/** recordFeedback: checks the impression id and reward, then records it once (src/feed/feedback.ts). */
export async function recordFeedback(ctx: Context, impressionId: string, reward: number) {
  if (!isUuid(impressionId)) {
    throw createBadUserInputError('impressionId must be an impression id from suggestions', 'impressionId');
  }
  if (!Number.isFinite(reward) || reward < 0 || reward > 1) {
    throw createBadUserInputError(`reward must be between 0 and 1, got ${reward}`, 'reward');
  }
  await ctx.rateLimits.consume(MUTATION_BUDGETS.recordFeedback, budgetKeyOf(ctx));
  return feedback.recordFeedback(ctx, impressionId, reward);
}

/** hideListing: "not interested" (src/feed/hide.ts). */
export async function hideListing(ctx: Context, listingId: string) {
  const id = parseListingId(listingId, 'listingId');
  await ctx.rateLimits.consume(MUTATION_BUDGETS.hideListing, budgetKeyOf(ctx));
  return hide.hideListing(ctx, id);
}

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
  return similar.similarListings(ctx, id, size, options);
}
