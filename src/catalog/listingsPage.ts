import type pg from 'pg';
import type { Category, Listing, PublicProfile } from '../generated/prisma/client.js';
import { queryAsViewer, type RlsViewer } from '../db/identity.js';
import { namedStatement, type NamedStatement } from '../platform/pool.js';
import { LISTING_STATUSES, type ListingStatus } from './rows.js';
import { MAX_PAGE_SIZE } from '../validation/pageSize.js';
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
 * Keyset-paged on id: $1 the cursor's id or NULL, $2 rows to read, and in the category variant $3 the
 * category id. RLS on marketplace_listings filters what the caller may see (removed listings: their
 * seller, admins).
 *
 * Named prepared statements, so the server settles on a generic plan: every condition is one an index
 * can take whatever the parameters are (`l.id < coalesce($1, max)`, not `$1 IS NULL OR l.id < $1`,
 * which a generic plan can only filter by — 470 ms for a deep cursor on the bench's 100k listings), and
 * the category filter is a statement of its own (marketplace_listings_category_id_idx serves it).
 *
 * And so that the server does choose the generic plan, the statement tells it how few rows it reads:
 * the status is a literal (a statement per status: as a parameter, the generic plan's estimate was a
 * quarter of the rows for any status), and the page is read through an inner `LIMIT` of the largest
 * page (a literal) under the outer `LIMIT $2` (alone, a parameter limit is estimated at a tenth of the
 * table). Before, the generic plan looked three times dearer than a custom one, so the server planned
 * every execution afresh under RLS: 0.28–0.34 ms of Bind per page, three times the execution. The
 * inner Limit is pulled no further than $2 rows, and the outer ORDER BY costs nothing (the inner rows
 * arrive in that order).
 */
function listingsPageSql(
  status: ListingStatus,
  direction: 'forward' | 'backward',
  byCategory: boolean,
  description: boolean,
): string {
  const [after, order] =
    direction === 'forward'
      ? ['l.id < coalesce($1::int, 2147483647)', 'DESC']
      : ['l.id > coalesce($1::int, 0)', 'ASC'];
  return `
SELECT * FROM (
  SELECT ${description ? listingColumns : listingColumnsWithoutDescription},
         ${sellerColumns}
  FROM marketplace_listings l
  JOIN categories cat ON cat.id = l.category_id
  LEFT JOIN public_profiles pp ON pp.user_id = l.seller_id
  WHERE l.status = '${status}' AND ${after}${byCategory ? ' AND l.category_id = $3::int' : ''}
  ORDER BY l.id ${order}
  LIMIT ${MAX_PAGE_ROWS}) page
ORDER BY page.id ${order}
LIMIT $2`;
}

/** The most rows a page reads: the largest page, and one more that says whether there is a next. */
export const MAX_PAGE_ROWS = MAX_PAGE_SIZE + 1;

export interface PageStatements {
  forward: NamedStatement;
  backward: NamedStatement;
  forwardInCategory: NamedStatement;
  backwardInCategory: NamedStatement;
}

function pageStatementsFor(status: ListingStatus, description: boolean): PageStatements {
  const name = (variant: string) => `listings_page_${variant}_${status}${description ? '' : '_brief'}`;
  return {
    forward: namedStatement(name('forward'), listingsPageSql(status, 'forward', false, description)),
    backward: namedStatement(name('backward'), listingsPageSql(status, 'backward', false, description)),
    forwardInCategory: namedStatement(
      name('forward_category'),
      listingsPageSql(status, 'forward', true, description),
    ),
    backwardInCategory: namedStatement(
      name('backward_category'),
      listingsPageSql(status, 'backward', true, description),
    ),
  };
}

/**
 * The page statements of a status, with the descriptions or without them (`description` false: for
 * documents that ask for none). Every status's are made up front: statuses are a closed list.
 */
const statementsByStatus = new Map(
  LISTING_STATUSES.flatMap((status) => [
    [`${status}:full`, pageStatementsFor(status, true)],
    [`${status}:brief`, pageStatementsFor(status, false)],
  ]),
);

export function pageStatements(status: ListingStatus, description = true): PageStatements {
  const found = statementsByStatus.get(`${status}:${description ? 'full' : 'brief'}`);
  // The type allows no other status; a caller that cast one in gets an error, never SQL with it.
  if (!found) throw new RangeError(`no listings page statements for status ${JSON.stringify(status)}`);
  return found;
}

export interface ListingsPageQuery {
  status: ListingStatus;
  categoryId: number | null;
  /** forward: newest first, ids below the cursor; backward: oldest first, ids above it. */
  direction: 'forward' | 'backward';
  cursorId: number | null;
  /** Rows to read: 1 to MAX_PAGE_ROWS (the page and one more). */
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
  if (!Number.isInteger(query.take) || query.take < 1 || query.take > MAX_PAGE_ROWS) {
    throw new RangeError(`a listings page reads 1 to ${MAX_PAGE_ROWS} rows, not ${query.take}`);
  }
  const values: unknown[] = [query.cursorId, query.take];
  const statements = pageStatements(query.status, query.description !== false);
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
