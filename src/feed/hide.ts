import type { ScopedPrisma } from '../db/identity.js';
import { withIdentity } from '../db/identity.js';
import { createNotFoundError } from '../errors/errors.js';
import type { FeedWriteDeps } from './feedback.js';
import { hideListingSql } from './sql.js';

/**
 * "Not interested": never served to this viewer again; a zero reward on its latest impression. The
 * listing must be visible to the viewer (read through the viewer-scoped Prisma).
 */
export async function hideListing(
  deps: FeedWriteDeps & { prisma: ScopedPrisma },
  id: number,
): Promise<{ listingId: string; hidden: true }> {
  const listing = await deps.prisma.listing.findUnique({ where: { id }, select: { id: true } });
  if (!listing) throw createNotFoundError('listing', id);
  await withIdentity(deps.db.pool, deps.viewer, (client) => client.query(hideListingSql, [id]));
  await deps.features.invalidate({ users: deps.viewer.userId ? [deps.viewer.userId] : [], listings: [id] });
  return { listingId: String(id), hidden: true };
}
