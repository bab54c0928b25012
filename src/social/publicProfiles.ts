import type pg from 'pg';
import type { PublicProfile } from '../generated/prisma/client.js';
import { namedStatement, statementConfig } from '../platform/pool.js';

/**
 * public profile by handle: what anyone may see of a person. public_profiles is a public projection
 * (the view's owner reads past RLS and it exposes only public columns), so no identity is set. $1 handle.
 */
const publicProfileByHandleSql = namedStatement(
  'public_profile_by_handle',
  `
SELECT user_id::text AS user_id, handle, display_name, follower_count, following_count, created_at
FROM public_profiles WHERE handle = $1`,
);

/** The public profile with this (normalised) handle, as Prisma returns a PublicProfile; null if none. */
export async function readPublicProfileByHandle(
  pool: pg.Pool,
  handle: string,
): Promise<PublicProfile | null> {
  const { rows } = await pool.query<{
    user_id: string;
    handle: string;
    display_name: string;
    follower_count: number;
    following_count: number;
    created_at: Date;
  }>(statementConfig(pool, publicProfileByHandleSql, [handle]));
  const row = rows[0];
  if (!row) return null;
  return publicProfileOf(row.user_id, {
    handle: row.handle,
    displayName: row.display_name,
    followerCount: row.follower_count,
    followingCount: row.following_count,
    createdAt: row.created_at,
  });
}

/** A public profile's columns as a statement returned them: all NULL when a LEFT JOIN found no profile. */
export interface PublicProfileColumns {
  handle: string | null;
  displayName: string | null;
  followerCount: number | null;
  followingCount: number | null;
  createdAt: Date | null;
}

/** The PublicProfile (as Prisma returns one) of a user from those columns; null when there was none. */
export function publicProfileOf(userId: string, columns: PublicProfileColumns): PublicProfile | null {
  const { handle, displayName, followerCount, followingCount, createdAt } = columns;
  if (
    handle === null ||
    displayName === null ||
    followerCount === null ||
    followingCount === null ||
    createdAt === null
  )
    return null;
  return { userId, handle, displayName, followerCount, followingCount, createdAt };
}
