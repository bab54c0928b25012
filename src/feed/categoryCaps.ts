import type { CandidateSet } from './candidates.js';

/**
 * Most items of one category on a page of `first`: `share` of the page, rounded up, at least one. A share
 * is read from configuration or from a viewer's likes, so a product that lands a hair above a whole number
 * (0.7 × 10 = 7.000000000000001) counts as that number.
 */
export function categoryCapOf(share: number, first: number): number {
  return Math.max(1, Math.ceil(first * share - 1e-9));
}

/**
 * Likes a viewer needs among their latest before their shares of categories raise any cap: one or two
 * likes in one category say little about the rest of their taste, and would let it fill the page.
 */
export const OWN_SHARE_MIN_LIKES = 10;

/**
 * The categories a viewer's page may hold more of than the configured cap (`baseCap`): each category whose
 * share of the viewer's latest likes (the `categoryShare` ranking feature, the same for every listing of
 * the category) is above the configured share gets that share of the page instead, rounded up. A viewer
 * whose likes are 80 % one category may see 8 of it on a page of 10; every other category keeps the
 * configured cap, and so does everyone with fewer than OWN_SHARE_MIN_LIKES likes (anonymous viewers have
 * none). Measured with the offline evaluation (docs/recommendations.md, "The category cap"): a fixed cap
 * cost up to 0.004 of P@10 on data where people's likes keep to few categories, and no cap at all cost as
 * much where they do not.
 *
 * One pass over the candidates, one feature lookup per category.
 */
export function personalCategoryCaps(
  set: Pick<CandidateSet, 'pools' | 'features' | 'recentLikes'>,
  first: number,
  baseCap: number,
): Map<number, number> {
  const caps = new Map<number, number>();
  if (!(set.recentLikes >= OWN_SHARE_MIN_LIKES)) return caps;
  const seen = new Set<number>();
  for (const pool of Object.values(set.pools))
    for (const candidate of pool) {
      const { categoryId, id } = candidate.listing;
      if (seen.has(categoryId)) continue;
      seen.add(categoryId);
      const share = set.features.value(id, 'categoryShare');
      if (!(share > 0)) continue;
      const cap = categoryCapOf(Math.min(1, share), first);
      if (cap > baseCap) caps.set(categoryId, cap);
    }
  return caps;
}
