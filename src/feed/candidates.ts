import { SERVICE_CONNECTION_TIMEOUT_MS, type ServiceDb } from '../db/service.js';
import { setBounded } from '../platform/boundedMap.js';
import { numberArrayLiteral } from '../platform/pgArrays.js';
import { FeatureTable, featureIndex } from './ranking.js';
import { feedCachedCandidatesSql, feedCandidatesSql } from './sql.js';
import type { KeptCheck } from './impressions.js';

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

/** What the feed knows of a candidate's listing before serving it (its columns come with the page). */
export interface CandidateListing {
  id: number;
  categoryId: number;
}

export interface Candidate {
  pool: Pool;
  score: number;
  listing: CandidateListing;
}

export interface CandidateSet {
  hasEmbedding: boolean;
  /**
   * How many likes the candidates' `categoryShare` feature counts (the viewer's latest, at most 100): how
   * much a share says (src/feed/categoryCaps.ts).
   */
  recentLikes: number;
  pools: Record<Pool, Candidate[]>;
  /** The ranking features of every candidate listing, by listing id. */
  features: FeatureTable;
}

export interface CandidateRow {
  pool: Pool;
  score: number;
  has_embedding: boolean | null;
  id: number;
  category_id: number;
  popularity: number;
  /** The listing's created_at in epoch milliseconds (no Date to parse per row). */
  created_ms: number;
  similarity: number;
  coengagement: number;
  category_affinity: number;
  category_share: number;
  /** How many of the viewer's latest likes (at most 100) category_share counts; 0 where it is 0. */
  recent_likes: number;
  from_similar: boolean;
  from_interests: boolean;
  /** Among the viewer's best co-engaged listings (twice the COENGAGED pool), whichever pool it came in. */
  from_coengaged: boolean;
  /** Candidates in the viewer's cache when it is usable, else 0 (see feedCandidatesSql). */
  cache_size: number;
  /**
   * Eligible candidates the viewer's next page finds in the cache at least (this page takes at most a page
   * of them); fewer than that page's SIMILAR pool and the process sends it to the full statement, which
   * refills the cache.
   */
  cache_left: number;
  /** Seconds since that cache was computed (0 when this statement stored it): it expires at TTL − age. */
  cache_age: number;
}

const DAY_MS = 86_400_000;
/** Recency decays with a 30-day time constant (ranking.ts: exp(−age in days / 30)). */
const RECENCY_DAYS = 30;

/** The pools a listing is in, as bits (POOL_BIT). */
const POOL_BIT = Object.fromEntries(POOLS.map((pool, i) => [pool, 1 << i])) as Record<Pool, number>;

/**
 * One listing's features from its first row and the pools its rows are in (`pools`, POOL_BIT bits), written
 * into `out` from `offset` (FeatureTable.build).
 */
function writeFeatures(
  row: CandidateRow,
  pools: number,
  nowMs: number,
  out: Float64Array,
  offset: number,
): void {
  const ageDays = Math.max(0, (nowMs - row.created_ms) / DAY_MS);
  const f = featureIndex;
  out[offset + f.similarity] = row.similarity;
  out[offset + f.coengagement] = Math.log1p(Math.max(0, row.coengagement));
  out[offset + f.popularity] = Math.log1p(Math.max(0, row.popularity));
  out[offset + f.recency] = Math.exp(-ageDays / RECENCY_DAYS);
  out[offset + f.categoryAffinity] = row.category_affinity;
  out[offset + f.categoryShare] = row.category_share;
  out[offset + f.fromSimilar] = row.from_similar ? 1 : 0;
  out[offset + f.fromInterests] = row.from_interests ? 1 : 0;
  // Not "in a COENGAGED row": a read returns a look-ahead after the pool, as long as the budget of kept
  // candidates, so that would depend on whether the process keeps them and on what was served since.
  out[offset + f.fromCoengagement] = row.from_coengaged ? 1 : 0;
  out[offset + f.fromCategoryPopular] = pools & POOL_BIT.CATEGORY ? 1 : 0;
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
  /** The EXPLORE pool's listings to check, in order (src/feed/explorationSample.ts); [] = no EXPLORE pool. */
  exploreIds: readonly number[];
  /** Most GLOBAL candidates of one category, so the global fill can respect the page's category cap. */
  categoryCap: number;
  /** Seconds the viewer's cached personal candidates stay usable (0 = search every time). */
  candidateCacheSec: number;
  /**
   * The page size: the cache is refilled one page early, while it still holds this many eligible
   * candidates beyond the SIMILAR pool, so a page is one candidate statement, not a short read and then
   * the search. @default 0
   */
  lookahead?: number;
}

