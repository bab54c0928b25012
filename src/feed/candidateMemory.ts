import { setBounded } from '../platform/boundedMap.js';
import { POOLS, VIEWER_CANDIDATES, type Candidate, type CandidateSet, type Pool } from './candidates.js';
import type { FeatureTable } from './ranking.js';
import { MAX_SERVED_BETWEEN_READS } from './sql.js';

/**
 * A CandidateSet packed into typed arrays: for pages of 20, a viewer's 300–600 candidates (the SIMILAR
 * pool of 80 and the COENGAGED pool of 50, each with its look-ahead of 160, the other pools of 20–60) as
 * 35–65 KB outside the V8 heap, most of it their ten features each, instead of ~1,200 small objects for
 * the garbage collector to walk. Listing i has id ids[i] and category categories[i]; a pool is indices
 * into them, with scores. The features stay in their FeatureTable (typed arrays already), shared by every
 * page ranked from them.
 */
interface Packed {
  hasEmbedding: boolean;
  recentLikes: number;
  ids: Int32Array;
  categories: Int32Array;
  features: FeatureTable;
  pools: Record<Pool, { at: Int32Array; scores: Float64Array }>;
}

function pack(set: CandidateSet): Packed {
  const index = new Map<number, number>();
  const categories: number[] = [];
  const indexOf = (listing: Candidate['listing']) => {
    let i = index.get(listing.id);
    if (i === undefined) {
      i = index.size;
      index.set(listing.id, i);
      categories.push(listing.categoryId);
    }
    return i;
  };
  const pools = {} as Packed['pools'];
  for (const pool of POOLS) {
    const candidates = set.pools[pool];
    pools[pool] = {
      at: Int32Array.from(candidates, (c) => indexOf(c.listing)),
      scores: Float64Array.from(candidates, (c) => c.score),
    };
  }
  return {
    hasEmbedding: set.hasEmbedding,
    recentLikes: set.recentLikes,
    ids: Int32Array.from(index.keys()),
    categories: Int32Array.from(categories),
    features: set.features,
    pools,
  };
}

/** The candidates back as a CandidateSet, without the listings in `served` (their features stay). */
function unpack(packed: Packed, served: ReadonlySet<number>): CandidateSet {
  const pools = {} as Record<Pool, Candidate[]>;
  for (const pool of POOLS) {
    const { at, scores } = packed.pools[pool];
    const out: Candidate[] = [];
    for (let k = 0; k < at.length; k += 1) {
      const i = at[k]!;
      const id = packed.ids[i]!;
      if (served.has(id)) continue;
      out.push({ pool, score: scores[k]!, listing: { id, categoryId: packed.categories[i]! } });
    }
    pools[pool] = out;
  }
  return {
    hasEmbedding: packed.hasEmbedding,
    recentLikes: packed.recentLikes,
    pools,
    features: packed.features,
  };
}

interface Kept {
  /** The page size the candidates were read for (the pools' sizes follow it). */
  first: number;
  /** The SIMILAR and COENGAGED pools a page ranks from; the read returned up to a budget more of each. */
  limits: PageLimits;
  packed: Packed;
  /** Listings served from these candidates since (this process's pages), never offered again. */
  served: Set<number>;
  /** Set when only the feed session they were read for may use them (see keep). */
  session: string | null;
  /** How many listings they may serve in all, the read's own page included (servedBetweenReads). */
  budget: number;
  keptAtMs: number;
  untilMs: number;
}

/**
 * SIMILAR candidates kept for pages of `first` stay usable while this many are left (CandidateMemory.take):
 * a whole SIMILAR pool when the read returned one (each page then ranks exactly the pool a read would
 * give it); when the viewer had fewer eligible, half of them and two pages.
 */
function similarNeeded(first: number, similarLimit: number, held: number): number {
  return held >= similarLimit ? similarLimit : Math.min(held, Math.max(2 * first, Math.ceil(held / 2)));
}

