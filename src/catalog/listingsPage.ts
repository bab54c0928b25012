import type pg from 'pg';
import type { Category, Listing, PublicProfile } from '../generated/prisma/client.js';
import { queryAsViewer, type RlsViewer } from '../db/identity.js';
import {
  categoriesOf,
  listingColumns,
  sellerColumns,
  sellersOf,
  toListing,
  type ListingWithSellerSqlRow,
} from './listingRows.js';

/**
 * listings page: one page of listings with their category and their seller's public profile, in one
 * statement (the Listing type's `category` and `seller` are then served from the primed loaders).
 * Keyset-paged on id: $1 status, $2 category id or NULL, $3 the cursor's id or NULL, $4 rows to read.
 * RLS on marketplace_listings filters what the caller may see (removed listings: their seller, admins).
 */
function listingsPageSql(direction: 'forward' | 'backward'): string {
  const [before, order] = direction === 'forward' ? ['<', 'DESC'] : ['>', 'ASC'];
  return `
SELECT ${listingColumns},
       ${sellerColumns}
FROM marketplace_listings l
JOIN categories cat ON cat.id = l.category_id
LEFT JOIN public_profiles pp ON pp.user_id = l.seller_id
WHERE l.status = $1 AND ($2::int IS NULL OR l.category_id = $2::int) AND ($3::int IS NULL OR l.id ${before} $3::int)
ORDER BY l.id ${order}
LIMIT $4`;
}

const forwardSql = listingsPageSql('forward');
const backwardSql = listingsPageSql('backward');

export interface ListingsPageQuery {
  status: string;
  categoryId: number | null;
  /** forward: newest first, ids below the cursor; backward: oldest first, ids above it. */
  direction: 'forward' | 'backward';
  cursorId: number | null;
  take: number;
}

export interface ListingsPage {
  listings: Listing[];
  categories: Category[];
  /** The page's sellers by user id (null: the account is gone). */
  sellers: Map<string, PublicProfile | null>;
}

/**
 * Reads a listings page under the viewer's RLS identity (queryAsViewer: one round trip for an
 * anonymous viewer).
 */
export async function readListingsPage(
  pool: pg.Pool,
  viewer: RlsViewer,
  query: ListingsPageQuery,
): Promise<ListingsPage> {
  const text = query.direction === 'forward' ? forwardSql : backwardSql;
  const values = [query.status, query.categoryId, query.cursorId, query.take];
  return pageOf(await queryAsViewer<ListingWithSellerSqlRow>(pool, viewer, text, values));
}

/**
 * listing by id: one listing with its category and its seller's public profile, in one statement, as
 * a page of one. $1 id. RLS decides whether the caller may see it (removed: its seller, admins).
 */
const listingByIdSql = `
SELECT ${listingColumns},
       ${sellerColumns}
FROM marketplace_listings l
JOIN categories cat ON cat.id = l.category_id
LEFT JOIN public_profiles pp ON pp.user_id = l.seller_id
WHERE l.id = $1`;

/** One listing under the viewer's RLS identity; `listings` is empty when there is none to see. */
export async function readListingById(pool: pg.Pool, viewer: RlsViewer, id: number): Promise<ListingsPage> {
  return pageOf(await queryAsViewer<ListingWithSellerSqlRow>(pool, viewer, listingByIdSql, [id]));
}

const pageOf = (rows: ListingWithSellerSqlRow[]): ListingsPage => ({
  listings: rows.map(toListing),
  categories: categoriesOf(rows),
  sellers: sellersOf(rows),
});
