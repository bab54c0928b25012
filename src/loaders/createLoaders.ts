import DataLoader from 'dataloader';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Category, PublicProfile } from '../generated/prisma/client.js';
import {
  listingFeatureKind,
  userFeatureKind,
  type ListingFeatures,
  type UserFeatures,
} from '../features/featureKinds.js';
import type { FeatureStore } from '../features/featureStore.js';
import type { Database } from '../db/database.js';
import type { RlsViewer } from '../db/identity.js';
import {
  readListingComments,
  type CommentView,
  type ListingCommentsRequest,
} from '../social/listingComments.js';

/** Per-request DataLoaders: one query per batch of keys, never one per parent row. */
export interface Loaders {
  /** Public projection of any user's profile (bypasses no RLS: it reads the public_profiles view). */
  publicProfile: DataLoader<string, PublicProfile | null>;
  categoryBySlug: DataLoader<string, Category | null>;
  categoryById: DataLoader<number, Category | null>;
  /** Through the feature store: one Redis MGET per batch, one SQL statement for the misses. */
  userFeatures: DataLoader<string, UserFeatures | null>;
  listingFeatures: DataLoader<number, ListingFeatures | null>;
  /** A listing's latest comments: one statement for every listing (and `first`) of a level. */
  listingComments: DataLoader<ListingCommentsRequest, CommentView[], string>;
}

const MAX_BATCH = 500;

/** Pages hold at most 100 items; a batch of 200 covers a page plus its sellers in one round trip. */
const MAX_FEATURE_BATCH = 200;

/** Reads that run under the request's RLS identity with raw SQL need the pool and the viewer. */
export interface LoaderReads {
  pool: Database['pool'];
  viewer: RlsViewer;
  /** The request's read route's service path: feature misses are computed there. */
  service?: Database['service'];
}

export function createLoaders(prisma: PrismaClient, features: FeatureStore, reads: LoaderReads): Loaders {
  const loaders: Loaders = {
    userFeatures: new DataLoader<string, UserFeatures | null>(
      (ids) => features.load(userFeatureKind, ids, reads.service),
      {
        maxBatchSize: MAX_FEATURE_BATCH,
      },
    ),
    listingFeatures: new DataLoader<number, ListingFeatures | null>(
      (ids) => features.load(listingFeatureKind, ids, reads.service),
      { maxBatchSize: MAX_FEATURE_BATCH },
    ),
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
    listingComments: new DataLoader<ListingCommentsRequest, CommentView[], string>(
      async (requests) => {
        const read = await readListingComments(reads.pool, reads.viewer, requests);
        primeLoaders(loaders, { sellers: read.authors });
        return read.comments;
      },
      { maxBatchSize: MAX_BATCH, cacheKeyFn: (r) => `${r.listingId}:${r.take}` },
    ),
  };
  return loaders;
}

/**
 * Puts rows a statement already read into the request's loaders, so fields resolving through them
 * (`category`, `seller`) cost no statement of their own. Rows are from the same request, so no staler
 * than the ones the loaders would read; a key already loaded keeps its value (DataLoader.prime).
 */
export function primeLoaders(
  loaders: Pick<Loaders, 'categoryById' | 'publicProfile'>,
  /** `sellers`: any public profiles by user id (a page's sellers, comments' authors). */
  rows: { categories?: readonly Category[]; sellers?: ReadonlyMap<string, PublicProfile | null> },
): void {
  for (const category of rows.categories ?? []) loaders.categoryById.prime(category.id, category);
  for (const [userId, profile] of rows.sellers ?? []) loaders.publicProfile.prime(userId, profile);
}
