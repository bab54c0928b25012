import { randomInt, randomUUID } from 'node:crypto';
import type { Config } from '../../src/config/config.js';
import type { Context } from '../../src/context.js';
import { createServiceDb, type ServiceDb } from '../../src/db/service.js';
import { fetchCandidateRows, type KnownCandidateCaches, type Pool } from '../../src/feed/candidates.js';
import { explorationPick, feedCandidateQuery } from '../../src/feed/suggestions.js';
import type { ExplorationSample } from '../../src/feed/explorationSample.js';
import { recordImpressions } from '../../src/feed/impressions.js';
import type { FeedSource, SlotDecision } from '../../src/feed/policies/types.js';
import type { Task } from '../shared/load.js';

/**
 * The service pool exactly as the gateway builds it (src/db/service.ts: role lodestar_service,
 * lodestar.role=service, statement_timeout, VECTOR_IVFFLAT_PROBES, iterative_scan=relaxed_order, no JIT) and with
 * the same size (src/db/database.ts gives the service path half of DATABASE_POOL_MAX).
 */
export function createRawServicePool(config: Config, url: string): ServiceDb {
  return createServiceDb({
    url,
    statementTimeoutMs: config.database.statementTimeoutMs,
    poolMax: Math.max(1, Math.ceil(config.database.poolMax / 2)),
    ivfflatProbes: config.database.ivfflatProbes,
    onPoolError: (error) => console.warn(`raw pool: idle connection failed: ${error.message}`),
  });
}

/** The source an impression of a pool's row is logged with (the personal pools are the SIMILAR arm). */
function servedSource(pool: Pool): FeedSource {
  switch (pool) {
    case 'GLOBAL':
    case 'CATEGORY':
      return 'POPULAR';
    case 'COENGAGED':
      return 'SIMILAR';
    default:
      return pool;
  }
}

/**
 * One feed request's SQL without the gateway: the candidate rows as src/feed/suggestions.ts candidatesFor
 * reads them (fetchCandidateRows with its parameters: signed-in viewer, no category), then the
 * learning_events insert of the page. The insert's SQL is private to src/feed/impressions.ts, so
 * recordImpressions itself issues it (no copy of the statement here) on this pool; it reads only
 * ctx.db.service, ctx.viewer.userId and ctx.requestId, hence the narrow context below.
 */
export function rawFeedTask(
  service: ServiceDb,
  options: {
    first: number;
    feed: Config['feed'];
    policyName: string;
    viewers: readonly string[];
    /** The gateway's kind of exploration sample, on this pool (the resolver picks from its own). */
    exploration: ExplorationSample;
    /** As the gateway's: viewers whose cache was seen usable are read without the search. */
    known: KnownCandidateCaches;
  },
): Task {
  const { first, known } = options;
  return async (index) => {
    const userId = options.viewers[index % options.viewers.length] ?? '';
    const exploreIds = await explorationPick(options.exploration, {
      categoryId: null,
      seed: randomInt(2 ** 31 - 1),
      first,
    });
    const query = feedCandidateQuery(
      options.feed,
      { userId, session: randomUUID(), exploreIds, categoryId: null, first },
      true,
    );
    const rows = await fetchCandidateRows(service, query, known);
    // The page: the first `first` rows, as the policy would pick them (which ones does not change the SQL).
    const page: SlotDecision[] = rows.slice(0, first).map((row, position) => ({
      item: { id: row.id, categoryId: row.category_id, score: row.score },
      source: servedSource(row.pool),
      position,
      propensity: 1,
    }));
    if (page.length !== first) throw new Error(`expected ${first} candidates, got ${rows.length} rows`);
    const pools = new Map(rows.map((row) => [row.id, servedSource(row.pool)]));
    const ctx = {
      db: { service },
      viewer: { role: 'user', userId },
      requestId: `bench-raw-${index}`,
    } satisfies Pick<Context, 'requestId' | 'viewer'> & { db: Pick<Context['db'], 'service'> };
    await recordImpressions(ctx, page, (d) => pools.get(d.item.id) ?? d.source, {
      policy: options.policyName,
      session: query.session,
      basePosition: 0,
    });
  };
}

/**
 * The physical limit under the feed (issue #17, target 2): the vector search alone, the top-k active
 * listings nearest the viewer's profile embedding through the same ivfflat index with the same settings
 * (the service pool's), k = the SIMILAR limit the resolver asks for this page size.
 */
export const bareAnnSql = `
SELECT l.id FROM marketplace_listings l
WHERE l.status = 'active' AND l.embedding IS NOT NULL
ORDER BY l.embedding <=> (SELECT embedding FROM profiles WHERE user_id = $1::uuid)
LIMIT $2`;

export function bareAnnTask(
  service: ServiceDb,
  options: { first: number; feed: Config['feed']; viewers: readonly string[] },
): Task {
  // The SIMILAR limit depends on the page size only.
  const { similarLimit } = feedCandidateQuery(
    options.feed,
    { userId: null, session: '', exploreIds: [], categoryId: null, first: options.first },
    true,
  );
  return async (index) => {
    const userId = options.viewers[index % options.viewers.length] ?? '';
    const rows = await service.query<{ id: number }>(bareAnnSql, [userId, similarLimit], 'bench_bare_ann');
    if (rows.length !== similarLimit)
      throw new Error(`expected ${similarLimit} listings, got ${rows.length}`);
  };
}

/**
 * Runs the candidate statement once for each viewer, so every viewer's personal candidates are cached
 * (feed_viewer_candidates) before the load runs, as a returning viewer's are: what a cache miss costs is
 * measured apart (the raw-sql path with FEED_CANDIDATE_CACHE_SEC=0). Returns the milliseconds it took.
 */
export async function warmCandidateCache(
  service: ServiceDb,
  options: {
    first: number;
    feed: Config['feed'];
    viewers: readonly string[];
    known: KnownCandidateCaches;
  },
): Promise<number> {
  const started = performance.now();
  for (const userId of options.viewers) {
    const query = feedCandidateQuery(
      options.feed,
      { userId, session: randomUUID(), exploreIds: [], categoryId: null, first: options.first },
      true,
    );
    await fetchCandidateRows(service, query, options.known);
  }
  return Math.round(performance.now() - started);
}
