import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createServiceDb, type ServiceDb } from '../../src/db/service.js';
import { createRankerModelSource } from '../../src/feed/rankerModel.js';
import {
  DEFAULT_RANKER_WEIGHTS,
  RANKING_FEATURES,
  fixedRankerWeights,
  type RankerWeights,
} from '../../src/feed/ranking.js';
import { createPool } from '../../src/platform/pool.js';
import { defaultMaintenanceTasks, runDueMaintenance } from '../../src/worker/maintenance.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createFeedHarness, type FeedHarness } from '../support/feedHarness.js';
import { seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { insertProfile } from '../support/fixtures.js';
import { graphql } from '../support/graphql.js';
import { dataOf } from '../support/graphqlResult.js';
import { silentLogger, waitUntil } from '../support/workerHarness.js';
import { createSfc32 } from '../../src/random/createSfc32.js';

/** A seeded generator (src/random), so every run draws the same data. */
function rng(seed: number): () => number {
  const next = createSfc32(seed, 0x9e3779b9, 0x243f6a88, 0xb7e15162);
  return () => next() / 4294967296;
}

/** The behaviour the log is drawn from: popularity hurts here, co-engagement helps a lot (unlike the defaults). */
const TRUTH = [1, 3, -1.5, 0, 0, 0.5, 0, 0, 0, 0];
const TRUTH_BIAS = -1;

const REPORT = graphql(`
  query {
    ops {
      policyReport {
        ranker {
          serving
          bias
          weights {
            feature
            weight
          }
          latest {
            trainedAt
            featuresVersion
            samples
            positives
            bias
            weights {
              feature
              weight
            }
            learned {
              logLoss
              auc
            }
            defaults {
              logLoss
              auc
            }
          }
        }
      }
    }
  }
`);

const admin: Viewer = { role: 'admin', userId: '00000000-0000-4000-8000-00000000a003' };

describe('learned ranking weights (ranker_training, feed_ranker_models, the model source)', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let users: string[];
  let worker: pg.Pool;
  let service: ServiceDb;
  const next = rng(7);

  /**
   * Inserts `n` impressions as the owner, `minutesAgo` old (spread over a minute each), with features and
   * a reward drawn from TRUTH: 1 or 0, or NULL (no like) for a share of the negatives.
   */
  const insertImpressions = async (
    n: number,
    opts: {
      version?: number;
      minutesAgo?: number;
      policy?: string;
      unrewardedShare?: number;
      /** Every row has these features and is liked (instead of drawing both from TRUTH). */
      likedWith?: number[];
      /** Row i is at position i % 10 of its feed and is looked at with chance 1 / (1 + position). */
      examined?: boolean;
    } = {},
  ) => {
    const rows = Array.from({ length: n }, (_, i) => {
      const features =
        opts.likedWith ?? RANKING_FEATURES.map((_, j) => (j >= 6 ? (next() < 0.5 ? 1 : 0) : next()));
      const z = TRUTH_BIAS + features.reduce((s, v, j) => s + v * TRUTH[j]!, 0);
      const position = opts.examined ? i % 10 : 0;
      const looked = !opts.examined || next() < 1 / (1 + position);
      const liked = opts.likedWith !== undefined || (looked && next() < 1 / (1 + Math.exp(-z)));
      const reward = liked ? 1 : next() < (opts.unrewardedShare ?? 0.5) ? null : 0;
      const listing = world.listings[i % 2]![i % world.listings[i % 2]!.length]!.id;
      return {
        user: users[i % users.length]!,
        listing,
        propensity: next() < 0.3 ? 0.1 : 0.9,
        reward,
        context: JSON.stringify({ features, featuresVersion: opts.version ?? 1 }),
        age: (opts.minutesAgo ?? 24 * 60) + (i % 10),
        position,
      };
    });
    await db.pool.query(
      `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, context, reward,
                                    rewarded_at, created_at)
       SELECT u, l, $7, 'SIMILAR', p, pos, c, r, CASE WHEN r IS NULL THEN NULL ELSE now() END,
              now() - make_interval(mins => a)
       FROM unnest($1::uuid[], $2::int[], $3::float8[], $4::jsonb[], $5::float8[], $6::int[], $8::int[])
            AS t(u, l, p, c, r, a, pos)`,
      [
        rows.map((r) => r.user),
        rows.map((r) => r.listing),
        rows.map((r) => r.propensity),
        rows.map((r) => r.context),
        rows.map((r) => r.reward),
        rows.map((r) => r.age),
        opts.policy ?? 'epsilon-greedy',
        rows.map((r) => r.position),
      ],
    );
  };

  const runTraining = async (minEvents: number, prior?: RankerWeights) => {
    await db.pool.query(`DELETE FROM maintenance_runs WHERE task = 'ranker_training'`);
    const tasks = defaultMaintenanceTasks({
      ranker: {
        minEvents,
        attributionMinutes: 30,
        minPositives: 20,
        ...(prior ? { training: { prior } } : {}),
      },
    }).filter((t) => t.name === 'ranker_training');
    expect(await runDueMaintenance(worker, tasks, silentLogger)).toEqual(['ranker_training']);
    const { rows } = await db.pool.query<{ last_result: Record<string, unknown> }>(
      `SELECT last_result FROM maintenance_runs WHERE task = 'ranker_training'`,
    );
    return rows[0]!.last_result;
  };
  const modelCount = async () =>
    (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM feed_ranker_models')).rows[0]!.n;

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [10, 10]);
    users = [];
    for (let i = 0; i < 5; i += 1) users.push(await insertProfile(db.pool));
    // As the worker runs: its own role, the service identity.
    worker = createPool({
      url: db.url,
      role: 'lodestar_worker',
      settings: { 'lodestar.role': 'service' },
      applicationName: 'ranker-test-worker',
      max: 1,
      onError: () => undefined,
    });
    service = createServiceDb({ url: db.url, statementTimeoutMs: 10_000, poolMax: 1, onPoolError: () => {} });
  });

  afterAll(async () => {
    await worker?.end();
    await service?.close();
    await db?.drop();
  });

  it('skips below the minimum, counting only labelled rows of the current feature version', async () => {
    // 400 labelled-or-aged rows of version 1 …
    await insertImpressions(400, { unrewardedShare: 0.5 });
    // … and what must not count: another feature version, fallback fills, unrewarded impressions still
    // inside the attribution window (a like may yet come).
    await insertImpressions(2000, { version: 2 });
    await insertImpressions(500, { policy: 'fallback' });
    await insertImpressions(300, { minutesAgo: 5, unrewardedShare: 1 });
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM learning_events
       WHERE context ->> 'featuresVersion' = '1' AND policy <> 'fallback' AND reward IS NOT NULL
         AND created_at > now() - interval '30 minutes'`,
    );
    // Within the window, the only labelled rows are this batch's likes.
    const recentLikes = rows[0]!.n;
    const result = await runTraining(1000);
    expect(result).toMatchObject({ trained: false, samples: 400 + recentLikes });
    expect(String(result.reason)).toContain('1000 needed');
    expect(await modelCount()).toBe(0);
  });

  it('trains from the log, stores a model that beats the defaults, keeps the latest 20, and the gateway serves it', async () => {
    await insertImpressions(6000, { unrewardedShare: 0.5 });
    // 21 older models: the run keeps the latest 20 (its own among them).
    await db.pool.query(
      `INSERT INTO feed_ranker_models (trained_at, features_version, bias, weights, samples, positives)
       SELECT now() - make_interval(days => g), 1, 0, $1, 0, 0 FROM generate_series(1, 21) g`,
      [JSON.stringify(DEFAULT_RANKER_WEIGHTS.weights)],
    );
    const result = await runTraining(1000);
    expect(result).toMatchObject({ trained: true, stored: true });
    const metrics = result.metrics as {
      learned: { logLoss: number; auc: number };
      defaults: { logLoss: number; auc: number };
      holdoutSamples: number;
    };
    expect(metrics.learned.logLoss).toBeLessThan(metrics.defaults.logLoss);
    expect(metrics.learned.auc).toBeGreaterThan(metrics.defaults.auc);
    expect(metrics.holdoutSamples).toBeGreaterThan(1000);
    expect(await modelCount()).toBe(20);

    const latest = await db.pool.query<{ id: string; weights: Record<string, number>; samples: number }>(
      'SELECT id::text AS id, weights, samples FROM feed_ranker_models ORDER BY trained_at DESC LIMIT 1',
    );
    const stored = latest.rows[0]!;
    expect(stored.id).toBe(result.modelId);
    expect(stored.samples).toBe(result.samples);
    // The log's behaviour, recovered as moves away from the serving weights (the fit's prior): co-engagement
    // up, popularity down (the defaults say up).
    expect(stored.weights.coengagement).toBeGreaterThan(DEFAULT_RANKER_WEIGHTS.weights.coengagement + 0.2);
    expect(stored.weights.popularity).toBeLessThan(DEFAULT_RANKER_WEIGHTS.weights.popularity - 0.2);

    const learned = createRankerModelSource({
      service,
      logger: silentLogger,
      mode: 'learned',
      refreshMs: 60_000,
    });
    const fixed = createRankerModelSource({
      service,
      logger: silentLogger,
      mode: 'fixed',
      refreshMs: 60_000,
    });
    const off = createRankerModelSource({ service, logger: silentLogger, mode: 'off', refreshMs: 60_000 });
    try {
      await learned.refresh();
      expect(learned.current().name).toBe('learned');
      expect(learned.current().weights.weights.coengagement).toBe(stored.weights.coengagement);
      expect(fixed.current()).toMatchObject({ name: 'default', weights: DEFAULT_RANKER_WEIGHTS });
      expect(off.current().name).toBe('off');
    } finally {
      learned.stop();
      fixed.stop();
      off.stop();
    }
  });

  it('serves a learned model only beside the fixed weights it was trained against (FEED_RANKER_WEIGHTS)', async () => {
    // The latest model was trained against the defaults; this gateway's fixed weights are others.
    const configured = fixedRankerWeights({ coengagement: -2 });
    let result: Record<string, unknown> | undefined;
    const source = createRankerModelSource({
      service,
      logger: silentLogger,
      mode: 'learned',
      refreshMs: 60_000,
      fixedWeights: configured,
    });
    try {
      await source.refresh();
      expect(source.current()).toMatchObject({ name: 'default', weights: configured, model: null });
      // A worker given the same weights trains against them (they are its prior and what it must beat)…
      result = await runTraining(1000, configured);
      expect(result).toMatchObject({ trained: true, stored: true });
      expect((result.metrics as { prior: RankerWeights }).prior).toEqual(configured);
      // … and that model serves.
      await source.refresh();
      expect(source.current().name).toBe('learned');
      expect(source.current().model?.id).toBe(result.modelId);
      expect(source.current().model?.prior).toEqual(configured);
    } finally {
      source.stop();
    }
    // A gateway with the defaults now sets that model aside in turn.
    const defaults = createRankerModelSource({
      service,
      logger: silentLogger,
      mode: 'learned',
      refreshMs: 60_000,
    });
    try {
      await defaults.refresh();
      expect(defaults.current()).toMatchObject({ name: 'default', weights: DEFAULT_RANKER_WEIGHTS });
    } finally {
      defaults.stop();
      // The tests below expect the model trained against the defaults to be the latest, among 20.
      await db.pool.query('DELETE FROM feed_ranker_models WHERE id = $1', [result?.modelId]);
      await db.pool.query(
        `INSERT INTO feed_ranker_models (trained_at, features_version, bias, weights, samples, positives)
         VALUES (now() - interval '60 days', 1, 0, $1, 0, 0)`,
        [JSON.stringify(DEFAULT_RANKER_WEIGHTS.weights)],
      );
    }
  });

  it('serves the defaults when the only models are of another feature version', async () => {
    const other = await createTestDatabase();
    const otherService = createServiceDb({
      url: other.url,
      statementTimeoutMs: 10_000,
      poolMax: 1,
      onPoolError: () => {},
    });
    try {
      await other.pool.query(
        `INSERT INTO feed_ranker_models (features_version, bias, weights, samples, positives)
         VALUES (2, 1, $1, 10, 5)`,
        [JSON.stringify(DEFAULT_RANKER_WEIGHTS.weights)],
      );
      const source = createRankerModelSource({
        service: otherService,
        logger: silentLogger,
        mode: 'learned',
        refreshMs: 60_000,
      });
      await source.refresh();
      expect(source.current()).toMatchObject({ name: 'default', weights: DEFAULT_RANKER_WEIGHTS });
      source.stop();
    } finally {
      await otherService.close();
      await other.drop();
    }
  });

  describe('ops.policyReport ranker section', () => {
    const harnesses: FeedHarness[] = [];
    afterAll(async () => {
      for (const h of harnesses) await h.close();
    });
    const reportWith = (env: Record<string, string>) => {
      const h = createFeedHarness(db, { FEED_POSTERIOR_REFRESH_SEC: '5', ...env });
      harnesses.push(h);
      return async () => dataOf(await h.execute(REPORT, { viewer: admin })).ops.policyReport.ranker;
    };

    it('shows the learned weights serving, with the holdout metrics of learned vs defaults', async () => {
      const report = reportWith({ FEED_RANKER: 'learned' });
      let ranker = await report();
      await waitUntil(
        async () => (ranker = await report()).serving === 'LEARNED',
        'the learned model to load',
      );
      const latest = ranker.latest!;
      expect(latest.featuresVersion).toBe(1);
      expect(latest.samples).toBeGreaterThan(1000);
      expect(latest.learned!.logLoss).toBeLessThan(latest.defaults!.logLoss);
      expect(latest.weights.map((w) => w.feature)).toEqual([...RANKING_FEATURES]);
      expect(ranker.weights).toEqual(latest.weights);
      expect(ranker.bias).toBe(latest.bias);
    });

    it('says when the defaults (or nothing) serve, and still shows the latest model', async () => {
      const fixed = await reportWith({ FEED_RANKER: 'fixed' })();
      expect(fixed.serving).toBe('DEFAULT');
      expect(fixed.weights).toEqual(
        RANKING_FEATURES.map((feature) => ({ feature, weight: DEFAULT_RANKER_WEIGHTS.weights[feature] })),
      );
      expect(fixed.latest).not.toBeNull();
      const off = await reportWith({ FEED_RANKER: 'off' })();
      expect(off.serving).toBe('OFF');
    });
  });
  it('keeps the serving weights when the learned model loses to the defaults on the holdout', async () => {
    const before = await db.pool.query<{ id: string }>(
      'SELECT id::text AS id FROM feed_ranker_models ORDER BY trained_at DESC, id DESC LIMIT 1',
    );
    // The newest impressions (the holdout) are all liked, and only popularity is set: the log so far
    // says popularity hurts (the learned model predicts few likes), the defaults say it helps.
    const popular = RANKING_FEATURES.map((name) => (name === 'popularity' ? 1 : 0));
    await insertImpressions(2000, { minutesAgo: 40, likedWith: popular });
    const result = await runTraining(1000);
    expect(result).toMatchObject({ trained: true, stored: false });
    // Weights are kept only when they order the holdout better (AUC); a holdout of likes alone cannot show it.
    expect(String(result.reason)).toContain('not above the fixed weights');
    const metrics = result.metrics as { learned: { auc: number | null }; defaults: { auc: number | null } };
    expect(metrics.learned.auc).toBeNull();
    const after = await db.pool.query<{ id: string }>(
      'SELECT id::text AS id FROM feed_ranker_models ORDER BY trained_at DESC, id DESC LIMIT 1',
    );
    expect(after.rows).toEqual(before.rows);
    expect(await modelCount()).toBe(20);
  });

  it('keeps the serving model when a new fit beats the defaults but not it on the new holdout', async () => {
    // The log's behaviour itself serves (a model an earlier run stored, against the defaults as this
    // worker's); the new fit is pulled towards the defaults and orders the holdout less well than it.
    const truth = Object.fromEntries(RANKING_FEATURES.map((name, j) => [name, TRUTH[j]!]));
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO feed_ranker_models (features_version, bias, weights, samples, positives, metrics)
       VALUES (1, $1, $2, 0, 0, $3) RETURNING id::text AS id`,
      [TRUTH_BIAS, JSON.stringify(truth), JSON.stringify({ prior: DEFAULT_RANKER_WEIGHTS })],
    );
    // A log of the behaviour alone (the earlier tests' rows taught otherwise on purpose).
    await db.pool.query('DELETE FROM learning_events');
    await insertImpressions(6000, { unrewardedShare: 0.5 });
    const result = await runTraining(1000);
    expect(result).toMatchObject({ trained: true, stored: false });
    const metrics = result.metrics as {
      learned: { auc: number };
      defaults: { auc: number };
      serving: { auc: number };
    };
    expect(metrics.learned.auc).toBeGreaterThan(metrics.defaults.auc);
    expect(metrics.serving.auc).toBeGreaterThan(metrics.learned.auc);
    expect(String(result.reason)).toContain(`not above the serving model's`);
    const latest = await db.pool.query<{ id: string }>(
      'SELECT id::text AS id FROM feed_ranker_models ORDER BY trained_at DESC, id DESC LIMIT 1',
    );
    expect(latest.rows).toEqual(rows);
  });

  it('fits a position term from each impression position (learning_events.position) and stores no position weight', async () => {
    // Likes drawn from TRUTH among what was looked at, and the lower an impression, the less it was.
    await db.pool.query('DELETE FROM learning_events');
    await db.pool.query('DELETE FROM feed_ranker_models');
    await insertImpressions(6000, { unrewardedShare: 0.5, examined: true });
    const result = await runTraining(1000);
    expect(result).toMatchObject({ trained: true, stored: true });
    const metrics = result.metrics as { positionWeight?: number };
    expect(metrics.positionWeight).toBeLessThan(-0.5);
    const { rows } = await db.pool.query<{ weights: Record<string, number> }>(
      'SELECT weights FROM feed_ranker_models ORDER BY trained_at DESC, id DESC LIMIT 1',
    );
    expect(Object.keys(rows[0]!.weights).sort()).toEqual([...RANKING_FEATURES].sort());
  });
});
