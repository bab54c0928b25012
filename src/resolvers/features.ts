import type { Context } from '../context.js';
import { createForbiddenError, createNotFoundError } from '../errors/errors.js';
import type { ListingFeatures, UserFeatures } from '../features/featureKinds.js';
import { parseUuid } from '../validation/ids.js';

/** userFeatures(userId): a user reads their own features, an admin anyone's; others are refused. */
export async function userFeatures(ctx: Context, userId: string): Promise<UserFeatures> {
  const id = parseUuid(userId, 'userId', 'user');
  if (ctx.viewer.role !== 'admin' && ctx.viewer.userId !== id) {
    throw createForbiddenError('you may read only your own features');
  }
  const features = await ctx.loaders.userFeatures.load(id);
  if (!features) throw createNotFoundError('user', id);
  return features;
}

/** Features of a listing that exists (the parent field already loaded it). */
export async function listingFeatures(ctx: Context, listingId: number): Promise<ListingFeatures> {
  const features = await ctx.loaders.listingFeatures.load(listingId);
  if (!features) throw createNotFoundError('listing', listingId);
  return features;
}