/**
 * How many listings a viewer's kept candidates may serve between two reads of the viewer's cache
 * (feed_viewer_candidates), the read's own page included: the read looks this far ahead (its `lookahead`),
 * so the next read still finds its SIMILAR pool eligible in the cache however many of the served listings
 * came from it, and one page is never a read that finds the cache short and then a search. The read also
 * returns those look-ahead candidates, after its SIMILAR pool: every page ranked from them finds a whole
 * pool. Eight pages, at most 160 listings (what a read returns beside its pool is parsed and kept per
 * viewer: with 200 for pages of 50 the feature bench's gateway peaked at 199–207 MB, with 160 at
 * 190–195), and at most half of what the cache's 600 (VIEWER_CANDIDATES) hold beside the SIMILAR pool (so
 * a cache serves a few reads before it runs short and the next read searches); never less than one page
 * (the look-ahead without kept candidates), which leaves kept candidates nothing to serve.
 */
export function servedBetweenReads(first: number, similarLimit: number): number {
  return Math.max(
    first,
    Math.min(8 * first, MAX_SERVED_BETWEEN_READS, Math.floor((VIEWER_CANDIDATES - similarLimit) / 2)),
  );
}

/**
 * COENGAGED candidates kept stay usable while this many are left (CandidateMemory.take): a whole pool when
 * the read returned its pool and the whole look-ahead (`budget`) after it; none when it returned less,
 * since the statement's coengaged CTE (the viewer's best co-engaged listings, as deep as any read looks)
 * then held no more that were eligible, and a read now, from the same CTE, would return exactly those not
 * served since. Within the budget, then, COENGAGED never runs short.
 */
function coengagedNeeded(limit: number, budget: number, held: number): number {
  return held >= limit + budget ? limit : 0;
}

/** The pools a page ranks whole, by size: a read returns each and then a look-ahead after it. */
export interface PageLimits {
  similar: number;
  coengaged: number;
}

/**
 * The candidates one page ranks from: a read returns the SIMILAR and COENGAGED pools, each followed by
 * its look-ahead candidates (kept for the next pages); a page takes the first `limits` still eligible of
 * each, so it ranks the pools a read of that moment would have returned.
 */
export function pageCandidates(set: CandidateSet, limits: PageLimits): CandidateSet {
  const { SIMILAR, COENGAGED } = set.pools;
  if (SIMILAR.length <= limits.similar && COENGAGED.length <= limits.coengaged) return set;
  return {
    ...set,
    pools: {
      ...set.pools,
      SIMILAR: SIMILAR.slice(0, limits.similar),
      COENGAGED: COENGAGED.slice(0, limits.coengaged),
    },
  };
}

/** The same candidates without the listings `ids` (their features stay: a lookup by id only). */
export function withoutListings(set: CandidateSet, ids: ReadonlySet<number>): CandidateSet {
  if (ids.size === 0) return set;
  const pools = {} as Record<Pool, Candidate[]>;
  for (const pool of POOLS) pools[pool] = set.pools[pool].filter((c) => !ids.has(c.listing.id));
  return { hasEmbedding: set.hasEmbedding, recentLikes: set.recentLikes, pools, features: set.features };
}

/** Whether a viewer's next page was ranked from kept candidates, and why not when it was not. */
export type MemoryOutcome = 'hit' | 'miss' | 'expired' | 'short';

/** What ran short when kept candidates did: a pool, or their budget (servedBetweenReads). */
export type ShortOf = Pool | 'budget';

/**
 * The ranked candidates a process read for a viewer's page (CandidateSet: pools and features), kept for
 * FEED_CANDIDATE_MEMORY_SEC so the viewer's next pages are ranked from them without the candidate statement.
 * Such a page costs one statement: the impressions insert, which first checks that none of them is no
 * longer eligible (insertCheckedImpressionsSql: sold or removed, liked, hidden, or served to the viewer by
 * any process in the window or the session) and otherwise logs nothing. A page's listings are taken out
 * of them as soon as it is ranked (served), before its insert runs. Kept only for personal pages without a
 * category filter (the pages whose SIMILAR pool comes from the viewer's cache); a viewer's candidates go
 * when they expire, when a pool runs short (then the statement refills them), when the check found any no
 * longer eligible (something changed under them: served by another process, liked or hidden elsewhere,
 * sold), or when the viewer likes or hides through this process. Bounded: past `max` viewers, those read
 * longest ago go first.
 */
