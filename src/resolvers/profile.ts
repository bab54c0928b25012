import type { Context } from '../context.js';
import type { Prisma } from '../generated/prisma/client.js';
import { readPublicProfileByHandle } from '../social/publicProfiles.js';

type Query<T> = Omit<T, 'where'>;

/** The signed-in viewer's own profile (RLS lets a user read only their own row). */
export async function me(ctx: Context, userId: string, query: Query<Prisma.ProfileFindUniqueArgs>) {
  return ctx.prisma.profile.findUnique({ ...query, where: { userId } });
}

/** Anyone's public profile by handle; handles are stored lower-case. */
export async function profileByHandle(ctx: Context, handle: string) {
  const normalised = handle.trim().toLowerCase();
  if (!/^[a-z0-9_]{3,30}$/.test(normalised)) return null;
  // A public projection: one plain statement, no identity, no Prisma.
  return readPublicProfileByHandle(ctx.reads.pool, normalised);
}
