import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { createServiceDb } from '../db/service.js';
import { createFeedSettings } from '../feed/feedSettings.js';
import { suggestions } from '../feed/suggestions.js';
import { DERIVED_STEPS } from '../import/refreshDerived.js';
import { createLogger } from '../platform/logger.js';
import { createMetrics } from '../platform/metrics.js';
import { createPool } from '../platform/pool.js';
import { EvaluationError } from './scratchDatabase.js';
import type { ScoredUser, SourceTally } from './scoring.js';
import type { Variant } from './variants.js';

/** One feed page per scored user through suggestions(), for one variant, as the gateway would serve it. */

export interface FeedServingOptions {
  /** The environment the variant's overrides apply to. */
  env: NodeJS.ProcessEnv;
  k: number;
  /** Requests in flight at once. */
  concurrency: number;
  log: (line: string) => void;
  /** Keep the impressions the variant logged (the feedback round learns from them); default: deleted. */
  keepImpressions?: boolean;
}

/** What a variant's run reports beside its metrics. */
export interface FeedVariantResult {
  method: string;
  kind: 'feed';
  env: Readonly<Record<string, string>>;
  /** Fallback reasons counted (lodestar_feed_fallback_total of the run). */
  fallbacks: Record<string, number>;
  latencyMs: { p50: number; p95: number };
  profilesWithEmbedding: number;
  /** Users whose page had fewer than k items. */
  shortPages: number;
  /** Which weights ranked: learned (a model was stored), default, or off. */
  ranker: 'learned' | 'default' | 'off';
  /** Slots served and held-out hits by the source each slot was served with. */
  sources?: Record<string, SourceTally>;
}

/** The variant's profile setting applied: every profile recomputed in sessions carrying it. */
async function recomputeProfiles(scratchUrl: string, behaviour: 'on' | 'off'): Promise<number> {
  const step = DERIVED_STEPS.find((s) => s.name === 'profile_embeddings');
  if (!step) throw new Error('refreshDerived has no profile_embeddings step');
  const pool = createPool({
    url: scratchUrl,
    settings: { 'lodestar.profile_behaviour': behaviour },
    applicationName: 'lodestar-eval-profiles',
    max: 2,
    onError: () => undefined,
  });
  try {
    return await step.run(pool, {});
  } finally {
    await pool.end();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** The gateway's configuration for a variant: the environment, the variant's overrides, the harness's. */
export function variantConfig(scratchUrl: string, variant: Variant, base: NodeJS.ProcessEnv): Config {
  try {
    return loadConfig({
      LOG_LEVEL: 'warn',
      ...base,
      DATABASE_URL: scratchUrl,
      // Nothing served earlier may be held back: every request is a fresh session of a fresh user.
      FEED_SERVED_WINDOW_MINUTES: '0',
      ...variant.env,
    });
  } catch (error) {
    if (error instanceof ConfigError)
      throw new EvaluationError(`variant "${variant.name}": ${error.problems.join('; ')}`);
    throw error;
  }
}

export async function serveVariant(
  scratchUrl: string,
  pool: pg.Pool,
  variant: Variant,
  users: readonly ScoredUser[],
  options: FeedServingOptions,
): Promise<{ lists: number[][]; sources: string[][]; result: FeedVariantResult }> {
  const config = variantConfig(scratchUrl, variant, options.env);
  const behaviour = config.feed.profileBehaviour ? 'on' : 'off';
  const profiles = await recomputeProfiles(scratchUrl, behaviour);
  options.log(
    `${variant.name}: profiles recomputed with lodestar.profile_behaviour=${behaviour} (${profiles} changed)`,
  );
  const { rows: withVector } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM profiles WHERE embedding IS NOT NULL`,
  );
  const logger = createLogger(config);
  const metrics = createMetrics();
  const service = createServiceDb({
    url: scratchUrl,
    statementTimeoutMs: config.database.statementTimeoutMs,
    poolMax: options.concurrency,
    ivfflatProbes: config.database.ivfflatProbes,
    onPoolError: () => undefined,
  });
  const settings = createFeedSettings(config, { service, logger, redis: null, metrics });
  const { rows: clock } = await pool.query<{ t: Date }>(`SELECT clock_timestamp() AS t`);
  const lists: number[][] = new Array<number[]>(users.length);
  const sources: string[][] = new Array<string[]>(users.length);
  const latencies: number[] = [];
  let shortPages = 0;
  let ranker: FeedVariantResult['ranker'];
  try {
    // The learned weights as of now (the gateway reads them on a timer; here the first read is awaited).
    await settings.ranker.refresh();
    ranker = settings.ranker.current().name;
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const u = next;
        next += 1;
        if (u >= users.length) return;
        const started = performance.now();
        const page = await suggestions(
          {
            requestId: randomUUID(),
            viewer: { role: 'user', userId: users[u]!.userId },
            logger,
            metrics,
            config,
            db: { service },
            reads: { service },
          },
          { first: options.k, categoryId: null },
          settings,
        );
        latencies.push(performance.now() - started);
        lists[u] = page.edges.map((e) => e.node.listing.id);
        sources[u] = page.edges.map((e) => e.node.source);
        if (lists[u].length < options.k) shortPages += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  } finally {
    settings.stop();
    await service.close();
  }
  // The impressions this variant logged are not train data for the next one.
  if (options.keepImpressions !== true)
    await pool.query(`DELETE FROM learning_events WHERE created_at >= $1`, [clock[0]!.t]);
  const fallbacks: Record<string, number> = {};
  for (const v of (await metrics.feedFallbacks.get()).values)
    if (v.value > 0) fallbacks[String(v.labels.reason)] = v.value;
  latencies.sort((a, b) => a - b);
  return {
    lists,
    sources,
    result: {
      method: `feed: ${variant.name}`,
      kind: 'feed',
      env: variant.env,
      fallbacks,
      latencyMs: {
        p50: Math.round(percentile(latencies, 0.5)),
        p95: Math.round(percentile(latencies, 0.95)),
      },
      profilesWithEmbedding: withVector[0]?.n ?? 0,
      shortPages,
      ranker,
    },
  };
}
