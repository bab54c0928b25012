import { z } from 'zod';
import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import { pageRequest, toConnection, type ConnectionArgs } from './pagination.js';
import { categoryIdOfSlug } from '../validation/categorySlug.js';
import { parseListingId } from '../validation/ids.js';
import { isPageSize } from '../validation/pageSize.js';
import type { GraphQLResolveInfo } from 'graphql';
import { readListingById, readListingsPage, readListingWithComments } from '../catalog/listingsPage.js';
import { DEFAULT_LISTING_COMMENTS, MAX_LISTING_COMMENTS } from '../social/listingComments.js';
import { childFieldArguments, readsDescriptions } from './lookahead.js';
import { readCategories } from '../catalog/categories.js';
import { readInterestsPage } from '../catalog/interestsPage.js';
import { primeLoaders } from '../loaders/createLoaders.js';

const MAX_INT4 = 2_147_483_647;
export type ListingStatus = 'active' | 'sold' | 'inactive' | 'removed';

/** Listing ids are positive 32-bit integers; anything else is a client mistake, not "not found". */
export { parseListingId };

/** Every category by name: one plain statement (a public table, no identity, no Prisma). */
export function categories(ctx: Context) {
  return readCategories(ctx.reads.pool);
}

const categoryIdBySlug = (ctx: Context, slug: string): Promise<number> =>
  categoryIdOfSlug(slug, (s) => ctx.prisma.category.findUnique({ where: { slug: s }, select: { id: true } }));

/**
 * One listing with its category and seller in one statement, which prime the request's loaders. When
 * the document asks for its comments with one valid page size (the usual listing page), the same
 * statement reads them too and primes `Listing.comments`' loader; otherwise that field reads them.
 */
export async function listing(ctx: Context, id: string, info?: GraphQLResolveInfo) {
  const listingId = parseListingId(id);
  const takes = new Set(
    (info ? childFieldArguments(info, 'comments') : []).map((args) => args.first ?? DEFAULT_LISTING_COMMENTS),
  );
  const [take] = takes;
  if (takes.size === 1 && typeof take === 'number' && isPageSize(take, MAX_LISTING_COMMENTS)) {
    const read = await readListingWithComments(ctx.reads.pool, ctx.viewer, listingId, take);
    primeLoaders(ctx.loaders, read);
    primeLoaders(ctx.loaders, { sellers: read.authors });
    const found = read.listings[0];
    if (found) ctx.loaders.listingComments.prime({ listingId, take }, read.comments);
    return found ?? null;
  }
  const page = await readListingById(ctx.reads.pool, ctx.viewer, listingId);
  primeLoaders(ctx.loaders, page);
  return page.listings[0] ?? null;
}

const listingKey = z.tuple([z.number().int().positive().max(MAX_INT4)]);

/**
 * Newest first, keyset-paged on id so pages never skip or repeat rows as listings are added. One
 * statement reads the page with its categories and sellers, which prime the request's loaders; without
 * the descriptions when the document asks for none (`info`: the connection field's resolve info).
 */
export async function listings(
  ctx: Context,
  args: ConnectionArgs & { category?: string | null; status?: ListingStatus | null },
  info?: GraphQLResolveInfo,
) {
  const request = pageRequest(args, listingKey);
  const page = await readListingsPage(ctx.reads.pool, ctx.viewer, {
    status: args.status ?? 'active',
    categoryId: args.category == null ? null : await categoryIdBySlug(ctx, args.category),
    direction: request.direction,
    cursorId: request.cursor ? request.cursor[0] : null,
    take: request.size + 1,
    description: readsDescriptions(info),
  });
  primeLoaders(ctx.loaders, page);
  return toConnection(request, page.listings, (row) => [row.id] as const);
}

const interestKey = z.tuple([z.number().finite(), z.number().int().positive().max(MAX_INT4)]);

/**
 * Most popular first (ties by id); `search` matches anywhere in the name, case-insensitively. One
 * statement reads the page with its categories, which prime the request's category loader.
 */
export async function interests(ctx: Context, args: ConnectionArgs & { search?: string | null }) {
  const request = pageRequest(args, interestKey);
  const search = args.search?.trim();
  if (search !== undefined && (search.length < 1 || search.length > 100)) {
    throw createBadUserInputError('search must be 1 to 100 characters', 'search');
  }
  const page = await readInterestsPage(ctx.reads.pool, {
    search: search ?? null,
    direction: request.direction,
    cursor: request.cursor,
    take: request.size + 1,
  });
  primeLoaders(ctx.loaders, page);
  return toConnection(request, page.interests, (row) => [row.popularity, row.id] as const);
}
