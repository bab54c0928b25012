import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { withTransaction } from '../db/checkout.js';
import { migrateUrl } from '../db/migrator.js';
import { seedDatabase } from '../db/seed/seedDatabase.js';
import { DEFAULT_SEED_OPTIONS } from '../db/seed/seedOptions.js';
import { createServiceDb } from '../db/service.js';
import { syntheticInteractions } from '../embeddings/syntheticInteractions.js';
import { createFeedSettings } from '../feed/feedSettings.js';
import { suggestions } from '../feed/suggestions.js';
import { embedFromInteractions } from '../import/embedFromInteractions.js';
import { DERIVED_STEPS, refreshDerived } from '../import/refreshDerived.js';
import { runImport } from '../import/runImport.js';
import { insertUserInterestsSql } from '../import/sql.js';
import { createLogger } from '../platform/logger.js';
import { createMetrics } from '../platform/metrics.js';
import { createPool } from '../platform/pool.js';
import { interestsFromTrain, splitLikes, type LikeRow, type LikeSplit } from './likeSplit.js';
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
  type Catalogue,
  type MethodMetrics,
  type ScoredUser,
} from './scoring.js';
import { SYNTHETIC_SOURCE, categorySlug, listingExternalId, writeSyntheticFiles } from './syntheticFiles.js';
import type { Variant } from './variants.js';

/**
 * `npm run eval` (issue #16 item 1): the feed evaluated offline THROUGH ITS REAL CODE PATH on a scratch
 * database. Load data (synthetic files through the importer, the seeder, or a copy of a database),
 * split each user's likes by time, delete the held-out likes (and the signals and learning events of
 * those pairs) so nothing the feed reads knows them, rebuild what derives from the likes, then serve
 * one page per scored user with `suggestions()` per variant and score it beside reference methods
 * computed on the same train data. The scratch database is dropped at the end unless `keep`.
 */

export type DatasetSpec =
  | { kind: 'synthetic'; users: number; items: number; seed: number }
  | { kind: 'seed'; users: number; listings: number; seed: number }
  | { kind: 'database'; url: string };

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
  interests: 'train' | 'keep';
  dataset: DatasetShape;
  methods: MethodResult[];
  timingsMs: Record<string, number>;
  scratchDatabase: { name: string; kept: boolean };
  loadAverage: number[];
  cpus: number;
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

const BATCH = 5000;

async function timed<T>(timings: Record<string, number>, name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - started);
  }
}

