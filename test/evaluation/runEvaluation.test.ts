import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { LikeSplit } from '../../src/evaluation/likeSplit.js';
import { formatReport } from '../../src/evaluation/report.js';
import {
  EvaluationError,
  runEvaluation,
  type EvaluationOptions,
  type EvaluationReport,
} from '../../src/evaluation/runEvaluation.js';
import { ABLATION } from '../../src/evaluation/variants.js';
import { testDatabaseAdminUrl } from '../support/env.js';

/**
 * `npm run eval`'s library end to end on a tiny synthetic dataset against the real Postgres: the
 * importer loads it, the held-out likes (and their signals and learning events) are gone while the
 * feed is served, the reference lists match a hand computation, and the scratch database is dropped.
 */

const K = 10;
const admin = new pg.Pool({ connectionString: testDatabaseAdminUrl, max: 1 });
admin.on('error', () => undefined);
afterAll(() => admin.end());

interface Seen {
  split: LikeSplit;
  /** Held-out pairs still present in likes, intent_signals, learning_events when serving started. */
  leaked: { likes: number; signals: number; events: number };
  /** Signals and learning events of train pairs still present (the removal is not a wipe). */
  kept: { signals: number; events: number };
  trainCounts: Map<number, number>;
  active: number[];
  scratchName: string;
}

/** The protocol's defaults at k = 10 on a tiny synthetic dataset, dropped at the end. */
const tiny = {
  serverUrl: testDatabaseAdminUrl,
  dataset: { kind: 'synthetic', users: 80, items: 150, seed: 3 },
  testShare: 0.2,
  minPositives: 5,
  maxUsers: null,
  k: K,
  itemEmbeddings: 'train',
  interests: 'train',
  seed: 7,
  keep: false,
  log: () => undefined,
} satisfies Omit<EvaluationOptions, 'variants' | 'concurrency' | 'env'>;