export class CandidateMemory {
  private readonly kept = new Map<string, Kept>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /**
   * The viewer's kept candidates without what was served since, when they were read for pages of `first`,
   * have not expired, and every pool still holds enough to rank a page as the statement would: SIMILAR and
   * COENGAGED a whole pool (similarNeeded, coengagedNeeded), each other pool `first` (or all it held, when
   * it held less); and they have served less than their budget. The set holds the look-ahead candidates
   * too: the page ranks `pageCandidates(set, limits)`, taken after what other pages of the viewer served
   * since is left out (unservedSince), so a look-ahead candidate replaces it as in a read. `keptAtMs`: when
   * they were kept (the check for what changed since looks back that far).
   */
  take(
    userId: string,
    first: number,
    session: string,
    nowMs: number,
  ): {
    set: CandidateSet | null;
    outcome: MemoryOutcome;
    /** With outcome 'short': what ran short, every pool that did (or the budget alone). */
    shortOf?: ShortOf[];
    keptAtMs?: number;
    servedAt?: number;
  } {
    const kept = this.kept.get(userId);
    if (kept === undefined || kept.first !== first || (kept.session !== null && kept.session !== session))
      return { set: null, outcome: 'miss' };
    if (kept.untilMs <= nowMs) {
      this.kept.delete(userId);
      return { set: null, outcome: 'expired' };
    }
    // Every listing served might have been one of the cache's: past the budget the next read could find
    // the cache short.
    if (kept.served.size + first > kept.budget) {
      this.kept.delete(userId);
      return { set: null, outcome: 'short', shortOf: ['budget'] };
    }
    const set = unpack(kept.packed, kept.served);
    const short = POOLS.filter((pool) => {
      const held = kept.packed.pools[pool].at.length;
      const needed =
        pool === 'SIMILAR'
          ? similarNeeded(first, kept.limits.similar, held)
          : pool === 'COENGAGED'
            ? coengagedNeeded(kept.limits.coengaged, kept.budget, held)
            : Math.min(first, held);
      return set.pools[pool].length < needed;
    });
    if (short.length > 0) {
      this.kept.delete(userId);
      return { set: null, outcome: 'short', shortOf: short };
    }
    return {
      set,
      outcome: 'hit',
      keptAtMs: kept.keptAtMs,
      servedAt: kept.served.size,
    };
  }

  /**
   * `set` (what take returned when the viewer's candidates had served `servedAt` listings) without the
   * listings other pages of the viewer took from them since: pages of one viewer can run at once (a
   * retried request, a second tab), and a page waits for its arm between take and ranking.
   */
  unservedSince(userId: string, set: CandidateSet, servedAt: number): CandidateSet {
    const kept = this.kept.get(userId);
    if (kept === undefined || kept.served.size === servedAt) return set;
    return withoutListings(set, kept.served);
  }

  /**
   * Keeps what a candidate statement returned for the viewer's page of `first` in feed session `session`.
   * A listing served is not served again within the served window (FEED_SERVED_WINDOW_MINUTES), and kept
   * candidates never offer it again: when the window is shorter than they are kept (`windowMs`), a later
   * session may see it again, so only the session they were read for uses them.
   */
  keep(
    userId: string,
    page: { first: number; limits: PageLimits; session: string; windowMs: number; budget: number },
    set: CandidateSet,
    nowMs: number,
  ): void {
    if (!this.enabled) return;
    setBounded(
      this.kept,
      userId,
      {
        first: page.first,
        limits: page.limits,
        packed: pack(set),
        served: new Set(),
        session: page.windowMs < this.ttlMs ? page.session : null,
        budget: page.budget,
        keptAtMs: nowMs,
        untilMs: nowMs + this.ttlMs,
      },
      this.max,
    );
  }

  /** A page ranked for the viewer: its listings are never offered from these candidates again. */
  served(userId: string, ids: Iterable<number>): void {
    const kept = this.kept.get(userId);
    if (kept === undefined) return;
    for (const id of ids) kept.served.add(id);
  }

  /** Drops the viewer's candidates: the next page reads them again. */
  forget(userId: string): void {
    this.kept.delete(userId);
  }

  get size(): number {
    return this.kept.size;
  }
}
