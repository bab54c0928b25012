import type { CatalogPlan } from './generateCatalog.js';
import type { UserPlan } from './generateUsers.js';
import { createRng } from './createRng.js';
import type { Rng } from './createRng.js';
import { blendItemTaste } from './tasteModel.js';
import type { TastePlan } from './tasteModel.js';
import { DAY_MS, instantBetween } from './timeSpans.js';
import { jitterUnitVector } from './unitVectors.js';
import { createWeightedSampler, powerLawWeight, ranksOf, shuffledIndexes } from './weightedSampler.js';
import type { WeightedSampler } from './weightedSampler.js';
import { CONDITION_PHRASES, CONDITIONS, LOGISTICS, SALE_REASONS, TITLE_SUFFIXES } from './wordLists.js';

/** A power-law sampler over some listings; `members` maps a draw to a listing (null: identity). */
export interface ListingGroup {
  members: Int32Array | null;
  sampler: WeightedSampler;
}

export interface ListingPlan {
  count: number;
  categoryIndex: Int32Array;
  interestIndex: Int32Array;
  sellerIndex: Int32Array;
  titles: string[];
  descriptions: string[];
  prices: string[];
  statuses: string[];
  createdAt: number[];
  updatedAt: number[];
  popularity: number[];
  /** Filled in by the engagement generators, then inserted as the exact denormalised counters. */
  likeCount: Int32Array;
  commentCount: Int32Array;
  /** Power-law over all listings, and per category (indexed like CatalogPlan.categories). */
  everywhere: ListingGroup;
  byCategory: ListingGroup[];
}

export const LISTING_WINDOW_DAYS = 90;
// Listing noise around its interest: cosine ~0.9 to the interest, well above other categories.
const LISTING_SPREAD = 0.5;
// Offset of the popularity power law: the top listing is ~10x the 100th, not 100x.
const POPULARITY_OFFSET = 10;

function statusFor(rng: Rng): string {
  const u = rng.next();
  return u < 0.86 ? 'active' : u < 0.95 ? 'sold' : u < 0.99 ? 'inactive' : 'removed';
}

function priceFor(range: readonly [number, number], rng: Rng): string {
  const [min, max] = range;
  const u = rng.next();
  // Cubing the draw piles most prices near the cheap end, as on any second-hand marketplace.
  const dollars = Math.max(1, Math.round(min + (max - min) * u * u * u));
  if (dollars < 50 && rng.chance(0.5)) return `${dollars - 1}.99`;
  if (dollars >= 200) return `${Math.round(dollars / 5) * 5}.00`;
  return `${dollars}.00`;
}