describe('runEvaluation (synthetic, 80 users × 150 items)', () => {
  let seen: Seen | undefined;
  let report: EvaluationReport;

  it('serves one page per scored user through the feed and scores it beside the references', async () => {
    report = await runEvaluation({
      ...tiny,
      variants: [ABLATION[0]!, ABLATION.at(-1)!],
      concurrency: 4,
      env: { LOG_LEVEL: 'silent' },
      includeLists: true,
      // Every like also gets a view signal and a learning event: the held-out pairs' must go too.
      afterLoad: async (pool) => {
        await pool.query(
          `INSERT INTO intent_signals (user_id, kind, listing_id, weight, created_at)
           SELECT user_id, 'view', listing_id, 1, created_at FROM likes`,
        );
        await pool.query(
          `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, created_at)
           SELECT user_id, listing_id, 'greedy', 'SIMILAR', 1, 0, created_at FROM likes`,
        );
      },
      beforeServing: async ({ pool, split, scratchUrl }) => {
        const pairs = [split.test.userIds, split.test.listingIds];
        const count = async (table: string) =>
          (
            await pool.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM ${table} x JOIN unnest($1::uuid[], $2::int[]) AS t(u, l)
                 ON x.user_id = t.u AND x.listing_id = t.l`,
              pairs,
            )
          ).rows[0]!.n;
        const total = async (table: string) =>
          (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
        const { rows: counts } = await pool.query<{ listing_id: number; n: number }>(
          `SELECT listing_id, count(*)::int AS n FROM likes GROUP BY listing_id`,
        );
        const { rows: active } = await pool.query<{ id: number }>(
          `SELECT id FROM marketplace_listings WHERE status = 'active'`,
        );
        seen = {
          split,
          leaked: {
            likes: await count('likes'),
            signals: await count('intent_signals'),
            events: await count('learning_events'),
          },
          kept: { signals: await total('intent_signals'), events: await total('learning_events') },
          trainCounts: new Map(counts.map((r) => [r.listing_id, r.n])),
          active: active.map((r) => r.id),
          scratchName: new URL(scratchUrl).pathname.slice(1),
        };
      },
    });
    expect(seen).toBeDefined();
    const { dataset } = report;
    expect(dataset.users).toBe(80);
    expect(dataset.listings).toBe(150);
    expect(dataset.activeListings).toBe(150);
    expect(dataset.scoredUsers).toBe(seen!.split.scored.length);
    expect(dataset.scoredUsers).toBeGreaterThan(40);
    expect(dataset.testLikes).toBe(seen!.split.test.userIds.length);
    expect(dataset.trainLikes + dataset.testLikes).toBe(dataset.likes);
    expect(report.methods.map((m) => m.method)).toEqual([
      'random',
      'most popular (train likes)',
      'nearest to mean of liked-item embeddings',
      'EASE, every pair of listings (λ 200)',
      'feed: interests-only',
      'feed: default',
    ]);
    for (const m of report.methods) {
      for (const value of [
        m.metrics.precision,
        m.metrics.recall,
        m.metrics.ndcg,
        m.metrics.hitRate,
        m.metrics.coverage,
      ])
        expect(value).toBeGreaterThanOrEqual(0);
      expect(m.metrics.users).toBe(dataset.scoredUsers);
    }
    // The feed served a full page to every scored user, never a listing the user liked in train.
    const feed = report.methods.find((m) => m.method === 'feed: interests-only')!;
    expect(feed.shortPages).toBe(0);
    expect(feed.profilesWithEmbedding).toBeGreaterThan(0);
    const split = seen!.split;
    for (const u of split.scored) {
      const list = feed.lists![split.userIds[u]!]!;
      expect(list).toHaveLength(K);
      const train = new Set(Array.from(split.split.trainItems[u]!, (i) => split.listingIds[i]));
      expect(list.filter((id) => train.has(id))).toEqual([]);
    }
    // Taste is learnable on this data: the nearest-item reference and EASE beat random.
    const byName = new Map(report.methods.map((m) => [m.method, m.metrics]));
    expect(byName.get('nearest to mean of liked-item embeddings')!.precision).toBeGreaterThan(
      byName.get('random')!.precision,
    );
    expect(byName.get('EASE, every pair of listings (λ 200)')!.precision).toBeGreaterThan(
      byName.get('random')!.precision,
    );
    // EASE, like every method, never lists what the user liked in train.
    const ease = report.methods.find((m) => m.method.startsWith('EASE'))!;
    for (const u of split.scored) {
      const train = new Set(Array.from(split.split.trainItems[u]!, (i) => split.listingIds[i]));
      const list = ease.lists![split.userIds[u]!]!;
      expect(list).toHaveLength(K);
      expect(list.filter((id) => train.has(id))).toEqual([]);
    }
  }, 120_000);

  it('deleted the held-out likes and their signals and learning events before serving, and only those', () => {
    expect(seen!.leaked).toEqual({ likes: 0, signals: 0, events: 0 });
    expect(seen!.kept.signals).toBe(report.dataset.trainLikes);
    expect(seen!.kept.events).toBe(report.dataset.trainLikes);
  });

  it('most popular is the hand-computed list: train likes, ties to the lower id, train likes excluded', () => {
    const { split, trainCounts, active } = seen!;
    const ranked = [...active].sort((a, b) => (trainCounts.get(b) ?? 0) - (trainCounts.get(a) ?? 0) || a - b);
    const popular = report.methods.find((m) => m.method === 'most popular (train likes)')!;
    let hits = 0;
    for (const u of split.scored) {
      const train = new Set(Array.from(split.split.trainItems[u]!, (i) => split.listingIds[i]));
      const expected = ranked.filter((id) => !train.has(id)).slice(0, K);
      expect(popular.lists![split.userIds[u]!]).toEqual(expected);
      const test = new Set([...split.split.test[u]!].map((i) => split.listingIds[i]));
      hits += expected.filter((id) => test.has(id)).length;
    }
    expect(popular.metrics.precision).toBeCloseTo(hits / (K * split.scored.length), 10);
  });

  it('dropped the scratch database', async () => {
    expect(report.scratchDatabase).toEqual({ name: seen!.scratchName, kept: false });
    const { rows } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [seen!.scratchName]);
    expect(rows).toEqual([]);
  });
});

describe('runEvaluation with a feedback round for the learned ranker (synthetic, 80 users × 150 items)', () => {
  it('logs a round from held-back train likes, trains on it, puts the likes back and leaves no impression', async () => {
    let trainLikes = 0;
    const report = await runEvaluation({
      ...tiny,
      keep: true,
      variants: [ABLATION.find((v) => v.name === '+learned')!],
      concurrency: 4,
      env: { LOG_LEVEL: 'silent' },
      feedback: { share: 0.2, pageSize: 10, minEvents: 50 },
      beforeServing: async ({ pool }) => {
        trainLikes = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM likes')).rows[0]!.n;
      },
    });
    const scratch = new pg.Pool({
      connectionString: `${testDatabaseAdminUrl.replace(/\/[^/]*$/, '')}/${report.scratchDatabase.name}`,
      max: 1,
    });
    scratch.on('error', () => undefined);
    try {
      const fb = report.feedback!;
      expect(fb).toBeDefined();
      // One page of 10 per scored user, each impression labelled; a like per user at least is held back.
      expect(fb.impressions).toBe(10 * report.dataset.scoredUsers);
      expect(fb.heldBackLikes).toBeGreaterThanOrEqual(report.dataset.scoredUsers);
      expect(fb.rewarded).toBeGreaterThan(0);
      expect(fb.rewarded).toBeLessThanOrEqual(fb.heldBackLikes);
      // The worker's own task ran on the log: it trained (enough rows), stored or kept the defaults.
      expect(fb.training).toMatchObject({ trained: true, samples: fb.impressions, positives: fb.rewarded });
      const stored = fb.training.trained && fb.training.stored;
      expect(report.methods.at(-1)!.ranker).toBe(stored ? 'learned' : 'default');
      // The held-back likes are back (same rows, same times) and the round's impressions are gone.
      const count = async (sql: string) => (await scratch.query<{ n: number }>(sql)).rows[0]!.n;
      expect(await count('SELECT count(*)::int AS n FROM likes')).toBe(trainLikes);
      expect(await count('SELECT count(*)::int AS n FROM learning_events')).toBe(0);
      expect(await count('SELECT count(*)::int AS n FROM feed_ranker_models')).toBe(stored ? 1 : 0);
    } finally {
      await scratch.end();
      await admin.query(`DROP DATABASE IF EXISTS "${report.scratchDatabase.name}" WITH (FORCE)`);
    }
  });
});

describe('runEvaluation with an embedding fit of its own (synthetic, 80 users × 150 items)', () => {
  it('derives the vectors the fit asks for: a plain SVD (binary, V, no damping) leans less on popularity', async () => {
    const references = { variants: [], concurrency: 1, env: { LOG_LEVEL: 'silent' } } as const;
    const plainFit = { weighting: 'binary', factorScaling: 'none', popularityDamping: 0 } as const;
    const importers = await runEvaluation({ ...tiny, ...references });
    const plain = await runEvaluation({ ...tiny, ...references, embeddingFit: plainFit, easeLambda: 0 });
    const nearest = (report: EvaluationReport) =>
      report.methods.find((m) => m.method === 'nearest to mean of liked-item embeddings')!.metrics;
    // Same split, other vectors: the nearest-item reference differs, and without the V·Σ scaling and
    // the damping its lists are far less popular (the importer's fit leans on what many people liked).
    expect(plain.dataset).toEqual(importers.dataset);
    expect(nearest(plain).ratio).toBeLessThan(0.6 * nearest(importers).ratio);
    // Most popular reads no vector: the same lists (sums in another order: equal to rounding).
    const popular = (report: EvaluationReport) =>
      report.methods.find((m) => m.method === 'most popular (train likes)')!.metrics;
    expect(popular(plain).precision).toBeCloseTo(popular(importers).precision, 12);
    expect(popular(plain).coverage).toBe(popular(importers).coverage);
    // λ 0 leaves the EASE reference out.
    expect(importers.methods.some((m) => m.method.startsWith('EASE'))).toBe(true);
    expect(plain.methods.some((m) => m.method.startsWith('EASE'))).toBe(false);
    expect(plain.embeddingFit).toEqual(plainFit);
    expect(importers.embeddingFit).toBeUndefined();
    expect(formatReport(plain, 'npm run eval')).toContain(
      'Item embeddings: train (weighting binary, factor scaling none, popularity damping 0)',
    );
  }, 120_000);
});

describe('runEvaluation refuses before any database work', () => {
  it('a variant the configuration refuses (EvaluationError naming the variant)', async () => {
    const run = runEvaluation({
      ...tiny,
      serverUrl: 'postgresql://nobody@127.0.0.1:1/none',
      variants: [{ name: 'bad', env: { FEED_RANKER: 'bogus' } }],
      concurrency: 1,
      env: {},
    });
    await expect(run).rejects.toBeInstanceOf(EvaluationError);
    await expect(run).rejects.toThrow(/variant "bad": FEED_RANKER/);
  });

  it('an embedding fit that would not run, or that kept vectors would ignore', async () => {
    const refused = (options: Partial<EvaluationOptions>) =>
      runEvaluation({
        ...tiny,
        serverUrl: 'postgresql://nobody@127.0.0.1:1/none',
        variants: [],
        concurrency: 1,
        env: {},
        ...options,
      });
    await expect(refused({ embeddingFit: { factorScaling: 'half' as 'full' } })).rejects.toThrow(
      new EvaluationError('embedding fit: factorScaling must be one of none, sqrt, full, got half'),
    );
    await expect(refused({ embeddingFit: { popularityDamping: 2 } })).rejects.toBeInstanceOf(EvaluationError);
    await expect(refused({ itemEmbeddings: 'keep', embeddingFit: { weighting: 'binary' } })).rejects.toThrow(
      /itemEmbeddings "train"/,
    );
  });
});
