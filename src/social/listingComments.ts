import type pg from 'pg';
import type { PublicProfile } from '../generated/prisma/client.js';
import { queryAsViewer, type RlsViewer } from '../db/identity.js';
import { namedStatement } from '../platform/pool.js';
import { publicProfileOf } from './publicProfiles.js';

/** `Listing.comments(first)`: 10 by default, at most 50 (a listing page asking for more fans out fast). */
export const DEFAULT_LISTING_COMMENTS = 10;
export const MAX_LISTING_COMMENTS = 50;

/** A comment as any viewer may read it (the Comment type); mutation payloads add their counts to it. */
export interface CommentView {
  commentId: string;
  listingId: number;
  authorId: string;
  body: string;
  createdAt: string;
  deleted: boolean;
}

/** Which listing, and how many of its latest comments. */
export interface ListingCommentsRequest {
  listingId: number;
  take: number;
}

interface ListingCommentSqlRow {
  key: number;
  id: string;
  listing_id: number;
  user_id: string;
  body: string;
  created_at: Date;
  author_handle: string | null;
  author_display_name: string | null;
  author_follower_count: number | null;
  author_following_count: number | null;
  author_created_at: Date | null;
}

/**
 * listing comments: the latest visible comments of several listings at once, newest first, each
 * listing's own LIMIT in a LATERAL (the partial index comments_listing_id_idx serves each), with the
 * authors' public profiles. $1 listing ids, $2 how many of each (same order); `key` is the position
 * in those arrays. public_comments shows no deleted comment to anyone; erased authors' comments are
 * gone with them (ON DELETE CASCADE).
 */
const listingCommentsSql = namedStatement(
  'listing_comments',
  `
SELECT k.key::int AS key, c.id::text AS id, c.listing_id, c.user_id, c.body, c.created_at,
       pp.handle AS author_handle, pp.display_name AS author_display_name,
       pp.follower_count AS author_follower_count, pp.following_count AS author_following_count,
       pp.created_at AS author_created_at
FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS k(listing_id, take, key)
CROSS JOIN LATERAL (
  SELECT id, listing_id, user_id, body, created_at FROM public_comments
  WHERE listing_id = k.listing_id
  ORDER BY created_at DESC, id DESC
  LIMIT k.take) c
LEFT JOIN public_profiles pp ON pp.user_id = c.user_id
ORDER BY k.key, c.created_at DESC, c.id DESC`,
);

export interface ListingComments {
  /** One list per request, in the requests' order. */
  comments: CommentView[][];
  /** The authors' public profiles by user id (null: no profile). */
  authors: Map<string, PublicProfile | null>;
}

/** Reads the comments of several listings in one statement under the viewer's RLS identity. */
export async function readListingComments(
  pool: pg.Pool,
  viewer: RlsViewer,
  requests: readonly ListingCommentsRequest[],
): Promise<ListingComments> {
  const values = [requests.map((r) => r.listingId), requests.map((r) => r.take)];
  const rows = await queryAsViewer<ListingCommentSqlRow>(pool, viewer, listingCommentsSql, values);
  const comments: CommentView[][] = requests.map(() => []);
  const authors = new Map<string, PublicProfile | null>();
  for (const row of rows) {
    comments[row.key - 1]?.push(commentOf(row, authors));
  }
  return { comments, authors };
}

/** A comment row as a statement returned it: its columns, or the same keys in a JSON object. */
export type ListingCommentRow = Omit<ListingCommentSqlRow, 'key' | 'created_at' | 'author_created_at'> & {
  created_at: Date | string;
  author_created_at: Date | string | null;
};

/**
 * The comment of one row, its author's public profile added to `authors` (null: no profile). JSON
 * timestamps (microseconds) are cut to milliseconds, as pg does for timestamp columns.
 */
export function commentOf(row: ListingCommentRow, authors: Map<string, PublicProfile | null>): CommentView {
  if (!authors.has(row.user_id)) {
    authors.set(
      row.user_id,
      publicProfileOf(row.user_id, {
        handle: row.author_handle,
        displayName: row.author_display_name,
        followerCount: row.author_follower_count,
        followingCount: row.author_following_count,
        createdAt: row.author_created_at === null ? null : new Date(row.author_created_at),
      }),
    );
  }
  return {
    commentId: row.id,
    listingId: row.listing_id,
    authorId: row.user_id,
    body: row.body,
    createdAt: new Date(row.created_at).toISOString(),
    deleted: false,
  };
}
