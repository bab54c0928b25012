import { Prisma, type Listing } from '../generated/prisma/client.js';
import type { ServiceDb } from '../db/service.js';
import { feedCandidatesSql } from './sql.js';

export type Pool = 'SIMILAR' | 'POPULAR' | 'RECENT' | 'EXPLORE' | 'GLOBAL';

export interface Candidate {
  pool: Pool;
  score: number;
  listing: Listing;
}

export interface CandidateSet {
  hasEmbedding: boolean;
  pools: Record<Pool, Candidate[]>;
}

interface Row {
  pool: Pool;
  score: number;
  has_embedding: boolean | null;
  id: number;
  category_id: number;
  seller_id: string | null;
  title: string;
  description: string;
  price: string;
  currency: string;
  status: string;
  like_count: number;
  comment_count: number;
  popularity: number;
  created_at: Date;
  updated_at: Date;
  source: string | null;
  external_id: string | null;
}

/** Rows become the same Listing objects Prisma returns, so the Listing type resolves them as usual. */
function toListing(row: Row): Listing {
  return {
    id: row.id,
    categoryId: row.category_id,
    sellerId: row.seller_id,
    title: row.title,
    description: row.description,
    price: new Prisma.Decimal(row.price),
    currency: row.currency,
    status: row.status,
    likeCount: row.like_count,
    commentCount: row.comment_count,
    popularity: row.popularity,
    source: row.source,
    externalId: row.external_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface CandidateQuery {
  userId: string | null;
  categoryId: number | null;
  similarLimit: number;
  poolLimit: number;
  servedWindowMinutes: number;
  session: string;
  seed: number;
  /** Most GLOBAL candidates of one category, so the global fill can respect the page's category cap. */
  categoryCap: number;
}

/** One statement on the service path: every pool a feed page can draw from. */
export async function fetchCandidates(service: ServiceDb, query: CandidateQuery): Promise<CandidateSet> {
  const rows = await service.query<Row>(feedCandidatesSql, [
    query.userId,
    query.categoryId,
    query.similarLimit,
    query.poolLimit,
    `${query.servedWindowMinutes} minutes`,
    query.session,
    query.seed,
    query.categoryCap,
  ]);
  const pools: Record<Pool, Candidate[]> = { SIMILAR: [], POPULAR: [], RECENT: [], EXPLORE: [], GLOBAL: [] };
  for (const row of rows) pools[row.pool].push({ pool: row.pool, score: row.score, listing: toListing(row) });
  // The statement's UNION keeps no order across pools: restore each pool's own ranking.
  pools.SIMILAR.sort((a, b) => b.score - a.score || a.listing.id - b.listing.id);
  pools.POPULAR.sort((a, b) => b.score - a.score || b.listing.id - a.listing.id);
  pools.RECENT.sort((a, b) => b.score - a.score || b.listing.id - a.listing.id);
  pools.GLOBAL.sort((a, b) => b.score - a.score || b.listing.id - a.listing.id);
  return { hasEmbedding: rows.some((r) => r.has_embedding === true), pools };
}
