import { randomInt, randomUUID } from 'node:crypto';
import type { Category, Listing } from '../generated/prisma/client.js';
import type { Viewer } from '../auth/viewer.js';
import type { Config } from '../config/config.js';
import type { ServiceDb } from '../db/service.js';
import { toOutageError } from '../errors/databaseErrors.js';
import { coerceError } from '../errors/errors.js';
import { checkPageSize, DEFAULT_PAGE_SIZE } from '../validation/pageSize.js';
import {
  fetchCandidates,
  keptCheckOf,
  keptLookBackMarginMs,
  type CandidateQuery,
  type CandidateSet,
  type KnownCandidateCaches,
  type Pool,
} from './candidates.js';
import { categoryCapOf, personalCategoryCaps } from './categoryCaps.js';
import { personalRanking } from './personalRanking.js';
import { RANKING_FEATURES_VERSION } from './ranking.js';
import { decodeFeedCursor, encodeFeedCursor, type FeedCursor } from './feedCursor.js';
import { recordImpressions } from './impressions.js';
import { LazyEdge, LazyPageInfo } from '../platform/lazyConnection.js';
import { createRng } from './policies/random.js';
import { capOfCategory, exploitOnTop } from './policies/page.js';
import type { FeedPolicy, PageInput, SlotDecision } from './policies/types.js';
import type { FeedPolicies } from './feedPolicies.js';
import type { RankerModelSource } from './rankerModel.js';
import type { ExplorationSample } from './explorationSample.js';
import {
  pageCandidates,
  type PageLimits,
  servedBetweenReads,
  withoutListings,
  type CandidateMemory,
} from './candidateMemory.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';

/** What the feed reads from one request: the slice of the GraphQL Context it uses, nothing more. */
export interface FeedRequest {
  requestId: string;
  viewer: Viewer;
  logger: Logger;
  metrics: Pick<Metrics, 'feedFallbacks' | 'feedCandidateMemory' | 'feedCandidateMemoryShort'>;
  config: Pick<Config, 'feed' | 'database'>;
  /** The primary: the served page's impressions are written here. */
  db: { service: ServiceDb };
  /** Where the cached-candidates read goes (a read replica, or `db`; see fetchCandidateRows). */
  reads: { service: ServiceDb };
  /** Set when the page's impressions are written, so the viewer's next page sees them (read replicas). */
  writes?: { primary: boolean };
}

export type FallbackReason =
  'ANONYMOUS' | 'NO_PROFILE_EMBEDDING' | 'NOT_ENOUGH_CANDIDATES' | 'SIMILARITY_UNAVAILABLE';

/** What a served item says it came from: the personal generators are one arm, SIMILAR. */
export type ServedSource = Exclude<Pool, 'COENGAGED' | 'CATEGORY'>;

export interface Suggestion {
  listing: Listing;
  score: number;
  source: ServedSource;
  position: number;
  impressionId: string;
}

export interface SuggestionConnection {
  edges: { cursor: string; node: Suggestion }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  fallback: { reason: FallbackReason; source: ServedSource } | null;
  /**
   * The categories of the page's listings, read with them (src/feed/impressions.ts): the resolver primes
   * the request's category loader, so `listing { category }` costs no statement.
   */
  categories: Category[];
}

/** Built once per process (src/feed/feedSettings.ts); the tunables are read from ctx.config.feed. */
export interface FeedSettings {
  policies: FeedPolicies;
  cursorKey: string;
  /** The ranking stage's weights (FEED_RANKER): learned, the defaults, or off (src/feed/rankerModel.ts). */
  ranker: RankerModelSource;
  /** The process's sample of active listings the EXPLORE pool picks from. */
  exploration: ExplorationSample;
  /** Viewers whose cached personal candidates are known usable: read without the search. */
  knownCaches: KnownCandidateCaches;
  /** Viewers' candidates as their last page read them, for their next pages (FEED_CANDIDATE_MEMORY_SEC). */
  memory: CandidateMemory;
}

/** Fallback chain when personalisation cannot fill the page: popular → recent → global. */
const FALLBACK_ORDER: readonly ServedSource[] = ['POPULAR', 'RECENT', 'GLOBAL'];

