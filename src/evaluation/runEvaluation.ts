import os from 'node:os';
import type pg from 'pg';
import { withTransaction } from '../db/checkout.js';
import { migrateUrl } from '../db/migrator.js';
import {
  EmbeddingOptionsError,
  resolveInteractionEmbeddingOptions,
} from '../embeddings/interactionEmbeddings.js';
import { embedFromInteractions, type EmbeddingFit } from '../import/embedFromInteractions.js';
import { refreshDerived } from '../import/refreshDerived.js';
import { createPool } from '../platform/pool.js';
import { DEFAULT_EASE_LAMBDA, EASE_MAX_ITEMS, easeLists } from './ease.js';
import { splitLikes, type LikeRow, type LikeSplit } from './likeSplit.js';
import { loadData, writeTrainInterests, type DatasetSpec } from './loadData.js';
import {
  createScratchDatabase,
  databaseNameOf,
  EvaluationError,
  type ScratchDatabase,
} from './scratchDatabase.js';
import {
  catalogueOf,
  mostPopularLists,
  nearestLists,
  randomLists,
  scoreLists,
  sourceHits,
  type Catalogue,
  type MethodMetrics,
  type ScoredUser,
  type SourceTally,
} from './scoring.js';
import { feedbackRound, type FeedbackRoundResult } from './feedbackRound.js';
import { serveVariant, variantConfig } from './serveFeed.js';
import type { Variant } from './variants.js';

/**
 * `npm run eval` (issue #16 item 1): the feed evaluated offline THROUGH ITS REAL CODE PATH on a scratch
 * database. Load data (synthetic files through the importer, the seeder, or a copy of a database),
 * split each user's likes by time, delete the held-out likes (and the signals and learning events of
 * those pairs) so nothing the feed reads knows them, rebuild what derives from the likes, then serve
 * one page per scored user with `suggestions()` per variant and score it beside reference methods
 * computed on the same train data. The scratch database is dropped at the end unless `keep`.
 */

export type { EmbeddingFit } from '../import/embedFromInteractions.js';

export interface EvaluationOptions {
  /** A Postgres URL: the scratch database is created on its server with its login. */
  serverUrl: string;
  dataset: DatasetSpec;
  testShare: number;
  minPositives: number;
  /** Scored users at most (null: every user with enough positives). */
  maxUsers: number | null;
  k: number;
  itemEmbeddings: 'train' | 'keep';
  /**
   * With itemEmbeddings 'train': how the SVD is fit, where it differs from the importer's defaults
   * (e.g. a plain SVD, as a marketplace's own model might be: the feed's defaults must not depend on
   * the project's own fit).
   */
  embeddingFit?: EmbeddingFit;
  interests: 'train' | 'keep';
  variants: readonly Variant[];
  /** Feed requests in flight at once. */
  concurrency: number;
  /** The Random reference's seed. */
  seed: number;
  keep: boolean;
  /** The environment the variants' overrides apply to (config is loaded from it). */
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /**
   * A round of logged feedback from train data before the variants, so `learned` variants have a model to
   * serve (src/evaluation/feedbackRound.ts); null or share 0: none (learned = the defaults).
   */
  feedback?: { share: number; pageSize: number; minEvents: number; examination?: number } | null;
  /**
   * λ of the EASE upper reference (src/evaluation/ease.ts; default DEFAULT_EASE_LAMBDA); 0 leaves it
   * out. It is left out by itself when more than EASE_MAX_ITEMS listings have train likes.
   */
  easeLambda?: number;
  /** Keep every method's lists in the report (user id → listing ids, best first): large for big runs. */
  includeLists?: boolean;
  /** Told the scratch database as soon as it exists (the CLI drops it on Ctrl-C). */
  onScratch?: (scratch: ScratchDatabase) => void;
  /** Test hook: called once the data is loaded, before the split. */
  afterLoad?: (pool: pg.Pool) => Promise<void>;
  /** Test hook: called after the held-out likes are gone, before any feed request. */
  beforeServing?: (context: { pool: pg.Pool; split: LikeSplit; scratchUrl: string }) => Promise<void>;
}

