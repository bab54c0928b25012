import type { Database } from '../db/database.js';
import type { ScopedPrisma } from '../db/identity.js';
import { similarListingsSql } from './sql.js';

/**
 * similar listings: nearest active listings to one listing's embedding (item-to-item). The anchor must be
 * visible to the viewer (a removed listing is its seller's and admins' only): the vector search runs on
 * the service path, past that policy, so it is checked here first — unless the caller is the anchor's
 * own `similar` field, whose parent was already read under the viewer's identity.
 */
export async function similarListings(
  deps: { prisma: ScopedPrisma; db: Pick<Database, 'service'> },
  id: number,
  size: number,
  options: { anchorVisible?: boolean } = {},
) {
  if (!options.anchorVisible) {
    const anchor = await deps.prisma.listing.findUnique({ where: { id }, select: { id: true } });
    if (!anchor) return [];
  }
  const rows = await deps.db.service.query<{ id: number; score: number }>(similarListingsSql, [id, size]);
  const listings = await deps.prisma.listing.findMany({ where: { id: { in: rows.map((r) => r.id) } } });
  const byId = new Map(listings.map((l) => [l.id, l]));
  return rows.flatMap((row) => {
    const listing = byId.get(row.id);
    return listing ? [{ listing, score: row.score }] : [];
  });
}