function fillFromFallback(
  set: CandidateSet,
  taken: SlotDecision[],
  slots: number,
  caps: Pick<PageInput, 'categoryCap' | 'categoryCaps'>,
): { picks: SlotDecision[]; firstSource: ServedSource | null; pools: Map<number, ServedSource> } {
  const used = new Set(taken.map((t) => t.item.id));
  const perCategory = new Map<number, number>();
  for (const t of taken) perCategory.set(t.item.categoryId, (perCategory.get(t.item.categoryId) ?? 0) + 1);
  const picks: SlotDecision[] = [];
  const pools = new Map<number, ServedSource>();
  let firstSource: ServedSource | null = null;
  // Two passes: first within the category cap, then relaxed, so the page is full whenever anything is left.
  for (const respectCap of [true, false]) {
    for (const pool of FALLBACK_ORDER) {
      for (const candidate of set.pools[pool]) {
        if (taken.length + picks.length >= slots) return { picks, firstSource, pools };
        const id = candidate.listing.id;
        const category = candidate.listing.categoryId;
        if (used.has(id) || (respectCap && (perCategory.get(category) ?? 0) >= capOfCategory(caps, category)))
          continue;
        used.add(id);
        perCategory.set(category, (perCategory.get(category) ?? 0) + 1);
        firstSource ??= pool;
        pools.set(id, pool);
        picks.push({
          item: { id, categoryId: category, score: candidate.score },
          // SlotDecision knows the policy's four sources; the real pool (GLOBAL too) is kept in `pools`.
          source: pool === 'GLOBAL' ? 'POPULAR' : pool,
          position: taken.length + picks.length,
          propensity: 1,
        });
      }
    }
  }
  return { picks, firstSource, pools };
}

/**
 * What the candidate statement is asked for one page: the query the resolver sends (also the bench's
 * raw-SQL reference, so both send the same parameters).
 */
export function feedCandidateQuery(
  feed: Config['feed'],
  page: {
    userId: string | null;
    session: string;
    /** From the process's exploration sample (explorationPick); [] when not personalising. */
    exploreIds: readonly number[];
    categoryId: number | null;
    first: number;
  },
  personalise: boolean,
): CandidateQuery {
  const { first } = page;
  // The pools a page ranks whole (sliced to these sizes from what the read returns, pageCandidates).
  const limits = pageLimitsFor(feed, first);
  const similarLimit = personalise ? limits.similar : 0;
  return {
    userId: page.userId,
    categoryId: page.categoryId,
    similarLimit,
    poolLimit: poolLimitFor(first),
    coengagementLimit: personalise ? limits.coengaged : 0,
    servedWindowMinutes: feed.servedWindowMinutes,
    session: page.session,
    exploreIds: page.exploreIds,
    categoryCap: categoryCapFor(feed, first),
    candidateCacheSec: feed.candidateCacheSec,
    lookahead: lookaheadFor(feed, first, similarLimit, page.categoryId),
  };
}

/**
 * How far a read looks ahead beyond its SIMILAR and COENGAGED pools (see fetchCandidateRows): the next read
 * comes a page later, or, when the process keeps the viewer's candidates (pages without a category filter,
 * with the candidate cache and memory on), after the pages it ranks from them (their budget).
 */
function lookaheadFor(
  feed: Config['feed'],
  first: number,
  similarLimit: number,
  categoryId: number | null,
): number {
  return keepsCandidates(feed, categoryId) ? servedBetweenReads(first, similarLimit) : first;
}

/**
 * Whether a signed-in viewer's page may be ranked from, and keep, the candidates a process read for them
 * (src/feed/candidateMemory.ts): no category filter, with kept candidates and the candidate cache on.
 */
function keepsCandidates(feed: Config['feed'], categoryId: number | null): boolean {
  return feed.candidateMemorySec > 0 && feed.candidateCacheSec > 0 && categoryId === null;
}

/** The SIMILAR and COENGAGED pools a personal page of `first` ranks whole (pageCandidates). */
function pageLimitsFor(feed: Config['feed'], first: number): PageLimits {
  return { similar: similarLimitFor(first), coengaged: feed.coengagementCandidates };
}

/** The SIMILAR pool's size for a personalised page of `first`. */
function similarLimitFor(first: number): number {
  return Math.max(first * 4, 50);
}

/** Each pool's size for a page of `first` (the exploration pools, CATEGORY's per category ×2, GLOBAL). */
function poolLimitFor(first: number): number {
  return Math.max(first * 2, 20);
}

/**
 * The EXPLORE listings a personalised page checks, in the session's order: four times the pool, so the
 * viewer's exclusions (served, liked, hidden, own, no longer active) rarely leave it short.
 */
