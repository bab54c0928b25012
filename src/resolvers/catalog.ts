import { z } from 'zod';
import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import type { Prisma } from '../generated/prisma/client.js';
import { pageRequest, toConnection, type ConnectionArgs } from './pagination.js';
import { categoryIdOfSlug } from '../validation/categorySlug.js';
import { parseListingId } from '../validation/ids.js';
import { readListingById, readListingsPage } from '../catalog/listingsPage.js';
import { readCategories } from '../catalog/categories.js';
import { primeLoaders } from '../loaders/createLoaders.js';

type Query<T> = Omit<T, 'where' | 'orderBy' | 'take' | 'cursor' | 'skip'>;

const MAX_INT4 = 2_147_483_647;
export type ListingStatus = 'active' | 'sold' | 'inactive' | 'removed';

/** Listing ids are positive 32-bit integers; anything else is a client mistake, not "not found". */
export { parseListingId };

/** Every category by name: one plain statement (a public table, no identity, no Prisma). */
export function categories(ctx: Context) {
  return readCategories(ctx.db.pool);
}

const categoryIdBySlug = (ctx: Context, slug: string): Promise<number> =>
  categoryIdOfSlug(slug, (s) => ctx.prisma.category.findUnique({ where: { slug: s }, select: { id: true } }));

/** One listing with its category and seller in one statement, which prime the request's loaders. */
export async function listing(ctx: Context, id: string) {
  const page = await readListingById(ctx.db.pool, ctx.viewer, parseListingId(id));
  primeLoaders(ctx.loaders, page);
  return page.listings[0] ?? null;
}

const listingKey = z.tuple([z.number().int().positive().max(MAX_INT4)]);

/**
 * Newest first, keyset-paged on id so pages never skip or repeat rows as listings are added. One
 * statement reads the page with its categories and sellers, which prime the request's loaders.
 */
export async function listings(
  ctx: Context,
  args: ConnectionArgs & { category?: string | null; status?: ListingStatus | null },
) {
  const request = pageRequest(args, listingKey);
  const page = await readListingsPage(ctx.db.pool, ctx.viewer, {
    status: args.status ?? 'active',
    categoryId: args.category == null ? null : await categoryIdBySlug(ctx, args.category),
    direction: request.direction,
    cursorId: request.cursor ? request.cursor[0] : null,
    take: request.size + 1,
  });
  primeLoaders(ctx.loaders, page);
  return toConnection(request, page.listings, (row) => [row.id] as const);
}

const interestKey = z.tuple([z.number().finite(), z.number().int().positive().max(MAX_INT4)]);

/** Most popular first (ties by id); `search` matches anywhere in the name, case-insensitively. */
export async function interests(
  ctx: Context,
  args: ConnectionArgs & { search?: string | null },
  query: Query<Prisma.InterestFindManyArgs>,
) {
  const request = pageRequest(args, interestKey);
  const search = args.search?.trim();
  if (search !== undefined && (search.length < 1 || search.length > 100)) {
    throw createBadUserInputError('search must be 1 to 100 characters', 'search');
  }
  // LIKE wildcards in the search text are matched literally.
  const pattern = search?.replace(/[\\%_]/g, '\\$&');
  const where: Prisma.InterestWhereInput = pattern
    ? { name: { contains: pattern, mode: 'insensitive' } }
    : {};
  const forward = request.direction === 'forward';
  if (request.cursor) {
    const [popularity, id] = request.cursor;
    where.OR = forward
      ? [{ popularity: { lt: popularity } }, { popularity, id: { gt: id } }]
      : [{ popularity: { gt: popularity } }, { popularity, id: { lt: id } }];
  }
  const rows = await ctx.prisma.interest.findMany({
    ...query,
    where,
    orderBy: forward ? [{ popularity: 'desc' }, { id: 'asc' }] : [{ popularity: 'asc' }, { id: 'desc' }],
    take: request.size + 1,
  });
  return toConnection(request, rows, (row) => [row.popularity, row.id] as const);
}
