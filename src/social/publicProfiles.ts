import type pg from 'pg';
import type { PublicProfile } from '../generated/prisma/client.js';

/**
 * public profile by handle: what anyone may see of a person. public_profiles is a public projection
 * (the view's owner reads past RLS and it exposes only public columns), so no identity is set. $1 handle.
 */
const publicProfileByHandleSql = `
SELECT user_id::text AS user_id, handle, display_name, follower_count, following_count, created_at
FROM public_profiles WHERE handle = $1`;

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
  }>(publicProfileByHandleSql, [handle]);
  const row = rows[0];
  if (!row) return null;
  return {
    userId: row.user_id,
    handle: row.handle,
    displayName: row.display_name,
    followerCount: row.follower_count,
    followingCount: row.following_count,
    createdAt: row.created_at,
  };
}