export interface MethodResult {
  method: string;
  kind: 'reference' | 'feed';
  metrics: MethodMetrics;
  ms: number;
  /** Feed variants: the overrides, fallback reasons counted, request latency, profiles with a vector. */
  env?: Readonly<Record<string, string>>;
  fallbacks?: Record<string, number>;
  latencyMs?: { p50: number; p95: number };
  profilesWithEmbedding?: number;
  /** Users whose page had fewer than k items. */
  shortPages?: number;
  /** Which weights ranked the variant's pages. */
  ranker?: 'learned' | 'default' | 'off';
  /** Feed variants: slots served and held-out hits by the source each slot was served with. */
  sources?: Record<string, SourceTally>;
  /** With `includeLists`: each scored user's list. */
  lists?: Record<string, number[]>;
}

export interface DatasetShape {
  source: string;
  users: number;
  /** Listings (all), and the active ones (the catalogue scored against). */
  listings: number;
  activeListings: number;
  likes: number;
  density: number;
  usersWithEnoughPositives: number;
  scoredUsers: number;
  trainLikes: number;
  testLikes: number;
  /** Held-out likes of scored users on listings that are not active (misses for every method). */
  testLikesInactive: number;
}

export interface EvaluationReport {
  startedAt: string;
  k: number;
  split: { testShare: number; minPositives: number; maxUsers: number | null };
  itemEmbeddings: 'train' | 'keep';
  /** The fit options the run was given (itemEmbeddings 'train' only). */
  embeddingFit?: EmbeddingFit;
  interests: 'train' | 'keep';
  dataset: DatasetShape;
  methods: MethodResult[];
  timingsMs: Record<string, number>;
  scratchDatabase: { name: string; kept: boolean };
  loadAverage: number[];
  cpus: number;
  /** The feedback round the learned variants were trained on, when one ran. */
  feedback?: FeedbackRoundResult;
}

const LIKE_ROWS_SQL = `
SELECT user_id::text AS "userId", listing_id AS "listingId", (extract(epoch FROM created_at) * 1000)::float8 AS at
FROM likes ORDER BY user_id, created_at, listing_id`;

/** The held-out pairs' likes, intent signals and learning events: $1 user ids, $2 listing ids. */
const REMOVE_TEST_SQL = [
  `DELETE FROM likes k USING unnest($1::uuid[], $2::int[]) AS t(u, l) WHERE k.user_id = t.u AND k.listing_id = t.l`,
  `DELETE FROM intent_signals s USING unnest($1::uuid[], $2::int[]) AS t(u, l) WHERE s.user_id = t.u AND s.listing_id = t.l`,
  `DELETE FROM learning_events e USING unnest($1::uuid[], $2::int[]) AS t(u, l) WHERE e.user_id = t.u AND e.listing_id = t.l`,
];

/** Held-out pairs per DELETE. */
const BATCH = 5000;

async function timed<T>(timings: Record<string, number>, name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - started);
  }
}

async function readVectors(pool: pg.Pool): Promise<Map<number, Float32Array>> {
  const { rows } = await pool.query<{ id: number; e: string }>(
    `SELECT id, embedding::text AS e FROM marketplace_listings WHERE embedding IS NOT NULL`,
  );
  return new Map(rows.map((r) => [r.id, Float32Array.from(JSON.parse(r.e) as number[])]));
}

