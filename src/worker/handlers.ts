import type pg from 'pg';
import { DEFAULT_IVFFLAT_PROBES, setVectorSearchSql, vectorSearchValues } from '../db/service.js';
import { applyLikeCoengagement } from '../feed/coengagement.js';
import type { JobHandler } from './consumer.js';
import { PermanentJobError } from '../queue/leaseQueue.js';
import { enqueueDiscoveryPairs, nearestCandidatesSql, type DiscoveryPair } from '../queue/discovery.js';
import { isEventKind, readEventPayload, type EventKind, type HandlerPayload } from '../queue/events.js';

/** Popularity points per engagement (a like, a comment); its removal takes them back. */
export const POPULARITY = { like: 1, comment: 2 } as const;
/**
 * Interest drift per like (attributed feed likes add +0.1 more in the like's own transaction); the call
 * also requests the coalesced profile recompute.
 */
const LIKE_REINFORCEMENT = 0.05;
/** Candidates kept per (interest, category). */
export const DISCOVERY_TOP_K = 50;

const bumpPopularitySql = `UPDATE marketplace_listings SET popularity = greatest(0, popularity + $2) WHERE id = $1`;
/** The categories of the interests a user added: each pair is queued for discovery. */
const interestCategoriesSql = `SELECT id AS "interestId", category_id AS "categoryId" FROM interest_catalog WHERE id = ANY($1::int[])`;

/** Drops cached features after a change (the gateway's feature store keys); never throws. */
export type InvalidateFeatures = (ids: { users?: string[]; listings?: number[] }) => Promise<void>;

/** Which cached features an event's effect changes: returned as an after-commit step. */
type EventHandler<K extends EventKind> = (
  payload: HandlerPayload<K>,
  tx: pg.PoolClient,
) => Promise<void | { users?: string[]; listings?: number[] }>;

/**
 * What each event kind does. Every effect runs in the transaction that completes the item, so an item
 * processed twice (a lost lease, a retry) has the effect of once.
 */
const eventHandlers: { [K in EventKind]: EventHandler<K> } = {
  'profile.recompute': async (p, tx) => {
    await tx.query('SELECT recompute_profile_embedding($1)', [p.userId]);
  },
  'like.created': async (p, tx) => {
    await tx.query(bumpPopularitySql, [p.listingId, POPULARITY.like]);
    await tx.query('SELECT reinforce_listing_interests($1, $2, $3)', [
      p.userId,
      p.listingId,
      LIKE_REINFORCEMENT,
    ]);
    // Its pairs with the user's latest other likes, "liked together" (approximate until the daily rebuild).
    await applyLikeCoengagement(tx, p, 1);
    return { users: [p.userId], listings: [p.listingId] };
  },
  'like.deleted': async (p, tx) => {
    await tx.query(bumpPopularitySql, [p.listingId, -POPULARITY.like]);
    await applyLikeCoengagement(tx, p, -1);
    // The like no longer pulls the profile (a like's recompute is requested by reinforce_listing_interests).
    await tx.query('SELECT request_profile_recompute($1)', [p.userId]);
    return { users: [p.userId], listings: [p.listingId] };
  },
  'comment.created': async (p, tx) => {
    await tx.query(bumpPopularitySql, [p.listingId, POPULARITY.comment]);
    return { listings: [p.listingId] };
  },
  'comment.deleted': async (p, tx) => {
    await tx.query(bumpPopularitySql, [p.listingId, -POPULARITY.comment]);
    return { listings: [p.listingId] };
  },
  'interests.changed': async (p, tx) => {
    if (p.added.length === 0) return;
    const { rows } = await tx.query<DiscoveryPair>(interestCategoriesSql, [p.added]);
    await enqueueDiscoveryPairs(tx, 'new_interest', rows);
  },
  // Recorded for analytics and the feature store's counters; nothing to derive yet.
  'follow.created': async () => undefined,
  'follow.deleted': async () => undefined,
  'signal.recorded': async () => undefined,
};

/** Checks the stored payload against what kind K's handler reads, then runs that handler. */
function runEventHandler<K extends EventKind>(kind: K, stored: unknown, tx: pg.PoolClient) {
  const handler: EventHandler<K> = eventHandlers[kind];
  return handler(readEventPayload(kind, stored), tx);
}

/** The events handler; with `invalidate`, the features an effect changed are dropped after commit. */
export function createEventHandler(invalidate?: InvalidateFeatures): JobHandler {
  return async (item, tx) => {
    const kind = String(item.row.kind);
    if (!isEventKind(kind)) throw new PermanentJobError(`no handler for event kind "${kind}"`);
    const stale = await runEventHandler(kind, item.row.payload, tx);
    if (stale && invalidate) return () => invalidate(stale);
  };
}

/** Events without feature invalidation (no Redis). */
export const handleEvent: JobHandler = createEventHandler();

/** discovery: this interest's nearest active listings (in its category, if any), replacing the old ones. */
const interestEmbeddingSql = `SELECT embedding IS NOT NULL AS has FROM interest_catalog WHERE id = $1`;
const dropCandidatesSql = `
DELETE FROM interest_listing_candidates c USING marketplace_listings l
WHERE c.interest_id = $1 AND l.id = c.listing_id AND ($2::int IS NULL OR l.category_id = $2)`;
const insertCandidatesSql = `
INSERT INTO interest_listing_candidates (interest_id, listing_id, score, computed_at)
SELECT n.interest_id, n.listing_id, n.score, now() FROM (${nearestCandidatesSql}) n`;

/** The discovery handler searching `probes` ivfflat lists per query (VECTOR_IVFFLAT_PROBES). */
export const createDiscoveryHandler =
  (probes: number): JobHandler =>
  async (item, tx) => {
    const interestId = Number(item.row.interest_id);
    const categoryId = item.row.category_id == null ? null : Number(item.row.category_id);
    const { rows } = await tx.query<{ has: boolean }>(interestEmbeddingSql, [interestId]);
    if (!rows[0]) throw new PermanentJobError(`interest ${interestId} does not exist`);
    if (!rows[0].has) throw new PermanentJobError(`interest ${interestId} has no embedding yet`);
    // The vector index keeps scanning past listings the filters reject (pgvector 0.8 iterative scans).
    await tx.query(setVectorSearchSql, vectorSearchValues(probes));
    await tx.query(dropCandidatesSql, [interestId, categoryId]);
    await tx.query(insertCandidatesSql, [[interestId], [categoryId], DISCOVERY_TOP_K]);
  };

/** discovery with the default probes (tests, tools). */
export const handleDiscovery: JobHandler = createDiscoveryHandler(DEFAULT_IVFFLAT_PROBES);
