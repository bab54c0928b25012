import type { CatalogPlan } from './generateCatalog.js';
import { createRng } from './createRng.js';
import type { Rng } from './createRng.js';
import { EMBEDDING_DIM, normaliseInPlace, randomUnitVector } from './unitVectors.js';

/**
 * The hidden tastes engagement is drawn from (issue #16): a small latent space, separate from the
 * 384-d embeddings the feed scores with, so an evaluation on seeded data is not circular.
 *
 * - Every category and every interest has a direction of its own; a listing's taste mixes its
 *   category's direction (CATEGORY_WEIGHT), its interest's (INTEREST_WEIGHT) and an item-specific part
 *   (ITEM_WEIGHT, about as strong as the other two together): there is taste beyond categories.
 * - A listing's 384-d embedding stays its interest's embedding plus jitter, and gets only a partial
 *   projection of its item-specific taste (EMBEDDING_TASTE_STRENGTH), so content similarity correlates
 *   with taste imperfectly, as real content embeddings do.
 */
export const TASTE_DIM = 16;
const CATEGORY_WEIGHT = 1;
const INTEREST_WEIGHT = 0.8;
const ITEM_WEIGHT = 1.1;
/**
 * Length of the projected item taste added to the (unit) jittered interest embedding before it is
 * re-normalised: at 0.5 it is ~20 % of the embedding's energy, and two listings of one interest with
 * opposite item tastes end up ~0.25 cosine further apart than two with the same.
 */
export const EMBEDDING_TASTE_STRENGTH = 0.5;
const GAUSSIAN_SCALE = 1 / Math.sqrt(TASTE_DIM);

export interface TastePlan {
  /** Unit directions per category and per interest (indexed like the catalog). */
  category: Float64Array[];
  interest: Float64Array[];
  /** Row-major listing × TASTE_DIM: each listing's unit taste vector. */
  listing: Float64Array;
  /** Row-major listing × TASTE_DIM: the item-specific part alone (expected length 1). */
  itemOwn: Float64Array;
  /** TASTE_DIM unit columns in the embedding space (near-orthogonal at 384 dimensions). */
  projection: Float64Array[];
}

/** TASTE_DIM gaussian components of expected total length `length`. */
export function gaussianTaste(rng: Rng, length = 1): Float64Array {
  const v = new Float64Array(TASTE_DIM);
  const scale = length * GAUSSIAN_SCALE;
  for (let i = 0; i < TASTE_DIM; i += 1) v[i] = rng.gaussian() * scale;
  return v;
}

/** `out += weight × v`. */
export function addScaled(out: Float64Array, v: ArrayLike<number>, weight: number, offset = 0): void {
  for (let i = 0; i < out.length; i += 1) out[i] = (out[i] ?? 0) + weight * (v[offset + i] ?? 0);
}

/** Dot product of a unit taste with listing `listing`'s taste row. */
export function tasteCosine(taste: TastePlan, listing: number, v: Float64Array): number {
  const base = listing * TASTE_DIM;
  let dot = 0;
  for (let i = 0; i < TASTE_DIM; i += 1) dot += (v[i] ?? 0) * (taste.listing[base + i] ?? 0);
  return dot;
}

/** What declaring an interest says about a taste: its category's and its own direction. */
export function addInterestTaste(
  out: Float64Array,
  taste: Pick<TastePlan, 'category' | 'interest'>,
  catalog: CatalogPlan,
  interestIndex: number,
  weight: number,
): void {
  const interest = catalog.interests[interestIndex];
  const category = taste.category[interest?.categoryIndex ?? 0];
  const own = taste.interest[interestIndex];
  if (category === undefined || own === undefined) throw new Error('interest index out of range');
  addScaled(out, category, weight * CATEGORY_WEIGHT);
  addScaled(out, own, weight * INTEREST_WEIGHT);
}

function unitTaste(rng: Rng): Float64Array {
  return normaliseInPlace(gaussianTaste(rng));
}

export function generateTastes(
  catalog: CatalogPlan,
  listings: { count: number; interestIndex: Int32Array },
  seed: number,
): TastePlan {
  const rng = createRng(seed, 'tastes');
  const category = catalog.categories.map(() => unitTaste(rng));
  const interest = catalog.interests.map(() => unitTaste(rng));
  const projection = Array.from({ length: TASTE_DIM }, () => randomUnitVector(rng));
  const listing = new Float64Array(listings.count * TASTE_DIM);
  const itemOwn = new Float64Array(listings.count * TASTE_DIM);
  const row = new Float64Array(TASTE_DIM);
  for (let j = 0; j < listings.count; j += 1) {
    const own = gaussianTaste(rng);
    itemOwn.set(own, j * TASTE_DIM);
    row.fill(0);
    addInterestTaste(row, { category, interest }, catalog, listings.interestIndex[j] ?? 0, 1);
    addScaled(row, own, ITEM_WEIGHT);
    listing.set(normaliseInPlace(row), j * TASTE_DIM);
  }
  return { category, interest, listing, itemOwn, projection };
}

/** Adds EMBEDDING_TASTE_STRENGTH × (the listing's projected item taste) to a unit embedding; re-normalises. */
export function blendItemTaste(embedding: Float64Array, taste: TastePlan, listing: number): Float64Array {
  if (embedding.length !== EMBEDDING_DIM) throw new Error('embedding has the wrong width');
  const base = listing * TASTE_DIM;
  for (let k = 0; k < TASTE_DIM; k += 1) {
    const column = taste.projection[k];
    if (column === undefined) throw new Error('projection is missing a column');
    addScaled(embedding, column, EMBEDDING_TASTE_STRENGTH * (taste.itemOwn[base + k] ?? 0));
  }
  return normaliseInPlace(embedding);
}

const LN2 = 0.6931471805599453;
const EXP_LIMIT = 700;
// 2^n for |n| ≤ 1010, built by exact doubling/halving.
const POW2_OFFSET = 1010;
const POW2 = (() => {
  const table = new Float64Array(2 * POW2_OFFSET + 1);
  table[POW2_OFFSET] = 1;
  for (let n = 1; n <= POW2_OFFSET; n += 1) {
    table[POW2_OFFSET + n] = (table[POW2_OFFSET + n - 1] ?? 0) * 2;
    table[POW2_OFFSET - n] = (table[POW2_OFFSET - n + 1] ?? 0) / 2;
  }
  return table;
})();

/**
 * e^x from + − × ÷ only (range reduction by ln 2, then a Taylor series to |r|^14/14!, below 1e-16 for
 * |r| ≤ ln2/2), so softmax weights are bit-identical on every engine: the spec leaves Math.exp's last
 * bits to the implementation. Underflows to 0 below -700.
 */
export function portableExp(x: number): number {
  if (x < -EXP_LIMIT) return 0;
  if (!(x <= EXP_LIMIT)) throw new Error(`portableExp: argument out of range: ${x}`);
  const n = Math.round(x / LN2);
  const r = x - n * LN2;
  let term = 1;
  let sum = 1;
  for (let k = 1; k <= 14; k += 1) {
    term = (term * r) / k;
    sum += term;
  }
  return sum * (POW2[POW2_OFFSET + n] ?? 0);
}
