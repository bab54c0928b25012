import { builder } from '../builder.js';
import type { Context } from '../context.js';
import type { Category } from '../generated/prisma/client.js';
import * as catalog from '../resolvers/catalog.js';
import { joinedOf } from '../catalog/listingRows.js';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from '../validation/pageSize.js';
import { PublicProfileRef } from './profile.js';

export const ListingStatusEnum = builder.enumType('ListingStatus', {
  values: {
    ACTIVE: { value: 'active' },
    SOLD: { value: 'sold' },
    INACTIVE: { value: 'inactive' },
    REMOVED: { value: 'removed' },
  } as const,
});

export const CategoryRef = builder.prismaObject('Category', {
  description: 'A marketplace category.',
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
  }),
});

/** A category through the request's loader; its foreign key guarantees one, so none is a server error. */
async function categoryOf(ctx: Context, categoryId: number, owner: string): Promise<Category> {
  const category = await ctx.loaders.categoryById.load(categoryId);
  if (!category) throw new Error(`${owner} has no category ${categoryId}`);
  return category;
}

export const InterestRef = builder.prismaObject('Interest', {
  description: 'Something a person can be interested in; interests belong to a category.',
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    popularity: t.exposeFloat('popularity'),
    // Through the per-request loader, which the interests page primes from its own statement.
    category: t.field({
      type: CategoryRef,
      resolve: (interest, _args, ctx) => categoryOf(ctx, interest.categoryId, `interest ${interest.id}`),
    }),
  }),
});

export const ListingRef = builder.prismaObject('Listing', {
  description: 'An item for sale, the unit the feed recommends.',
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title'),
    description: t.exposeString('description'),
    price: t.field({ type: 'Decimal', resolve: (listing) => listing.price.toFixed(2) }),
    currency: t.exposeString('currency'),
    status: t.field({
      type: ListingStatusEnum,
      resolve: (listing) => listing.status as catalog.ListingStatus,
    }),
    likeCount: t.exposeInt('likeCount'),
    commentCount: t.exposeInt('commentCount'),
    popularity: t.exposeFloat('popularity'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    // What the listing's own statement read with it (listings pages, one listing), else through a
    // per-request loader (one query per page).
    category: t.field({
      type: CategoryRef,
      resolve: (listing, _args, ctx) =>
        joinedOf(listing)?.category ?? categoryOf(ctx, listing.categoryId, `listing ${listing.id}`),
    }),
    seller: t.field({
      type: PublicProfileRef,
      nullable: true,
      description: 'The seller’s public profile (null once the account is gone).',
      resolve: (listing, _args, ctx) => {
        const joined = joinedOf(listing)?.seller;
        if (joined !== undefined) return joined;
        return listing.sellerId ? ctx.loaders.publicProfile.load(listing.sellerId) : null;
      },
    }),
  }),
});

/** Cost of a page: its size, so one request cannot fan out without paying for it. */
const pageComplexity = (args: { first?: number | null; last?: number | null }) => ({
  field: 1,
  multiplier: Math.min(args.first ?? args.last ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
});

builder.queryFields((t) => ({
  categories: t.field({
    type: [CategoryRef],
    description: 'All categories, by name.',
    resolve: (_root, _args, ctx) => catalog.categories(ctx),
  }),
  // One statement with category and seller (src/catalog/listingsPage.ts), not a Prisma query.
  listing: t.field({
    type: ListingRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx, info) => catalog.listing(ctx, String(args.id), info),
  }),
  listings: t.connection(
    {
      type: ListingRef,
      description: `Listings, newest first (${DEFAULT_PAGE_SIZE} per page by default, at most ${MAX_PAGE_SIZE}).`,
      args: {
        category: t.arg.string({ description: 'Only this category (its slug).' }),
        status: t.arg({ type: ListingStatusEnum, description: 'Defaults to ACTIVE.' }),
      },
      complexity: pageComplexity,
      // One statement with categories and sellers (src/catalog/listingsPage.ts), not a Prisma query.
      resolve: (_root, args, ctx, info) => catalog.listings(ctx, args, info),
    },
    { name: 'ListingConnection' },
    { name: 'ListingEdge' },
  ),
  interests: t.connection(
    {
      type: InterestRef,
      description: 'Interests, most popular first; `search` filters by name.',
      args: { search: t.arg.string() },
      complexity: pageComplexity,
      // One statement with categories (src/catalog/interestsPage.ts), not a Prisma query.
      resolve: (_root, args, ctx) => catalog.interests(ctx, args),
    },
    { name: 'InterestConnection' },
    { name: 'InterestEdge' },
  ),
}));
