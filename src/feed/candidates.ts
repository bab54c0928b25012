import type { Category, Listing } from '../generated/prisma/client.js';
import { categoriesOf, toListing, type ListingSqlRow } from '../catalog/listingRows.js';
import type { ServiceDb } from '../db/service.js';
import type { FeatureVector } from './ranking.js';
import { feedCandidatesSql } from './sql.js';

/**
 * Where a candidate came from. SIMILAR, COENGAGED and CATEGORY are the personal generators (ranked
 * together into the feed's exploit arm); POPULAR, RECENT and EXPLORE are the exploration pools; GLOBAL
 * fills a category-filtered page that runs dry.
 */
export type Pool = 'SIMILAR' | 'COENGAGED' | 'CATEGORY' | 'POPULAR' | 'RECENT' | 'EXPLORE' | 'GLOBAL';

export const POOLS: readonly Pool[] = [
  'SIMILAR',
  'COENGAGED',
  'CATEGORY',
  'POPULAR',
  'RECENT',
  'EXPLORE',
  'GLOBAL',
];

export interface Candidate {
  pool: Pool;
  score: number;
  listing: Listing;
}

export interface CandidateSet {
  hasEmbedding: boolean;
  pools: Record<Pool, Candidate[]>;
  /** The ranking features of every candidate listing, by listing id. */
  features: Map<number, FeatureVector>;
  /** The categories of the candidates, read in the same statement (for the request's category loader). */
  categories: Category[];
}

interface Row extends ListingSqlRow {
  pool: Pool;
  score: number;
  has_embedding: boolean | null;
  similarity: number;
  coengagement: number;
  category_affinity: number;
  category_share: number;
  from_similar: boolean;
  from_interests: boolean;
}

const DAY_MS = 86_400_000;
/** Recency decays with a 30-day time constant (ranking.ts: exp(−age in days / 30)). */
const RECENCY_DAYS = 30;

/** One listing's features from its rows (a listing in several pools has one row per pool). */
function featuresOf(row: Row, pools: ReadonlySet<Pool>, nowMs: number): FeatureVector {
  const ageDays = Math.max(0, (nowMs - row.created_at.getTime()) / DAY_MS);
  return {
    similarity: row.similarity,
    coengagement: Math.log1p(Math.max(0, row.coengagement)),
    popularity: Math.log1p(Math.max(0, row.popularity)),
    recency: Math.exp(-ageDays / RECENCY_DAYS),
    categoryAffinity: row.category_affinity,
    categoryShare: row.category_share,
    fromSimilar: row.from_similar ? 1 : 0,
    fromInterests: row.from_interests ? 1 : 0,
    fromCoengagement: pools.has('COENGAGED') ? 1 : 0,
    fromCategoryPopular: pools.has('CATEGORY') ? 1 : 0,
  };
}

export interface CandidateQuery {
  userId: string | null;
  categoryId: number | null;
  similarLimit: number;
  poolLimit: number;
  /** Candidates from co-engagement with the viewer's latest likes (0 = none). */
  coengagementLimit: number;
  servedWindowMinutes: number;
  session: string;
  seed: number;
  /** Most GLOBAL candidates of one category, so the global fill can respect the page's category cap. */
  categoryCap: number;
  /** Seconds the viewer's cached personal candidates stay usable (0 = search every time). */
  candidateCacheSec: number;
}

/**
 * Personal candidates kept per viewer (feed_viewer_candidates): enough for the SIMILAR pool of the
 * largest page (4 × 50) with room for the exclusions of a session's later pages.
 */
export const VIEWER_CANDIDATES = 300;

/** feedCandidatesSql's parameters for a query, in order ($1 … $11; see src/feed/sql.ts). */
export function candidateParams(query: CandidateQuery): unknown[] {
  return [
    query.userId,
    query.categoryId,
    query.similarLimit,
    query.poolLimit,
    `${query.servedWindowMinutes} minutes`,
    query.session,
    query.seed,
    query.categoryCap,
    query.coengagementLimit,
    query.candidateCacheSec,
    VIEWER_CANDIDATES,
  ];
}

/** One statement on the service path: every pool a feed page can draw from, with the features to rank it. */
export async function fetchCandidates(
  service: ServiceDb,
  query: CandidateQuery,
  nowMs: number = Date.now(),
): Promise<CandidateSet> {
  const rows = await service.query<Row>(feedCandidatesSql, candidateParams(query), 'feed_candidates');
  const pools = Object.fromEntries(POOLS.map((pool) => [pool, [] as Candidate[]])) as Record<
    Pool,
    Candidate[]
  >;
  const memberships = new Map<number, Set<Pool>>();
  for (const row of rows) {
    pools[row.pool].push({ pool: row.pool, score: row.score, listing: toListing(row) });
    const member = memberships.get(row.id) ?? new Set<Pool>();
    member.add(row.pool);
    memberships.set(row.id, member);
  }
  const features = new Map<number, FeatureVector>();
  for (const row of rows) {
    if (!features.has(row.id))
      features.set(row.id, featuresOf(row, memberships.get(row.id) ?? new Set(), nowMs));
  }
  // The statement's UNION keeps no order across pools: restore each pool's own ranking.
  const byScoreThenId = (a: Candidate, b: Candidate) => b.score - a.score || a.listing.id - b.listing.id;
  const byScoreThenNewest = (a: Candidate, b: Candidate) => b.score - a.score || b.listing.id - a.listing.id;
  pools.SIMILAR.sort(byScoreThenId);
  pools.COENGAGED.sort(byScoreThenId);
  pools.CATEGORY.sort(byScoreThenNewest);
  pools.POPULAR.sort(byScoreThenNewest);
  pools.RECENT.sort(byScoreThenNewest);
  pools.GLOBAL.sort(byScoreThenNewest);
  return {
    hasEmbedding: rows.some((r) => r.has_embedding === true),
    pools,
    features,
    categories: categoriesOf(rows),
  };
}
