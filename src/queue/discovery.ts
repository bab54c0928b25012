import { randomUUID } from 'node:crypto';
import type { Queryable } from './leaseQueue.js';

/**
 * Why a discovery item was queued (its `reason` column) and how its idempotency key deduplicates.
 * One recipe: `discovery:<tag>:<interestId>:<categoryId>:<period>`. The tags and periods are the ones
 * the three callers have always written, kept on purpose so items already queued still dedup:
 * - `new_interest` (worker, `interests.changed`) and `gap_severity` (hourly maintenance): the period is
 *   the UTC day, so each pair is queued at most once a day per reason however often the trigger fires.
 * - `ops` (the enqueueDiscovery action): the period is a fresh UUID, so an operator can always queue the
 *   pair again; the action dedups in flight itself (an item still queued or processing is returned).
 * - `catalog` (src/catalog/sql.ts, enqueueCatalogDiscoverySql, written there in one statement): a fresh
 *   UUID per item like `ops`, skipped while the interest already has an item queued.
 * A NULL category makes the key NULL, which the unique index does not compare: never deduplicated.
 */
export const DISCOVERY_REASONS = {
  new_interest: { keyTag: 'new_interest', period: 'day' },
  gap_severity: { keyTag: 'gap', period: 'day' },
  ops: { keyTag: 'ops', period: 'call' },
} as const;

export type DiscoveryReason = keyof typeof DISCOVERY_REASONS;

export interface DiscoveryPair {
  interestId: number;
  categoryId: number | null;
}

/**
 * discovery enqueue. $1 interest ids, $2 category ids (same order), $3 reason, $4 key tag, $5 key period
 * (NULL = today's UTC date). A pair whose key is taken is skipped; the ids of the new items come back.
 */
const enqueueDiscoverySql = `
INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason, idempotency_key)
SELECT t.interest_id, t.category_id, $3,
       'discovery:' || $4 || ':' || t.interest_id || ':' || t.category_id || ':'
         || coalesce($5, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'))
FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS t(interest_id, category_id, ord)
ORDER BY t.ord
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id::text`;

/** Queues discovery for each (interest, category) pair, deduplicated by the reason's key recipe. */
export async function enqueueDiscoveryPairs(
  client: Queryable,
  reason: DiscoveryReason,
  pairs: readonly DiscoveryPair[],
): Promise<string[]> {
  if (pairs.length === 0) return [];
  const { keyTag, period } = DISCOVERY_REASONS[reason];
  const { rows } = await client.query<{ id: string }>(enqueueDiscoverySql, [
    pairs.map((p) => p.interestId),
    pairs.map((p) => p.categoryId),
    reason,
    keyTag,
    period === 'call' ? randomUUID() : null,
  ]);
  return rows.map((r) => r.id);
}

/**
 * Discovery's search, shared by the worker's one-pair handler and the bulk refresh after an import
 * (src/import/refreshDerived.ts): for each (interest, category) pair, the interest's $3 nearest active
 * listings with an embedding (in that category; a NULL category is any), scored 1 − cosine distance.
 * $1 interest ids, $2 category ids (same order). Interests without an embedding give no rows. Run it
 * with the vector search settings (ivfflat.probes, iterative scans) so the index keeps scanning past
 * listings the filters reject. Rows: interest_id, listing_id, score.
 */
export const nearestCandidatesSql = `
SELECT p.interest_id, n.listing_id, n.score
FROM unnest($1::int[], $2::int[]) AS p(interest_id, category_id)
JOIN interest_catalog i ON i.id = p.interest_id AND i.embedding IS NOT NULL
CROSS JOIN LATERAL (
  SELECT l.id AS listing_id, 1 - (l.embedding <=> i.embedding) AS score
  FROM marketplace_listings l
  WHERE l.status = 'active' AND l.embedding IS NOT NULL AND (p.category_id IS NULL OR l.category_id = p.category_id)
  ORDER BY l.embedding <=> i.embedding
  LIMIT $3) n`;