export function explorationPick(
  sample: ExplorationSample,
  page: { categoryId: number | null; seed: number; first: number },
): Promise<number[]> {
  return sample.pick(page.categoryId, page.seed, 4 * poolLimitFor(page.first));
}

async function candidatesFor(
  ctx: FeedRequest,
  settings: FeedSettings,
  cursor: FeedCursor,
  categoryId: number | null,
  first: number,
  personalise: boolean,
) {
  const exploreIds = personalise
    ? await explorationPick(settings.exploration, { categoryId, seed: cursor.seed, first })
    : [];
  return fetchCandidates(
    { primary: ctx.db.service, reads: ctx.reads.service },
    feedCandidateQuery(
      ctx.config.feed,
      { userId: ctx.viewer.userId, session: cursor.session, exploreIds, categoryId, first },
      personalise,
    ),
    settings.knownCaches,
  );
}

/** Most items of one category on a page of `first` (more where the viewer's likes say so: rankPage). */
function categoryCapFor(feed: Config['feed'], first: number): number {
  return categoryCapOf(feed.categoryShare, first);
}

/**
 * The viewer's kept candidates (CandidateMemory.take) and when they were kept, or null when there are none
 * to rank from. A page ranked from them is logged by the insert that checks them (keptCheck).
 */
function keptCandidates(
  ctx: FeedRequest,
  memory: CandidateMemory,
  userId: string,
  first: number,
  session: string,
): { set: CandidateSet; keptAtMs: number; servedAt: number } | null {
  // Monotonic: a step of the wall clock neither extends kept candidates nor shortens the check's look-back.
  const kept = memory.take(userId, first, session, performance.now());
  ctx.metrics.feedCandidateMemory.inc({ outcome: kept.outcome });
  for (const pool of kept.shortOf ?? []) ctx.metrics.feedCandidateMemoryShort.inc({ pool });
  return kept.set === null
    ? null
    : { set: kept.set, keptAtMs: kept.keptAtMs ?? 0, servedAt: kept.servedAt ?? 0 };
}

/**
 * The check of kept candidates (keptCheckOf) for the statement about to be sent: their age is measured
 * now, after the arm lookup and the ranking, so the look-back covers every wait since the read, the wait
 * for a connection and another process's insert still running when the read took its snapshot
 * (keptLookBackMarginMs).
 */
function keptCheck(ctx: FeedRequest, kept: { set: CandidateSet; keptAtMs: number }, session: string) {
  return keptCheckOf({
    set: kept.set,
    sinceMs: performance.now() - kept.keptAtMs,
    marginMs: keptLookBackMarginMs(ctx.config.database.statementTimeoutMs),
    servedWindowMinutes: ctx.config.feed.servedWindowMinutes,
    session,
  });
}

/** A page ranked from a candidate set: the policy's decisions, then fallback fills, and why it fell back. */
interface RankedPage {
  decisions: SlotDecision[];
  fallback: ReturnType<typeof fillFromFallback>;
  page: SlotDecision[];
  sourceOf: (decision: SlotDecision) => ServedSource;
  reason: FallbackReason | null;
}

/**
 * Ranks a page of `first` from `set` (the policy over the personal ranking and the exploration pools,
 * then the fallback chain), with a random stream of its own from the cursor (`rngKey`), so ranking the
 * same candidates again gives the same page.
 */
function rankPage(
  set: CandidateSet,
  options: {
    first: number;
    cap: number;
    /** Whether a category may take the viewer's own share of their likes (personalCategoryCaps). */
    capFromLikes: boolean;
    rngKey: string;
    policy: FeedPolicy;
    ranker: FeedSettings['ranker'];
    /** Why the page falls back before ranking (anonymous, no embedding, similarity unavailable). */
    reason: FallbackReason | null;
    /** Places at the top of the page kept for exploit items (policies/page.ts, exploitOnTop). */
    exploitTopSlots: number;
  },
): RankedPage {
  const { first, cap } = options;
  let reason = options.reason;
  let decisions: SlotDecision[] = [];
  const caps = {
    categoryCap: cap,
    categoryCaps: options.capFromLikes ? personalCategoryCaps(set, first, cap) : new Map<number, number>(),
  };
  if (reason === null) {
    const toItems = (pool: Pool) =>
      set.pools[pool].map((c) => ({ id: c.listing.id, categoryId: c.listing.categoryId, score: c.score }));
    const exploit = personalRanking(set, options.ranker.current());
    const chosen = options.policy.fillPage(
      {
        pools: {
          SIMILAR: exploit,
          POPULAR: toItems('POPULAR'),
          RECENT: toItems('RECENT'),
          EXPLORE: toItems('EXPLORE'),
        },
        slots: first,
        ...caps,
      },
      createRng(options.rngKey),
    );
    decisions = exploitOnTop(chosen, options.exploitTopSlots);
    if (exploit.length < first) reason = 'NOT_ENOUGH_CANDIDATES';
  }
  const fallback =
    decisions.length < first
      ? fillFromFallback(set, decisions, first, caps)
      : { picks: [], firstSource: null, pools: new Map<number, ServedSource>() };
  const page = [...decisions, ...fallback.picks];
  const sourceOf = (decision: SlotDecision): ServedSource =>
    fallback.pools.get(decision.item.id) ?? decision.source;
  if (reason === 'NOT_ENOUGH_CANDIDATES' && fallback.picks.length === 0 && page.length === first)
    reason = null;
  return { decisions, fallback, page, sourceOf, reason };
}

