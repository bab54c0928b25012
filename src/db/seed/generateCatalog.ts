import { CATEGORY_CATALOG, type CategoryTemplate } from './categoryCatalog.js';
import { createRng } from './createRng.js';
import { jitterUnitVector, randomUnitVector } from './unitVectors.js';
import { createWeightedSampler, powerLawWeight, ranksOf, shuffledIndexes } from './weightedSampler.js';
import type { WeightedSampler } from './weightedSampler.js';
import { INTEREST_MODIFIERS } from './wordLists.js';

export interface CategoryPlan {
  /** Database id (1-based, equal to position + 1). */
  id: number;
  slug: string;
  name: string;
  template: CategoryTemplate;
  /** How many listings and home-category users it attracts, relative to the others. */
  weight: number;
  /** Indexes into CatalogPlan.interests. */
  interestIndexes: number[];
}

export interface InterestPlan {
  id: number;
  slug: string;
  name: string;
  categoryIndex: number;
  embedding: Float64Array;
  popularity: number;
}

export interface CatalogPlan {
  categories: CategoryPlan[];
  interests: InterestPlan[];
  /** Draws an interest index weighted by popularity. */
  interestSampler: WeightedSampler;
  /** Draws a category index weighted by CategoryPlan.weight. */
  categorySampler: WeightedSampler;
}

// Noise length around the category centroid: same-category interests end up ~0.7 cosine apart,
// interests of different categories ~0 — tight clusters a similarity search can find.
const INTEREST_SPREAD = 0.6;

export function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function claimUnique(base: string, taken: Set<string>): string {
  let candidate = base;
  for (let n = 2; taken.has(candidate); n += 1) candidate = `${base}-${n}`;
  taken.add(candidate);
  return candidate;
}

function interestName(template: CategoryTemplate, ordinal: number): string {
  const topics = template.topics;
  const topic = topics[ordinal % topics.length] ?? template.name;
  const round = Math.floor(ordinal / topics.length);
  if (round === 0) return topic;
  const modifier = INTEREST_MODIFIERS[(round - 1) % INTEREST_MODIFIERS.length] ?? '';
  const lap = Math.floor((round - 1) / INTEREST_MODIFIERS.length);
  return lap === 0 ? `${modifier} ${topic}` : `${modifier} ${topic} ${lap + 1}`;
}

export function generateCatalog(categoryCount: number, interestCount: number, seed: number): CatalogPlan {
  const categories: CategoryPlan[] = [];
  for (let i = 0; i < categoryCount; i += 1) {
    const template = CATEGORY_CATALOG[i % CATEGORY_CATALOG.length];
    if (template === undefined) throw new Error('category catalog is empty');
    const lap = Math.floor(i / CATEGORY_CATALOG.length);
    categories.push({
      id: i + 1,
      slug: lap === 0 ? template.slug : `${template.slug}-${lap + 1}`,
      name: lap === 0 ? template.name : `${template.name} ${lap + 1}`,
      template,
      // Earlier (more mainstream) categories are busier, but not overwhelmingly so.
      weight: powerLawWeight(i, 4),
      interestIndexes: [],
    });
  }

  const vectorRng = createRng(seed, 'interest-embeddings');
  const centroids = categories.map(() => randomUnitVector(vectorRng));
  const popularityRank = ranksOf(shuffledIndexes(interestCount, createRng(seed, 'interest-popularity')));
  const takenSlugs = new Set<string>();
  const interests: InterestPlan[] = [];
  for (let i = 0; i < interestCount; i += 1) {
    // Round-robin keeps categories within one interest of each other in size.
    const categoryIndex = i % categoryCount;
    const category = categories[categoryIndex];
    const centroid = centroids[categoryIndex];
    if (category === undefined || centroid === undefined) throw new Error('category index out of range');
    const name = interestName(category.template, Math.floor(i / categoryCount));
    const lap = Math.floor(categoryIndex / CATEGORY_CATALOG.length);
    const baseSlug = lap === 0 ? slugify(name) : `${slugify(name)}-${lap + 1}`;
    const rank = popularityRank[i] ?? 0;
    category.interestIndexes.push(i);
    interests.push({
      id: i + 1,
      slug: claimUnique(baseSlug.slice(0, 60), takenSlugs),
      name: lap === 0 ? name : `${name} ${lap + 1}`,
      categoryIndex,
      embedding: jitterUnitVector(centroid, INTEREST_SPREAD, vectorRng),
      popularity: Math.round(100_000 * powerLawWeight(rank, 3) * 4) / 1000,
    });
  }

  return {
    categories,
    interests,
    interestSampler: createWeightedSampler(interests.map((interest) => interest.popularity)),
    categorySampler: createWeightedSampler(categories.map((category) => category.weight)),
  };
}
