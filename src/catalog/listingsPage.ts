import type pg from 'pg';
import type { Category, Listing, PublicProfile } from '../generated/prisma/client.js';
import { queryAsViewer, type RlsViewer } from '../db/identity.js';
import { namedStatement } from '../platform/pool.js';
import { commentOf, type CommentView, type ListingCommentRow } from '../social/listingComments.js';
import {
  joinedListingsOf,
  listingColumns,
  listingColumnsWithoutDescription,
  sellerColumns,
  sellersOf,
  type ListingWithSellerSqlRow,
} from './listingRows.js';

/**
 * listings page: one page of listings with their category and their seller's public profile, in one
 * statement (the Listing type's `category` and `seller` are then served from the primed loaders).
 * Keyset-paged on id: $1 status, $2 the cursor's id or NULL, $3 rows to read, and in the category
 * variant $4 the category id. RLS on marketplace_listings filters what the caller may see (removed
 * listings: their seller, admins).
 *
 * Named prepared statements, so the server may settle on a generic plan: every condition is one an index
 * can take whatever the parameters are (`l.id < coalesce($2, max)`, not `$2 IS NULL OR l.id < $2`,
 * which a generic plan can only filter by — 470 ms for a deep cursor on the bench's 100k listings), and
 * the category filter is a statement of its own (marketplace_listings_category_id_idx serves it).
 */
function listingsPageSql(
  direction: 'forward' | 'backward',
  byCategory: boolean,
  description: boolean,
): string {
  const [after, order] =
    direction === 'forward'
      ? ['l.id < coalesce($2::int, 2147483647)', 'DESC']
      : ['l.id > coalesce($2::int, 0)', 'ASC'];
  return `
SELECT ${description ? listingColumns : listingColumnsWithoutDescription},
       ${sellerColumns}
FROM marketplace_listings l
JOIN categories cat ON cat.id = l.category_id
LEFT JOIN public_profiles pp ON pp.user_id = l.seller_id
WHERE l.status = $1 AND ${after}${byCategory ? ' AND l.category_id = $4::int' : ''}
ORDER BY l.id ${order}
LIMIT $3`;
}

const pageStatementsFor = (description: boolean, suffix: string) => ({
  forward: namedStatement(`listings_page_forward${suffix}`, listingsPageSql('forward', false, description)),
  backward: namedStatement(
    `listings_page_backward${suffix}`,
    listingsPageSql('backward', false, description),
  ),
  forwardInCategory: namedStatement(
    `listings_page_forward_category${suffix}`,
    listingsPageSql('forward', true, description),
  ),
  backwardInCategory: namedStatement(
    `listings_page_backward_category${suffix}`,
    listingsPageSql('backward', true, description),
  ),
});

export const pageStatements = pageStatementsFor(true, '');
/** The same pages without the listings' descriptions (ListingsPageQuery.description false). */
export const briefPageStatements = pageStatementsFor(false, '_brief');

export interface ListingsPageQuery {
  status: string;
  categoryId: number | null;
  /** forward: newest first, ids below the cursor; backward: oldest first, ids above it. */
  direction: 'forward' | 'backward';
  cursorId: number | null;
  take: number;
  /**
   * Read the descriptions (default). False when the document never asks for one: the statement leaves
   * them out and the page's Listings carry '' instead.
   */
  description?: boolean;
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
  const values: unknown[] = [query.status, query.cursorId, query.take];
  const statements = query.description === false ? briefPageStatements : pageStatements;
  let statement = query.direction === 'forward' ? statements.forward : statements.backward;
  if (query.categoryId !== null) {
    values.push(query.categoryId);
    statement = query.direction === 'forward' ? statements.forwardInCategory : statements.backwardInCategory;
  }
  return pageOf(await queryAsViewer<ListingWithSellerSqlRow>(pool, viewer, statement, values));
}

/**
 * listing by id: one listing with its category and its seller's public profile, in one statement, as
 * a page of one. $1 id. RLS decides whether the caller may see it (removed: its seller, admins).
 */
const listingByIdSql = namedStatement(
  'listing_by_id',
  `
SELECT ${listingColumns},
       ${sellerColumns}
FROM marketplace_listings l
JOIN categories cat ON cat.id = l.category_id
LEFT JOIN public_profiles pp ON pp.user_id = l.seller_id
WHERE l.id = $1`,
);

/**
 * listing by id with its latest comments: as listingByIdSql, plus the listing's $2 latest visible comments
 * (public_comments, newest first) with their authors' public profiles as one JSON array, so a listing
 * page that shows its comments is one statement, not two.
 */
const listingWithCommentsSql = namedStatement(
  'listing_with_comments',
  `
SELECT ${listingColumns},
       ${sellerColumns},
       (SELECT coalesce(json_agg(json_build_object(
                  'id', c.id::text, 'listing_id', c.listing_id, 'user_id', c.user_id, 'body', c.body,
                  'created_at', c.created_at, 'author_handle', cp.handle,
                  'author_display_name', cp.display_name, 'author_follower_count', cp.follower_count,
                  'author_following_count', cp.following_count, 'author_created_at', cp.created_at)
                ORDER BY c.created_at DESC, c.id DESC), '[]'::json)
        FROM (SELECT id, listing_id, user_id, body, created_at FROM public_comments
              WHERE listing_id = l.id ORDER BY created_at DESC, id DESC LIMIT $2) c
        LEFT JOIN public_profiles cp ON cp.user_id = c.user_id) AS comments
FROM marketplace_listings l
JOIN categories cat ON cat.id = l.category_id
LEFT JOIN public_profiles pp ON pp.user_id = l.seller_id
WHERE l.id = $1`,
);

/** One listing under the viewer's RLS identity; `listings` is empty when there is none to see. */
export async function readListingById(pool: pg.Pool, viewer: RlsViewer, id: number): Promise<ListingsPage> {
  return pageOf(await queryAsViewer<ListingWithSellerSqlRow>(pool, viewer, listingByIdSql, [id]));
}

/** A listing page of one with the listing's `take` latest comments and their authors. */
export interface ListingWithComments extends ListingsPage {
  comments: CommentView[];
  /** The comments' authors by user id (null: no profile). */
  authors: Map<string, PublicProfile | null>;
}

/** readListingById and `Listing.comments(first: take)` in one statement. */
export async function readListingWithComments(
  pool: pg.Pool,
  viewer: RlsViewer,
  id: number,
  take: number,
): Promise<ListingWithComments> {
  const rows = await queryAsViewer<ListingWithSellerSqlRow & { comments: ListingCommentRow[] }>(
    pool,
    viewer,
    listingWithCommentsSql,
    [id, take],
  );
  const authors = new Map<string, PublicProfile | null>();
  const comments = (rows[0]?.comments ?? []).map((row) => commentOf(row, authors));
  return { ...pageOf(rows), comments, authors };
}

function pageOf(rows: ListingWithSellerSqlRow[]): ListingsPage {
  const sellers = sellersOf(rows);
  return { ...joinedListingsOf(rows, sellers), sellers };
}
