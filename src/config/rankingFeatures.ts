/**
 * The feed ranker's features, in the order of a logged vector; changing the order or meaning needs a new
 * RANKING_FEATURES_VERSION. src/feed/ranking.ts serves them as RANKING_FEATURES; they live among the
 * leaves so the configuration can check FEED_RANKER_WEIGHTS against them.
 */
export const RANKING_FEATURE_NAMES = [
  /** cosine(viewer profile embedding, listing embedding); 0 without either */
  'similarity',
  /** log(1 + Σ co-engagement score of the listing with the viewer's recent likes) */
  'coengagement',
  /** log(1 + popularity) */
  'popularity',
  /** exp(−age in days / 30) */
  'recency',
  /** the viewer's highest declared interest affinity in the listing's category (0..1) */
  'categoryAffinity',
  /** share of the viewer's recent likes in the listing's category (0..1) */
  'categoryShare',
  /** 1 when the nearest-neighbour search on the profile found it */
  'fromSimilar',
  /** 1 when a declared interest's discovery candidates hold it */
  'fromInterests',
  /**
   * 1 when co-engagement with the viewer's likes found it: among their best co-engaged listings, twice the
   * COENGAGED pool, the listings whose `coengagement` is not 0
   */
  'fromCoengagement',
  /** 1 when it is popular within one of the viewer's categories */
  'fromCategoryPopular',
] as const;

/**
 * Version of the feature vector, beside the list it versions: logged with every vector, and a model
 * trained on another version is ignored. Reordering the list or changing a meaning bumps it.
 */
export const RANKING_FEATURES_VERSION = 1;

export type RankingFeatureName = (typeof RANKING_FEATURE_NAMES)[number];
