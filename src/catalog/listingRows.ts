import { Prisma, type Category, type Listing, type PublicProfile } from '../generated/prisma/client.js';
import { publicProfileOf } from '../social/publicProfiles.js';

/**
 * A listing as raw statements select it (`listingColumns`), with its category joined in: the feed's
 * candidate statement and the listings page map their rows here once, into the objects Prisma returns,
 * so the Listing and Category types resolve them as usual.
 */
export interface ListingSqlRow {
  id: number;
  category_id: number;
  seller_id: string | null;
  title: string;
  /** null when the statement left it out (listingColumnsWithoutDescription): the Listing gets ''. */
  description: string | null;
  price: string;
  currency: string;
  status: string;
  like_count: number;
  comment_count: number;
  popularity: number;
  created_at: Date;
  updated_at: Date;
  source: string | null;
  external_id: string | null;
  category_slug: string;
  category_name: string;
  category_created_at: Date;
}

/** The columns of ListingSqlRow, from `marketplace_listings l` joined to `categories cat`. */
export const listingColumns = `l.id, l.category_id, l.seller_id, l.title, l.description, l.price::text AS price,
       l.currency, l.status, l.like_count, l.comment_count, l.popularity, l.created_at, l.updated_at,
       l.source, l.external_id,
       cat.slug AS category_slug, cat.name AS category_name, cat.created_at AS category_created_at`;

/**
 * listingColumns without the description (NULL): for pages whose document never asks for it. The
 * description is most of a listing's bytes; leaving it out was +14 % req/s on the listings page at c=16.
 */
export const listingColumnsWithoutDescription = listingColumns.replace(
  'l.description,',
  'NULL::text AS description,',
);

export function toListing(row: ListingSqlRow): Listing {
  return {
    id: row.id,
    categoryId: row.category_id,
    sellerId: row.seller_id,
    title: row.title,
    description: row.description ?? '',
    price: new Prisma.Decimal(row.price),
    currency: row.currency,
    status: row.status,
    likeCount: row.like_count,
    commentCount: row.comment_count,
    popularity: row.popularity,
    source: row.source,
    externalId: row.external_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * The category and seller a statement read together with a listing, kept beside the listing object so
 * the Listing type's `category` and `seller` fields return them at once (no loader call, no promise
 * per row); listings without an entry resolve through the request's loaders.
 */
export interface JoinedRelations {
  category: Category;
  /** undefined: the statement did not read the seller. */
  seller?: PublicProfile | null;
}

/** A symbol-keyed property (not a WeakMap: no table to churn through 20 entries per page). */
const JOINED = Symbol('joinedRelations');
type WithJoined = Listing & { [JOINED]?: JoinedRelations };

export function setJoined(listing: Listing, relations: JoinedRelations): void {
  (listing as WithJoined)[JOINED] = relations;
}

export function joinedOf(listing: Listing): JoinedRelations | undefined {
  return (listing as WithJoined)[JOINED];
}

/** The category columns a row carries (`listingColumns`, or any statement joining `categories cat` so). */
export type CategoryColumns = Pick<
  ListingSqlRow,
  'category_id' | 'category_slug' | 'category_name' | 'category_created_at'
>;

/** The distinct categories of some rows, each as Prisma returns a Category. */
export function categoriesOf(rows: readonly CategoryColumns[]): Category[] {
  const byId = new Map<number, Category>();
  for (const row of rows) {
    if (!byId.has(row.category_id)) {
      byId.set(row.category_id, {
        id: row.category_id,
        slug: row.category_slug,
        name: row.category_name,
        createdAt: row.category_created_at,
      });
    }
  }
  return [...byId.values()];
}

/** A row that also carries its seller's public profile (`sellerColumns`, NULL when there is none). */
export interface ListingWithSellerSqlRow extends ListingSqlRow {
  seller_handle: string | null;
  seller_display_name: string | null;
  seller_follower_count: number | null;
  seller_following_count: number | null;
  seller_created_at: Date | null;
}

/** The seller columns of ListingWithSellerSqlRow, from `public_profiles pp` (LEFT JOIN on seller_id). */
export const sellerColumns = `pp.handle AS seller_handle, pp.display_name AS seller_display_name,
       pp.follower_count AS seller_follower_count, pp.following_count AS seller_following_count,
       pp.created_at AS seller_created_at`;

/**
 * The distinct sellers of some rows, by user id: their public profile, or null when the account is
 * gone (the same answer the publicProfile loader gives for a missing user).
 */
export function sellersOf(rows: readonly ListingWithSellerSqlRow[]): Map<string, PublicProfile | null> {
  const byId = new Map<string, PublicProfile | null>();
  for (const row of rows) {
    const userId = row.seller_id;
    if (userId === null || byId.has(userId)) continue;
    byId.set(
      userId,
      publicProfileOf(userId, {
        handle: row.seller_handle,
        displayName: row.seller_display_name,
        followerCount: row.seller_follower_count,
        followingCount: row.seller_following_count,
        createdAt: row.seller_created_at,
      }),
    );
  }
  return byId;
}

/**
 * Rows as Listings with their category joined (setJoined), and with their seller when `sellers` is
 * given (the rows read sellerColumns): the listings page's and the feed's one mapping of listing rows.
 */
export function joinedListingsOf(
  rows: readonly ListingSqlRow[],
  sellers?: ReadonlyMap<string, PublicProfile | null>,
): { listings: Listing[]; categories: Category[] } {
  const categories = categoriesOf(rows);
  const categoryById = new Map(categories.map((c) => [c.id, c]));
  const listings = rows.map((row) => {
    const listing = toListing(row);
    setJoined(listing, {
      category: categoryById.get(row.category_id)!,
      ...(sellers && { seller: row.seller_id === null ? null : (sellers.get(row.seller_id) ?? null) }),
    });
    return listing;
  });
  return { listings, categories };
}