export async function suggestions(
  ctx: FeedRequest,
  args: {
    first?: number | null;
    after?: string | null;
    categoryId: number | null;
    /** Whether the document asks for the listings' descriptions (default true; ImpressionMeta.description). */
    description?: boolean;
  },
  settings: FeedSettings,
): Promise<SuggestionConnection> {
  const first = checkPageSize('first', args.first ?? DEFAULT_PAGE_SIZE);
  const cursor: FeedCursor = args.after
    ? decodeFeedCursor(args.after, settings.cursorKey)
    : { session: randomUUID(), position: 0, seed: randomInt(2 ** 31 - 1) };
  const personal = ctx.viewer.userId !== null;
  // The arm lookup (one Redis round trip) overlaps the candidate query; it never rejects.
  const choosing = settings.policies.choose(ctx.viewer.userId, ctx.logger);

  let reason: FallbackReason | null = personal ? null : 'ANONYMOUS';
  // A signed-in viewer's page without a category filter may be ranked from the candidates this process
  // read for their last page (src/feed/candidateMemory.ts), checked again as the page is logged.
  const keptFor =
    ctx.viewer.userId !== null && keepsCandidates(ctx.config.feed, args.categoryId)
      ? ctx.viewer.userId
      : null;
  const limits = pageLimitsFor(ctx.config.feed, first);
  let kept = keptFor === null ? null : keptCandidates(ctx, settings.memory, keptFor, first, cursor.session);
  let set = kept?.set ?? null;
  // How many listings the viewer's kept candidates had served when this page's set was taken from them or
  // kept from its read (null: neither).
  let servedAt = kept?.servedAt ?? null;
  if (set === null) {
    try {
      const read = await candidatesFor(ctx, settings, cursor, args.categoryId, first, personal);
      if (keptFor !== null && read.hasEmbedding) {
        settings.memory.keep(
          keptFor,
          {
            first,
            limits,
            session: cursor.session,
            windowMs: ctx.config.feed.servedWindowMinutes * 60_000,
            // What the read just looked ahead over.
            budget: lookaheadFor(ctx.config.feed, first, limits.similar, args.categoryId),
          },
          read,
          performance.now(),
        );
        servedAt = 0;
      }
      // With the look-ahead candidates after its SIMILAR and COENGAGED pools (kept for the next pages):
      // the page's pools are taken below.
      set = read;
    } catch (error) {
      // A similarity query that times out (or pgvector trouble) must not fail the feed.
      if (!personal || !toOutageError(error)) throw error;
      ctx.logger.warn({ err: coerceError(error) }, 'similarity query failed; serving the fallback chain');
      reason = 'SIMILARITY_UNAVAILABLE';
      set = await candidatesFor(ctx, settings, cursor, args.categoryId, first, false);
    }
  }
  if (reason === null && !set.hasEmbedding) reason = 'NO_PROFILE_EMBEDDING';

  const choice = await choosing;
  // Another page of this viewer may have been ranked from the same kept candidates while the arm was looked
  // up (a retried request, a second tab): leave out what it took.
  if (keptFor !== null && servedAt !== null) set = settings.memory.unservedSince(keptFor, set, servedAt);
  // The SIMILAR and COENGAGED pools the page ranks: the first of each still unserved, as a read now would
  // return them (a look-ahead candidate takes the place of one another page took). What the page ranks is
  // what the insert of a page of kept candidates checks.
  set = pageCandidates(set, limits);
  if (kept !== null) kept = { ...kept, set };
  const rankOptions = {
    first,
    cap: categoryCapFor(ctx.config.feed, first),
    capFromLikes: ctx.config.feed.categoryShareFromLikes,
    rngKey: `${cursor.seed}:${cursor.position}`,
    policy: choice.policy,
    ranker: settings.ranker,
    reason,
    exploitTopSlots: ctx.config.feed.exploitTopSlots,
  };
  let ranked = rankPage(set, rankOptions);
  // Taken out of the viewer's kept candidates before the page is logged, so another page of the viewer on
  // this process (a retried request, a second tab) does not rank them again while this insert runs. If the
  // insert fails or finds some no longer eligible, the kept candidates are dropped anyway (below).
  if (keptFor !== null)
    settings.memory.served(
      keptFor,
      ranked.page.map((d) => d.item.id),
    );
  // One features map for every ranking of this page (leaving listings out keeps it).
  const { features } = set;
  const meta = (r: RankedPage) => ({
    // Fallback fills are not the policy's choices (propensity 1): logged apart, off-policy estimates skip them.
    policy: r.page.map((_d, i) =>
      i < r.decisions.length && (r.reason === null || r.reason === 'NOT_ENOUGH_CANDIDATES')
        ? choice.policy.name
        : 'fallback',
    ),
    session: cursor.session,
    experiment: choice.experiment,
    arm: choice.arm,
    basePosition: cursor.position,
    // What the ranker saw, so the worker can learn its weights from the feedback (src/feed/ranking.ts).
    features: (decision: SlotDecision) => features.array(decision.item.id),
    featuresVersion: RANKING_FEATURES_VERSION,
    description: args.description !== false,
  });
  // A page of kept candidates is logged only if none of them became ineligible since they were read (the
  // check runs in the impressions statement). If some did, nothing was logged: the page is ranked again
  // without them, exactly as if they had been left out before ranking, and logged; and as something
  // changed under them, the viewer's next page reads the candidates again.
  let logged = await recordImpressions(
    ctx,
    ranked.page,
    ranked.sourceOf,
    meta(ranked),
    kept === null ? undefined : keptCheck(ctx, kept, cursor.session),
  ).catch((error: unknown) => {
    // Nothing was logged (one statement, one transaction); the next page reads the candidates again.
    if (keptFor !== null) settings.memory.forget(keptFor);
    throw error;
  });
  if ('excluded' in logged) {
    if (keptFor !== null) settings.memory.forget(keptFor);
    set = withoutListings(set, logged.excluded);
    ranked = rankPage(set, rankOptions);
    logged = await recordImpressions(ctx, ranked.page, ranked.sourceOf, meta(ranked));
  }
  const { page, fallback, sourceOf } = ranked;
  reason = ranked.reason;

  if (reason !== null) {
    ctx.metrics.feedFallbacks.inc({ reason });
    ctx.logger.info(
      {
        event: 'feed_fallback',
        reason,
        viewer: ctx.viewer.userId,
        served: page.length,
        fallbackItems: fallback.picks.length,
      },
      'feed_fallback',
    );
  }

  // Cursors are signed (an HMAC each): made when a client selects them, not for every edge of every page.
  const cursorAt = (position: number) => encodeFeedCursor({ ...cursor, position }, settings.cursorKey);
  const edgeCursor = (node: Suggestion) => cursorAt(node.position + 1);
  const edges: LazyEdge<Suggestion>[] = [];
  for (const [i, decision] of page.entries()) {
    // Every candidate has its features: an id without them was never a candidate.
    if (!set.features.has(decision.item.id))
      throw new Error(`feed picked unknown listing ${decision.item.id}`);
    // No longer active since the candidates were read (milliseconds ago): logged, but not shown.
    const listing = logged.listings.get(decision.item.id);
    if (!listing) continue;
    const position = cursor.position + i;
    const node: Suggestion = {
      listing,
      // The score of the pool the item was taken from (a listing can sit in several pools).
      score: decision.item.score,
      source: sourceOf(decision),
      position,
      impressionId: logged.impressionIds[i] ?? '',
    };
    edges.push(new LazyEdge(node, edgeCursor));
  }
  return {
    edges,
    pageInfo: new LazyPageInfo(
      page.length === first,
      cursor.position > 0,
      () => edges[0]?.cursor ?? null,
      () => (page.length > 0 ? cursorAt(cursor.position + page.length) : null),
    ),
    fallback: reason === null ? null : { reason, source: fallback.firstSource ?? 'POPULAR' },
    categories: logged.categories,
  };
}