/**
 * Personal candidates kept per viewer (feed_viewer_candidates): enough for the SIMILAR pool of the
 * largest page (4 × 50) with room for the exclusions of a session's later pages. A viewer's pages search
 * again when fewer than a SIMILAR pool and a look-ahead are left eligible, and a search costs about three
 * cached reads: with 300, a viewer scrolling `first: 20` searched every ~19 pages; with 600 the cache
 * mostly lasts its FEED_CANDIDATE_CACHE_SEC (bench:compare at c=16: +13–14 % req/s). The deeper
 * candidates are what a search after the first 300 were served would return, bar listings new since.
 */
export const VIEWER_CANDIDATES = 600;

/** feedCandidatesSql's parameters for a query, in order ($1 … $12; see src/feed/sql.ts). */
export function candidateParams(query: CandidateQuery): unknown[] {
  return [
    query.userId,
    query.categoryId,
    query.similarLimit,
    query.poolLimit,
    `${query.servedWindowMinutes} minutes`,
    query.session,
    // A literal built in one pass (src/platform/pgArrays.ts), not element by element by pg.
    numberArrayLiteral(query.exploreIds),
    query.categoryCap,
    query.coengagementLimit,
    query.candidateCacheSec,
    VIEWER_CANDIDATES,
    query.lookahead ?? 0,
  ];
}

/**
 * The viewers whose cached personal candidates this process last found usable, how many eligible
 * candidates their next page will find in the cache at least, and until when the cache is usable (its
 * FEED_CANDIDATE_CACHE_SEC counted from when it was computed): their pages are read with
 * feedCachedCandidatesSql when that fills the page's SIMILAR pool. Bounded: past `max` viewers the longest
 * unseen is forgotten (it only costs that viewer the full statement once).
 */
export class KnownCandidateCaches {
  private readonly known = new Map<string, { untilMs: number; left: number }>();

  constructor(private readonly max = 20_000) {}

  /** Whether the viewer's cache can fill a SIMILAR pool of `needed` (as far as this process knows). */
  usable(userId: string, needed: number, nowMs: number): boolean {
    const cache = this.known.get(userId);
    return cache !== undefined && cache.untilMs > nowMs && cache.left >= needed;
  }

  /** What a candidate statement said: `left` eligible for the next page (0 forgets the viewer). */
  remember(userId: string, left: number, untilMs: number): void {
    if (left <= 0) this.known.delete(userId);
    else setBounded(this.known, userId, { untilMs, left }, this.max);
  }
}

/**
 * The candidate rows of one page, in one statement on the service path — two on the rare page that finds
 * a cache it knew short or stale. A signed-in viewer without a category filter whose cache this process
 * knows to be usable is read with feedCachedCandidatesSql (no search, a generic plan); anyone else, or a
 * cache that turned out short, with feedCandidatesSql, which searches and stores when it must. What the
 * latter says about the cache afterwards is remembered for the viewer's next page.
 *
 * `service` is the primary's service path or, with read replicas, both it and a replica's: the cached
 * read (most pages) goes to `reads`; feedCandidatesSql stores the viewer's cache as it searches, so it
 * always runs on the primary.
 */
export async function fetchCandidateRows(
  service: CandidateServices,
  query: CandidateQuery,
  known: KnownCandidateCaches | null,
  nowMs: number = Date.now(),
): Promise<CandidateRow[]> {
  const { primary, reads } = 'primary' in service ? service : { primary: service, reads: service };
  const params = candidateParams(query);
  const viewer = query.userId;
  const caching =
    known !== null &&
    viewer !== null &&
    query.categoryId === null &&
    query.candidateCacheSec > 0 &&
    query.similarLimit > 0;
  // The cache expires candidateCacheSec after it was computed, which may be well before this page.
  const untilOf = (row: CandidateRow | undefined) =>
    nowMs + (query.candidateCacheSec - Math.max(0, row?.cache_age ?? 0)) * 1000;
  if (caching && known.usable(viewer, query.similarLimit, nowMs)) {
    const rows = await reads.queryGeneric<CandidateRow>(
      feedCachedCandidatesSql,
      params,
      'feed_cached_candidates',
    );
    const first = rows[0];
    if (first !== undefined && first.cache_size > 0) {
      // This page was served from the cache; the next one refills it when it would run short.
      known.remember(viewer, first.cache_left, untilOf(first));
      return rows;
    }
    known.remember(viewer, 0, nowMs);
  }
  const rows = await primary.query<CandidateRow>(feedCandidatesSql, params, 'feed_candidates');
  const first = rows[0];
  if (caching) known.remember(viewer, first?.cache_left ?? 0, untilOf(first));
  return rows;
}

/** The primary's service path, or it and a read replica's (fetchCandidateRows). */
export type CandidateServices = ServiceDb | { primary: ServiceDb; reads: ServiceDb };

/**
 * Whether the viewer has a profile embedding, when the candidate statement (which says so on every row)
 * returned none: everything eligible was served to them, liked or hidden. Rare, so one more statement.
 */
