import DataLoader from 'dataloader';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Category, PublicProfile } from '../generated/prisma/client.js';

/** Per-request DataLoaders: one query per batch of keys, never one per parent row. */
export interface Loaders {
  /** Public projection of any user's profile (bypasses no RLS: it reads the public_profiles view). */
  publicProfile: DataLoader<string, PublicProfile | null>;
  categoryBySlug: DataLoader<string, Category | null>;
  categoryById: DataLoader<number, Category | null>;
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
    categoryById: new DataLoader<number, Category | null>(
      async (ids) => {
        const rows = await prisma.category.findMany({ where: { id: { in: [...ids] } } });
        const byId = new Map(rows.map((row) => [row.id, row]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: MAX_BATCH },
    ),
    categoryBySlug: new DataLoader<string, Category | null>(
      async (slugs) => {
        const rows = await prisma.category.findMany({ where: { slug: { in: [...slugs] } } });
        const bySlug = new Map(rows.map((row) => [row.slug, row]));
        return slugs.map((slug) => bySlug.get(slug) ?? null);
      },
      { maxBatchSize: MAX_BATCH },
    ),
  };
}
