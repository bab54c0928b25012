import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Context } from '../context.js';
import { createBadUserInputError, createNotFoundError } from '../errors/errors.js';
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
import { withIdentity } from '../db/identity.js';
import type { ServiceDb } from '../db/service.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { similarListingsSql } from '../db/sql/feedCandidates.js';
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

/**
 * record feedback: the reward of one impression, once; the same reward again is a success (a retried
 * request), a different one is refused. The SQL function checks the impression is the caller's.
 */
export async function recordFeedback(ctx: Context, impressionId: string, reward: number) {
  if (!isUuid(impressionId)) {
    throw createBadUserInputError('impressionId must be an impression id from suggestions', 'impressionId');
  }
  if (!Number.isFinite(reward) || reward < 0 || reward > 1) {
    throw createBadUserInputError(`reward must be between 0 and 1, got ${reward}`, 'reward');
  }
  await ctx.rateLimits.consume(MUTATION_BUDGETS.recordFeedback, budgetKeyOf(ctx));
  const recorded = await withIdentity(ctx.db.pool, ctx.viewer, async (client) => {
    const { rows } = await client.query<{ recorded: boolean }>(
      'SELECT record_learning_reward($1::uuid, $2::float8) AS recorded',
      [impressionId, reward],
    );
    return rows[0]?.recorded === true;
  });
  if (recorded) {
    // The viewer's CTR and (with drift) top categories changed; the listing's 30-day CTR moves by one
    // reward and is left to its TTL.
    await ctx.features.invalidate({ users: ctx.viewer.userId ? [ctx.viewer.userId] : [] });
  }
  if (!recorded) {
    throw createBadUserInputError(
      'this impression is not yours, does not exist, or already has a different reward (feedback is recorded once)',
      'impressionId',
    );
  }
  return { impressionId, reward };
}

/** "Not interested": never served to this viewer again; a zero reward on its latest impression. */
export async function hideListing(ctx: Context, listingId: string) {
  const id = parseListingId(listingId, 'listingId');
  await ctx.rateLimits.consume(MUTATION_BUDGETS.hideListing, budgetKeyOf(ctx));
  const listing = await ctx.prisma.listing.findUnique({ where: { id }, select: { id: true } });
  if (!listing) throw createNotFoundError('listing', id);
  await withIdentity(ctx.db.pool, ctx.viewer, (client) => client.query('SELECT hide_listing($1)', [id]));
  await ctx.features.invalidate({ users: ctx.viewer.userId ? [ctx.viewer.userId] : [], listings: [id] });
  return { listingId: String(id), hidden: true };
}

/**
 * similar listings: nearest active listings to one listing's embedding (item-to-item). The anchor must be
 * visible to the viewer (a removed listing is its seller's and admins' only): the vector search runs on
 * the service path, past that policy, so it is checked here first — unless the caller is the anchor's
 * own `similar` field, whose parent was already read under the viewer's identity.
 */
export async function similarListings(
  ctx: Context,
  listingId: string | number,
  first: number | null | undefined,
  options: { anchorVisible?: boolean } = {},
) {
  const id = parseListingId(listingId, 'listingId');
  const size = checkPageSize('first', first ?? 10);
  if (!options.anchorVisible) {
    const anchor = await ctx.prisma.listing.findUnique({ where: { id }, select: { id: true } });
    if (!anchor) return [];
  }
  const rows = await ctx.db.service.query<{ id: number; score: number }>(similarListingsSql, [id, size]);
  const listings = await ctx.prisma.listing.findMany({ where: { id: { in: rows.map((r) => r.id) } } });
  const byId = new Map(listings.map((l) => [l.id, l]));
  return rows.flatMap((row) => {
    const listing = byId.get(row.id);
    return listing ? [{ listing, score: row.score }] : [];
  });
}