async function loadData(
  pool: pg.Pool,
  options: EvaluationOptions,
): Promise<{ source: string; categoriesOfListing: ((id: number) => number[]) | null }> {
  const { dataset, log } = options;
  if (dataset.kind === 'seed') {
    const summary = await seedDatabase(pool, {
      ...DEFAULT_SEED_OPTIONS,
      users: dataset.users,
      listings: dataset.listings,
      seed: dataset.seed,
    });
    log(
      `seeded ${summary.rows.profiles} users, ${summary.rows.marketplace_listings} listings, ${summary.rows.likes} likes`,
    );
    return { source: `seed (seed ${dataset.seed})`, categoriesOfListing: null };
  }
  if (dataset.kind === 'database')
    return { source: `copy of ${databaseNameOf(dataset.url)}`, categoriesOfListing: null };

  const data = syntheticInteractions({ seed: dataset.seed, users: dataset.users, items: dataset.items });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lodestar-eval-'));
  try {
    const { files } = await writeSyntheticFiles(data, dir);
    const summary = await runImport({
      pool,
      source: SYNTHETIC_SOURCE,
      files,
      rejectsPath: path.join(dir, 'rejects.ndjson'),
      batchSize: 1000,
      retentionDays: 36_500,
      progress: { start: () => undefined, update: () => undefined, finish: () => undefined },
      log,
    });
    const rejected = summary.files.reduce((n, f) => n + f.rejected, 0);
    if (rejected > 0) throw new Error(`the importer rejected ${rejected} synthetic rows (a harness bug)`);
    log(`imported the synthetic dataset in ${summary.elapsedMs} ms`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Every category of each item (the schema keeps only the first on the listing).
  const { rows: categories } = await pool.query<{ id: number; slug: string }>(
    `SELECT id, slug FROM categories`,
  );
  const categoryId = new Map(categories.map((c) => [c.slug, c.id]));
  const { rows: listings } = await pool.query<{ id: number; external_id: string }>(
    `SELECT id, external_id FROM marketplace_listings WHERE source = $1`,
    [SYNTHETIC_SOURCE],
  );
  const itemOfExternal = new Map(Array.from({ length: data.nItems }, (_, i) => [listingExternalId(i), i]));
  const byListing = new Map<number, number[]>();
  for (const l of listings) {
    const item = itemOfExternal.get(l.external_id);
    if (item === undefined) continue;
    byListing.set(
      l.id,
      data.itemCategories[item]!.flatMap((k) => {
        const id = categoryId.get(categorySlug(k));
        return id === undefined ? [] : [id];
      }),
    );
  }
  return {
    source: `synthetic (seed ${dataset.seed}, ${dataset.users} users, ${dataset.items} items)`,
    categoriesOfListing: (id) => byListing.get(id) ?? [],
  };
}

/** Declared interests = the categories of each user's train likes by share, one interest per category. */
async function writeTrainInterests(
  pool: pg.Pool,
  split: LikeSplit,
  categoriesOfListing: ((id: number) => number[]) | null,
): Promise<number> {
  let categoryOf: (id: number) => number[];
  if (categoriesOfListing) categoryOf = categoriesOfListing;
  else {
    const { rows } = await pool.query<{ id: number; category_id: number }>(
      `SELECT id, category_id FROM marketplace_listings`,
    );
    const map = new Map(rows.map((r) => [r.id, [r.category_id]]));
    categoryOf = (id) => map.get(id) ?? [];
  }
  // The category's interest: the lowest id among its interests.
  const { rows: interests } = await pool.query<{ id: number; category_id: number }>(
    `SELECT DISTINCT ON (category_id) id, category_id FROM interest_catalog ORDER BY category_id, id`,
  );
  const interestOf = new Map(interests.map((i) => [i.category_id, i.id]));
  const weights = interestsFromTrain(split.split.trainItems, (item) => categoryOf(split.listingIds[item]!));
  const users: string[] = [];
  const ids: number[] = [];
  const affinities: number[] = [];
  weights.forEach((shares, u) => {
    for (const [category, share] of shares) {
      const interest = interestOf.get(category);
      if (interest === undefined) continue;
      users.push(split.userIds[u]!);
      ids.push(interest);
      affinities.push(share);
    }
  });
  await withTransaction(pool, async (client) => {
    await client.query(`DELETE FROM user_interests`);
    for (let i = 0; i < users.length; i += BATCH) {
      await client.query(insertUserInterestsSql, [
        users.slice(i, i + BATCH),
        ids.slice(i, i + BATCH),
        affinities.slice(i, i + BATCH),
        users.slice(i, i + BATCH).map(() => null),
      ]);
    }
  });
  return users.length;
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
    return await step.run(pool);
  } finally {
    await pool.end();
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** The gateway's configuration for a variant: the environment, the variant's overrides, the harness's. */
function variantConfig(scratchUrl: string, variant: Variant, base: NodeJS.ProcessEnv): Config {
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

async function serveVariant(
  scratchUrl: string,
  pool: pg.Pool,
  variant: Variant,
  users: readonly ScoredUser[],
  options: EvaluationOptions,
): Promise<{ lists: number[][]; result: Omit<MethodResult, 'metrics' | 'ms'> }> {
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
    onPoolError: () => undefined,
  });
  const settings = createFeedSettings(config, { service, logger, redis: null, metrics });
  const { rows: clock } = await pool.query<{ t: Date }>(`SELECT clock_timestamp() AS t`);
  const lists: number[][] = new Array<number[]>(users.length);
  const latencies: number[] = [];
  let shortPages = 0;
  try {
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
          },
          { first: options.k, categoryId: null },
          settings,
        );
        latencies.push(performance.now() - started);
        lists[u] = page.edges.map((e) => e.node.listing.id);
        if (lists[u].length < options.k) shortPages += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  } finally {
    settings.stop();
    await service.close();
  }
  // The impressions this variant logged are not train data for the next one.
  await pool.query(`DELETE FROM learning_events WHERE created_at >= $1`, [clock[0]!.t]);
  const fallbacks: Record<string, number> = {};
  for (const v of (await metrics.feedFallbacks.get()).values)
    if (v.value > 0) fallbacks[String(v.labels.reason)] = v.value;
  latencies.sort((a, b) => a - b);
  return {
    lists,
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
    },
  };
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
    const loaded = await timed(timings, 'load', () => loadData(pool, options));
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
          { source: null, retentionCutoff: new Date(Date.now() - 90 * 86_400_000) },
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
    const reference = (method: string, build: () => number[][]): void => {
      const started = performance.now();
      const lists = build();
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

    for (const variant of options.variants) {
      const started = performance.now();
      const served = await serveVariant(scratch.url, pool, variant, users, options);
      const ms = Math.round(performance.now() - started);
      timings[`feed:${variant.name}`] = ms;
      methods.push({
        ...served.result,
        metrics: scoreLists(catalogue, users, served.lists, k),
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
      interests: options.interests,
      dataset,
      methods,
      timingsMs: { ...timings, total: Date.now() - startedAt.getTime() },
      scratchDatabase: { name: scratch.name, kept: options.keep },
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
      cpus: os.cpus().length,
    };
  } finally {
    await pool.end();
    if (!options.keep) await scratch.drop();
  }
}

export { EvaluationError };
