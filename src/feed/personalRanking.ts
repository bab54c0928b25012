import type { Candidate, CandidateSet } from './candidates.js';

import type { RankerChoice } from './rankerModel.js';

export interface ExploitItem {
  id: number;
  categoryId: number;
  score: number;
}

/**
 * The exploit arm's ranking. With a model: every personal candidate (SIMILAR, COENGAGED, CATEGORY) and
 * the globally popular ones, by the model's score (a popular listing near the viewer's taste belongs in
 * their feed). With the ranker off: the similarity order, with co-engaged listings interleaved.
 */
export function personalRanking(
  set: CandidateSet,
  ranker: Pick<RankerChoice, 'name' | 'weights'>,
): ExploitItem[] {
  const item = (c: Candidate, score: number): ExploitItem => ({
    id: c.listing.id,
    categoryId: c.listing.categoryId,
    score,
  });
  if (ranker.name === 'off') {
    const out: ExploitItem[] = [];
    const seen = new Set<number>();
    const { SIMILAR: similar, COENGAGED: coengaged } = set.pools;
    for (let i = 0; i < Math.max(similar.length, coengaged.length); i += 1) {
      for (const c of [similar[i], coengaged[i]]) {
        if (c && !seen.has(c.listing.id)) {
          seen.add(c.listing.id);
          out.push(item(c, c.score));
        }
      }
    }
    return out;
  }
  // Each listing once (its first pool's candidate), scored from the feature table without an object per
  // listing; best first, ties by id, as rankCandidates orders them (the same scores: FeatureTable.score).
  const unique: Candidate[] = [];
  const seen = new Set<number>();
  for (const pool of ['SIMILAR', 'COENGAGED', 'CATEGORY', 'POPULAR'] as const) {
    for (const c of set.pools[pool]) {
      const id = c.listing.id;
      if (seen.has(id) || !set.features.has(id)) continue;
      seen.add(id);
      unique.push(c);
    }
  }
  const scores = new Float64Array(unique.length);
  for (let i = 0; i < unique.length; i += 1)
    scores[i] = set.features.score(ranker.weights, unique[i]!.listing.id);
  const order = Array.from(unique.keys()).sort(
    (a, b) => scores[b]! - scores[a]! || unique[a]!.listing.id - unique[b]!.listing.id,
  );
  return order.map((i) => item(unique[i]!, scores[i]!));
}