async function viewerHasEmbedding(service: CandidateServices, userId: string | null): Promise<boolean> {
  if (userId === null) return false;
  // The primary, where the candidate statement that found nothing ran (a replica may lag a new profile).
  const db = 'primary' in service ? service.primary : service;
  const rows = await db.query<{ has: boolean }>(
    'SELECT embedding IS NOT NULL AS has FROM profiles WHERE user_id = $1::uuid',
    [userId],
    'feed_viewer_has_embedding',
  );
  return rows[0]?.has === true;
}

/** Every pool a feed page can draw from, with the features to rank it (fetchCandidateRows). */
export async function fetchCandidates(
  service: CandidateServices,
  query: CandidateQuery,
  known: KnownCandidateCaches | null = null,
  nowMs: number = Date.now(),
): Promise<CandidateSet> {
  const rows = await fetchCandidateRows(service, query, known, nowMs);
  const pools = Object.fromEntries(POOLS.map((pool) => [pool, [] as Candidate[]])) as Record<
    Pool,
    Candidate[]
  >;
  // A listing's first row (its features are the same in every pool's row) and the pools it is in.
  const rowOf = new Map<number, { row: CandidateRow; pools: number }>();
  for (const row of rows) {
    const seen = rowOf.get(row.id);
    if (seen === undefined) rowOf.set(row.id, { row, pools: POOL_BIT[row.pool] });
    else seen.pools |= POOL_BIT[row.pool];
    pools[row.pool].push({
      pool: row.pool,
      score: row.score,
      listing: { id: row.id, categoryId: row.category_id },
    });
  }
  const features = FeatureTable.build(rowOf.keys(), (id, out, offset) => {
    const { row, pools: inPools } = rowOf.get(id)!;
    writeFeatures(row, inPools, nowMs, out, offset);
  });
  // The statement's UNION keeps no order across pools: restore each pool's own ranking.
  const byScoreThenId = (a: Candidate, b: Candidate) => b.score - a.score || a.listing.id - b.listing.id;
  const byScoreThenNewest = (a: Candidate, b: Candidate) => b.score - a.score || b.listing.id - a.listing.id;
  pools.SIMILAR.sort(byScoreThenId);
  pools.COENGAGED.sort(byScoreThenId);
  pools.CATEGORY.sort(byScoreThenNewest);
  pools.POPULAR.sort(byScoreThenNewest);
  pools.RECENT.sort(byScoreThenNewest);
  pools.GLOBAL.sort(byScoreThenNewest);
  const exploreOrder = new Map(query.exploreIds.map((id, i) => [id, i]));
  pools.EXPLORE.sort((a, b) => (exploreOrder.get(a.listing.id) ?? 0) - (exploreOrder.get(b.listing.id) ?? 0));
  return {
    hasEmbedding:
      rows.length > 0
        ? rows.some((r) => r.has_embedding === true)
        : await viewerHasEmbedding(service, query.userId),
    recentLikes: rows.reduce((n, r) => Math.max(n, r.recent_likes), 0),
    pools,
    features,
  };
}

/**
 * How much further back than their age the check of kept candidates looks (keptCheckOf): another
 * process's impressions insert may have begun (its rows' created_at) up to a statement timeout before the
 * read took its snapshot and committed after it, so the read did not see them; the read itself may have
 * taken up to a statement timeout before the candidates were kept; and the check may wait for a pool
 * connection (SERVICE_CONNECTION_TIMEOUT_MS) before the database's clock starts it. Two seconds more for
 * the rest.
 */
export function keptLookBackMarginMs(statementTimeoutMs: number): number {
  return 2 * statementTimeoutMs + SERVICE_CONNECTION_TIMEOUT_MS + 2_000;
}

/**
 * The check of a viewer's kept candidates (src/feed/candidateMemory.ts) that logs a page ranked from them
 * (insertCheckedImpressionsSql): every candidate, checked as the candidate statement checks, in the one
 * statement whatever their number. What was served before the candidates were read, the read itself left
 * out, so only impressions of the last `sinceMs` (their age on this process's monotonic clock) plus
 * `marginMs` are looked at, never more than the served window: a duration applied to the database's
 * clock, so the two clocks need not agree.
 */
export function keptCheckOf(query: {
  set: CandidateSet;
  sinceMs: number;
  marginMs: number;
  servedWindowMinutes: number;
  session: string;
}): KeptCheck {
  const ids = new Set<number>();
  for (const pool of POOLS) for (const c of query.set.pools[pool]) ids.add(c.listing.id);
  const lookBackSec = Math.min(
    query.servedWindowMinutes * 60,
    Math.ceil((Math.max(0, query.sinceMs) + query.marginMs) / 1000),
  );
  return { ids: [...ids], lookBackSec, session: query.session };
}
