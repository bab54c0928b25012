import DataLoader from 'dataloader';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { PublicProfile } from '../generated/prisma/client.js';

/** Per-request DataLoaders: one query per batch of keys, never one per parent row. */
export interface Loaders {
  /** Public projection of any user's profile (bypasses no RLS: it reads the public_profiles view). */
  publicProfile: DataLoader<string, PublicProfile | null>;
}

const MAX_BATCH = 500;

export function createLoaders(prisma: PrismaClient): Loaders {
  return {
    publicProfile: new DataLoader<string, PublicProfile | null>(
      async (ids) => {
        const rows = await prisma.publicProfile.findMany({ where: { userId: { in: [...ids] } } });
        const byId = new Map(rows.map((row) => [row.userId, row]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: MAX_BATCH },
    ),
  };
}
