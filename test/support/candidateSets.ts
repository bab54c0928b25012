import { POOLS, type Candidate, type CandidateSet, type Pool } from '../../src/feed/candidates.js';
import { FeatureTable, RANKING_FEATURES, type FeatureVector } from '../../src/feed/ranking.js';

/** Every ranking feature 0. */
export const zeroFeatures = Object.fromEntries(
  RANKING_FEATURES.map((f) => [f, 0]),
) as unknown as FeatureVector;

/** A candidate row for candidateSetOf: its pool and listing, with the features that are not 0. */
export interface CandidateRowSpec {
  pool: Pool;
  id: number;
  /** The listing's category (1 when left out). */
  categoryId?: number;
  /** The pool's score (1 when left out). */
  score?: number;
  features?: Partial<FeatureVector>;
}

/**
 * A CandidateSet of these rows, in their order within each pool, for a viewer with an embedding and
 * `recentLikes` likes. A listing in several rows has the features of all of them, later ones winning.
 */
export function candidateSetOf(rows: readonly CandidateRowSpec[], recentLikes = 0): CandidateSet {
  const pools = Object.fromEntries(POOLS.map((p) => [p, [] as Candidate[]])) as Record<Pool, Candidate[]>;
  const features = new Map<number, FeatureVector>();
  for (const r of rows) {
    pools[r.pool].push({
      pool: r.pool,
      score: r.score ?? 1,
      listing: { id: r.id, categoryId: r.categoryId ?? 1 },
    });
    features.set(r.id, { ...zeroFeatures, ...features.get(r.id), ...r.features });
  }
  return { hasEmbedding: true, recentLikes, pools, features: FeatureTable.of(features) };
}