export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationReport> {
  const { log, k } = options;
  const startedAt = new Date();
  const timings: Record<string, number> = {};
  // A variant the configuration refuses fails before any database work.
  for (const variant of options.variants) variantConfig(options.serverUrl, variant, options.env);
  // So does a fit that would not run, or that nothing would use.
  if (options.embeddingFit && Object.keys(options.embeddingFit).length > 0) {
    if (options.itemEmbeddings !== 'train')
      throw new EvaluationError(
        'an embedding fit applies to item embeddings derived from train (itemEmbeddings "train")',
      );
    try {
      resolveInteractionEmbeddingOptions(options.embeddingFit);
    } catch (error) {
      if (error instanceof EmbeddingOptionsError)
        throw new EvaluationError(`embedding fit: ${error.message}`);
      throw error;
    }
  }
  const serverUrl = options.dataset.kind === 'database' ? options.dataset.url : options.serverUrl;
  const scratch = await timed(timings, 'create', () =>
    createScratchDatabase(
      serverUrl,
      options.dataset.kind === 'database' ? databaseNameOf(options.dataset.url) : null,
    ),
  );
  log(`scratch database ${scratch.name}`);
  options.onScratch?.(scratch);
  const pool = createPool({
    url: scratch.url,
    applicationName: 'lodestar-eval',
    max: 4,
    onError: () => undefined,
  });
  try {
    await timed(timings, 'migrate', () => migrateUrl(scratch.url));
    const loaded = await timed(timings, 'load', () => loadData(pool, options.dataset, options.log));
    // Nothing runs the queues on a scratch database: a queued like event would only hold popularity back.
    await pool.query(`DELETE FROM events_queue`);
    await options.afterLoad?.(pool);

    const likes = await timed(timings, 'split', async () => {
      const { rows } = await pool.query<LikeRow>(LIKE_ROWS_SQL);
      return rows;
    });
    const split = splitLikes(likes, {
      testFraction: options.testShare,
      minPositives: options.minPositives,
      maxUsers: options.maxUsers,
    });
    await timed(timings, 'removeTest', () =>
      withTransaction(pool, async (client) => {
        for (let i = 0; i < split.test.userIds.length; i += BATCH) {
          const params = [split.test.userIds.slice(i, i + BATCH), split.test.listingIds.slice(i, i + BATCH)];
          for (const sql of REMOVE_TEST_SQL) await client.query(sql, params);
        }
      }),
    );
    log(`split: ${split.test.userIds.length} held-out likes removed, ${split.scored.length} users scored`);

    if (options.interests === 'train') {
      const written = await timed(timings, 'interests', () =>
        writeTrainInterests(pool, split, loaded.categoriesOfListing),
      );
      log(`declared interests from train: ${written} rows`);
    }
    if (options.itemEmbeddings === 'train') {
      await timed(timings, 'embeddings', async () => {
        // Every vector replaced: listings nobody liked in train get none (not a vector of another space).
        await pool.query(`UPDATE marketplace_listings SET embedding = NULL WHERE embedding IS NOT NULL`);
        await pool.query(`UPDATE interest_catalog SET embedding = NULL WHERE embedding IS NOT NULL`);
        await embedFromInteractions(
          pool,
          {
            source: null,
            retentionCutoff: new Date(Date.now() - 90 * 86_400_000),
            ...(options.embeddingFit ? { fit: options.embeddingFit } : {}),
          },
          log,
        );
      });
    }
    await timed(timings, 'refreshDerived', () => refreshDerived(pool, log));

    const { rows: active } = await pool.query<{ id: number }>(
      `SELECT id FROM marketplace_listings WHERE status = 'active'`,
    );
    const { rows: counts } = await pool.query<{ listing_id: number; n: number }>(
      `SELECT listing_id, count(*)::int AS n FROM likes GROUP BY listing_id`,
    );
    const { rows: shape } = await pool.query<{ users: number; listings: number }>(
      `SELECT (SELECT count(*)::int FROM profiles) AS users, (SELECT count(*)::int FROM marketplace_listings) AS listings`,
    );
    const catalogue: Catalogue = catalogueOf(
      active.map((r) => r.id),
      new Map(counts.map((r) => [r.listing_id, r.n])),
    );
    const users: ScoredUser[] = split.scored.map((u) => ({
      userId: split.userIds[u]!,
      test: [...split.split.test[u]!].map((item) => split.listingIds[item]!),
      train: Array.from(split.split.trainItems[u]!, (item) => split.listingIds[item]!),
    }));
    const dataset: DatasetShape = {
      source: loaded.source,
      users: shape[0]!.users,
      listings: shape[0]!.listings,
      activeListings: catalogue.listingIds.length,
      likes: likes.length,
      density: likes.length / Math.max(1, shape[0]!.users * shape[0]!.listings),
      usersWithEnoughPositives: split.split.scoredUsers,
      scoredUsers: users.length,
      trainLikes: likes.length - split.test.userIds.length,
      testLikes: split.test.userIds.length,
      testLikesInactive: users.reduce(
        (n, u) => n + u.test.filter((id) => !catalogue.indexOf.has(id)).length,
        0,
      ),
    };
    await options.beforeServing?.({ pool, split, scratchUrl: scratch.url });

    const methods: MethodResult[] = [];
    const listsOf = (lists: number[][]) =>
      options.includeLists === true
        ? { lists: Object.fromEntries(users.map((u, i) => [u.userId, lists[i] ?? []])) }
        : {};
    /** One reference method's row; a build that declines (null) leaves it out. */
    const reference = (method: string, build: () => number[][] | null): void => {
      const started = performance.now();
      const lists = build();
      if (lists === null) return;
      methods.push({
        method,
        kind: 'reference',
        metrics: scoreLists(catalogue, users, lists, k),
        ms: Math.round(performance.now() - started),
        ...listsOf(lists),
      });
    };
    const vectors = await readVectors(pool);
    reference('random', () => randomLists(catalogue, users, k, options.seed));
    reference('most popular (train likes)', () => mostPopularLists(catalogue, users, k));
    reference('nearest to mean of liked-item embeddings', () => nearestLists(catalogue, vectors, users, k));
    const easeLambda = options.easeLambda ?? DEFAULT_EASE_LAMBDA;
    if (easeLambda > 0)
      reference(`EASE, every pair of listings (λ ${easeLambda})`, () => {
        const histories = split.split.trainItems.map((items) =>
          Array.from(items, (i) => split.listingIds[i]!),
        );
        try {
          const lists = easeLists(catalogue, histories, users, k, easeLambda);
          if (lists === null)
            log(`EASE reference left out: more than ${EASE_MAX_ITEMS} listings have train likes`);
          return lists;
        } catch (error) {
          // Rounding: XᵀX + λI of listings liked by the same people is singular for a tiny λ.
          if (!(error instanceof RangeError && /not positive definite/.test(error.message))) throw error;
          log(`EASE reference left out: λ ${easeLambda} is too small for this data (${error.message})`);
          return null;
        }
      });

    let feedback: FeedbackRoundResult | undefined;
    const learns = options.variants.some(
      (v) => variantConfig(scratch.url, v, options.env).feed.ranker === 'learned',
    );
    if (learns && options.feedback && options.feedback.share > 0) {
      const round = options.feedback;
      feedback = await timed(timings, 'feedbackRound', () =>
        feedbackRound(scratch.url, pool, users, { ...options, ...round }),
      );
      log(
        `feedback round: ${feedback.impressions} impressions, ${feedback.rewarded} rewarded; ranker_training: ` +
          JSON.stringify(feedback.training),
      );
    }

    for (const variant of options.variants) {
      const started = performance.now();
      const served = await serveVariant(scratch.url, pool, variant, users, options);
      const ms = Math.round(performance.now() - started);
      timings[`feed:${variant.name}`] = ms;
      methods.push({
        ...served.result,
        metrics: scoreLists(catalogue, users, served.lists, k),
        sources: sourceHits(users, served.lists, served.sources, k),
        ms,
        ...listsOf(served.lists),
      });
      log(`${variant.name}: ${users.length} pages in ${ms} ms`);
    }
    return {
      startedAt: startedAt.toISOString(),
      k,
      split: { testShare: options.testShare, minPositives: options.minPositives, maxUsers: options.maxUsers },
      itemEmbeddings: options.itemEmbeddings,
      ...(options.embeddingFit ? { embeddingFit: options.embeddingFit } : {}),
      interests: options.interests,
      dataset,
      methods,
      timingsMs: { ...timings, total: Date.now() - startedAt.getTime() },
      scratchDatabase: { name: scratch.name, kept: options.keep },
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
      cpus: os.cpus().length,
      ...(feedback ? { feedback } : {}),
    };
  } finally {
    await pool.end();
    if (!options.keep) await scratch.drop();
  }
}

export { EvaluationError };
export type { DatasetSpec };
