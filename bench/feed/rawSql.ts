import { randomInt, randomUUID } from 'node:crypto';
import type { Config } from '../../src/config/config.js';
import type { Context } from '../../src/context.js';
import { createServiceDb, type ServiceDb } from '../../src/db/service.js';
import { feedCandidatesSql } from '../../src/feed/sql.js';
import type { Pool } from '../../src/feed/candidates.js';
import { recordImpressions } from '../../src/feed/impressions.js';
import type { FeedSource, SlotDecision } from '../../src/feed/policies/types.js';
import type { Task } from '../shared/load.js';

/**
 * The service pool exactly as the gateway builds it (src/db/service.ts: role lodestar_service,
 * lodestar.role=service, statement_timeout, ivfflat.probes=10, iterative_scan=relaxed_order) and with
 * the same size (src/db/database.ts gives the service path half of DATABASE_POOL_MAX).
 */
export function createRawServicePool(config: Config, url: string): ServiceDb {
  return createServiceDb({
    url,
    statementTimeoutMs: config.database.statementTimeoutMs,
    poolMax: Math.max(1, Math.ceil(config.database.poolMax / 2)),
    onPoolError: (error) => console.warn(`raw pool: idle connection failed: ${error.message}`),
  });
}

interface CandidateRow {
  pool: Pool;
  id: number;
  category_id: number;
  score: number;
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
 * One feed request's SQL without the gateway: feedCandidatesSql with the parameters
 * src/feed/suggestions.ts candidatesFor passes (signed-in viewer, no category), then the
 * learning_events insert of the page. The insert's SQL is private to src/feed/impressions.ts, so
 * recordImpressions itself issues it (no copy of the statement here) on this pool; it reads only
 * ctx.db.service, ctx.viewer.userId and ctx.requestId, hence the narrow context below.
 */
export function rawFeedTask(
  service: ServiceDb,
  options: { first: number; servedWindowMinutes: number; policyName: string; viewers: readonly string[] },
): Task {
  const { first } = options;
  return async (index) => {
    const userId = options.viewers[index % options.viewers.length] ?? '';
    const session = randomUUID();
    const rows = await service.query<CandidateRow>(feedCandidatesSql, [
      userId,
      null,
      Math.max(first * 4, 50),
      Math.max(first * 2, 20),
      `${options.servedWindowMinutes} minutes`,
      session,
      randomInt(2 ** 31 - 1),
      // The category cap the resolver passes: ceil(first × FEED_CATEGORY_SHARE 0.4).
      Math.max(1, Math.ceil(first * 0.4)),
      // FEED_COENGAGEMENT_CANDIDATES' default.
      50,
    ]);
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
      session,
      basePosition: 0,
    });
  };
}
