import type { Candidate, CandidateSet } from './candidates.js';
import { rankCandidates } from './ranking.js';

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
  const unique = new Map<number, Candidate>();
  for (const pool of ['SIMILAR', 'COENGAGED', 'CATEGORY', 'POPULAR'] as const) {
    for (const c of set.pools[pool]) if (!unique.has(c.listing.id)) unique.set(c.listing.id, c);
  }
  const ranked = rankCandidates(
    ranker.weights,
    [...unique.values()].flatMap((c) => {
      const features = set.features.get(c.listing.id);
      return features ? [{ id: c.listing.id, candidate: c, features }] : [];
    }),
  );
  return ranked.map((r) => item(r.candidate, r.rank));
}