/** "27-inch 4K Monitor" → "27-inch 4K monitor": lower-cases capitalised words, keeps acronyms. */
export function casualCase(text: string): string {
  return text
    .split(' ')
    .map((word) => (/^[A-Z][a-z'-]*$/.test(word) ? word.toLowerCase() : word))
    .join(' ');
}

function groupOf(members: number[], weights: Float64Array): ListingGroup {
  return {
    members: Int32Array.from(members),
    sampler: createWeightedSampler(members.map((listing) => weights[listing] ?? 0)),
  };
}

export function generateListings(
  count: number,
  catalog: CatalogPlan,
  users: UserPlan,
  seed: number,
  asOfMs: number,
): ListingPlan {
  const rng = createRng(seed, 'listings');
  const rank = ranksOf(shuffledIndexes(count, createRng(seed, 'listing-popularity')));
  const weights = new Float64Array(count);
  const windowStart = asOfMs - LISTING_WINDOW_DAYS * DAY_MS;
  const plan: ListingPlan = {
    count,
    categoryIndex: new Int32Array(count),
    interestIndex: new Int32Array(count),
    sellerIndex: new Int32Array(count),
    titles: [],
    descriptions: [],
    prices: [],
    statuses: [],
    createdAt: [],
    updatedAt: [],
    popularity: [],
    likeCount: new Int32Array(count),
    commentCount: new Int32Array(count),
    everywhere: { members: null, sampler: createWeightedSampler([]) },
    byCategory: [],
  };
  const membersByCategory: number[][] = catalog.categories.map(() => []);

  for (let i = 0; i < count; i += 1) {
    const categoryIndex = catalog.categorySampler.sample(rng);
    const category = catalog.categories[categoryIndex];
    if (category === undefined) throw new Error('category index out of range');
    const interestIndex = rng.pick(category.interestIndexes);
    const interest = catalog.interests[interestIndex];
    if (interest === undefined) throw new Error('interest index out of range');
    const item = rng.pick(category.template.items);
    const status = statusFor(rng);
    // Power sellers list a lot; everyone else now and then.
    const seller = rng.chance(0.4) ? users.popularitySampler.sample(rng) : rng.int(0, users.count - 1);
    // Ids follow creation time, like rows inserted by a live app.
    const createdAt = instantBetween(windowStart, asOfMs, (i + rng.next()) / count);

    plan.categoryIndex[i] = categoryIndex;
    plan.interestIndex[i] = interestIndex;
    plan.sellerIndex[i] = seller;
    plan.titles.push(`${rng.pick(CONDITIONS)} ${item}${rng.pick(TITLE_SUFFIXES)}`);
    plan.descriptions.push(
      `Selling my ${casualCase(item)} - ${rng.pick(CONDITION_PHRASES)}. ${rng.pick(SALE_REASONS)} ` +
        `Great for anyone into ${casualCase(interest.name)}. ${rng.pick(LOGISTICS)}`,
    );
    plan.prices.push(priceFor(category.template.priceRange, rng));
    plan.statuses.push(status);
    plan.createdAt.push(createdAt);
    plan.updatedAt.push(status === 'active' ? createdAt : instantBetween(createdAt, asOfMs, rng.next()));
    const weight = powerLawWeight(rank[i] ?? 0, POPULARITY_OFFSET);
    weights[i] = weight;
    // 100 for the most popular listing, falling off as a power law; four decimals.
    plan.popularity.push(Math.round(1_000_000 * (POPULARITY_OFFSET + 1) * weight) / 10_000);
    membersByCategory[categoryIndex]?.push(i);
  }

  plan.everywhere = { members: null, sampler: createWeightedSampler(weights) };
  plan.byCategory = membersByCategory.map((members) => groupOf(members, weights));
  return plan;
}

/** A listing from `preferred` by popularity, or from all listings when that group is empty. */
export function sampleListing(listings: ListingPlan, preferred: ListingGroup | undefined, rng: Rng): number {
  const group = preferred !== undefined && preferred.sampler.size > 0 ? preferred : listings.everywhere;
  const position = group.sampler.sample(rng);
  return group.members === null ? position : (group.members[position] ?? 0);
}

/**
 * Listing embeddings are made on demand, batch by batch, so 100k × 384 floats never sit in
 * memory at once. They must be requested in listing order: the stream is sequential.
 */
export function createListingEmbedder(
  seed: number,
  catalog: CatalogPlan,
  listings: ListingPlan,
  taste: TastePlan,
) {
  const rng = createRng(seed, 'listing-embeddings');
  let expected = 0;
  return (listingIndex: number): Float64Array => {
    if (listingIndex !== expected) {
      throw new Error(
        `listing embeddings must be generated in order: wanted ${expected}, got ${listingIndex}`,
      );
    }
    expected += 1;
    const interest = catalog.interests[listings.interestIndex[listingIndex] ?? 0];
    if (interest === undefined) throw new Error('interest index out of range');
    // Content only partly reflects taste: see EMBEDDING_TASTE_STRENGTH.
    return blendItemTaste(jitterUnitVector(interest.embedding, LISTING_SPREAD, rng), taste, listingIndex);
  };
}
