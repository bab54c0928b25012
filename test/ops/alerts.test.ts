import { isNonNullType } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createSchema } from '../../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  insertCategory,
  insertDiscoveryItem,
  insertInterest,
  insertKernelSample,
  insertLearningEvent,
  insertListing,
  insertProfile,
} from '../support/fixtures.js';
import { createInProcess, createTestGateway, type InProcess } from '../support/gateway.js';
import { dataOf } from '../support/graphqlResult.js';
import { metricValue } from '../support/http.js';
import { graphql } from '../support/graphql.js';

/** The runbook's "Monitoring Alerts", each at threshold + ε (firing) and threshold − ε (silent). */

const ALERTS = graphql(`
  query Alerts {
    ops {
      alerts {
        rule
        severity
        firing
        value
        threshold
        message
        action
        remedies
      }
    }
  }
`);

const RULES = [
  'discovery_queue_p95_age',
  'kernel_p95_latency',
  'discovery_high_retry',
  'profile_embeddings_coverage',
  'learning_events_silence',
  'table_bloat',
  'vector_index_recall',
  'event_log_partitions',
] as const;
type Rule = (typeof RULES)[number];

describe('ops.alerts: the runbook "Monitoring Alerts" rules', () => {
  let db: TestDatabase;
  let h: InProcess;
  let admin: Viewer;
  let categoryId: number;
  let interestId: number;
  let listingId: number;

  const alertsOf = async (harness: InProcess = h) => {
    const data = dataOf(await harness.execute(ALERTS, { viewer: admin }));
    return new Map(data.ops.alerts.map((a) => [a.rule, a]));
  };
  const alertOf = async (rule: Rule, harness: InProcess = h) => {
    const alert = (await alertsOf(harness)).get(rule);
    if (!alert) throw new Error(`no alert ${rule}`);
    return alert;
  };

  /** A vector index whose last measured recall@20 is `value` (as the worker records it). */
  const recall = async (index: string, value: number): Promise<void> => {
    await db.pool.query(
      `INSERT INTO vector_index_state (index_name, table_name, method, recall, recall_k, recall_samples, recall_measured_at)
       VALUES ($1, 'marketplace_listings', 'ivfflat', $2, 20, 200, now())`,
      [index, value],
    );
  };

  /** Discovery items created `ages` seconds ago. */
  const discoveryItems = async (ages: readonly number[], status = 'queued', attempts = 0): Promise<void> => {
    for (const age of ages) {
      await insertDiscoveryItem(db.pool, {
        interestId,
        categoryId,
        status,
        attempts,
        createdAgo: `${age} seconds`,
      });
    }
  };

  /** 18 fast samples and two at `slowMs`: percentile_cont(0.95) over 20 samples is exactly `slowMs`. */
  const kernelSamples = async (kernel: string, slowMs: number): Promise<void> => {
    for (let i = 0; i < 18; i += 1) await insertKernelSample(db.pool, { kernel, durationMs: 20 + i });
    for (let i = 0; i < 2; i += 1) await insertKernelSample(db.pool, { kernel, durationMs: slowMs });
  };

  /** `withVec` of `total` users with interests have a profile embedding (plus users without interests). */
  const profileCoverage = async (withVec: number, total: number): Promise<void> => {
    await db.pool.query(
      `WITH users AS (
         INSERT INTO profiles (handle, display_name, embedding)
         SELECT 'cov_' || g || '_' || $3::text, 'cov', CASE WHEN g <= $1 THEN $4::vector END
         FROM generate_series(1, $2) g
         RETURNING user_id)
       INSERT INTO user_interests (user_id, interest_id, affinity) SELECT user_id, $5, 0.5 FROM users`,
      [withVec, total, String(Date.now()), `[${new Array<number>(384).fill(0.05).join(',')}]`, interestId],
    );
    // Profiles without interests (with or without embeddings) are not the backfill's targets.
    await db.pool.query(
      `INSERT INTO profiles (handle, display_name) SELECT 'noint_' || g || '_' || $1::text, 'x' FROM generate_series(1, 5) g`,
      [String(Date.now())],
    );
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    categoryId = await insertCategory(db.pool);
    interestId = await insertInterest(db.pool, { categoryId });
    listingId = await insertListing(db.pool, { categoryId });
    admin = { role: 'admin', userId: await insertProfile(db.pool, { role: 'admin' }) };
    h = createInProcess(db);
  });

  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  beforeEach(async () => {
    await db.pool.query('DELETE FROM marketplace_discovery_queue');
    await db.pool.query('DELETE FROM kernel_latency');
    // learning_events is insert-only for the service role: the owner (this pool) clears it.
    await db.pool.query('DELETE FROM learning_events');
    await db.pool.query(`DELETE FROM user_interests`);
    await db.pool.query(`DELETE FROM profiles WHERE role = 'user'`);
    await db.pool.query('DELETE FROM vector_index_state');
  });

  it('returns every rule with its severity, threshold, message and runbook action', async () => {
    const alerts = await alertsOf();
    expect([...alerts.keys()].sort()).toEqual([...RULES].sort());
    const severity = Object.fromEntries([...alerts.values()].map((a) => [a.rule, a.severity]));
    expect(severity).toEqual({
      discovery_queue_p95_age: 'CRITICAL',
      kernel_p95_latency: 'CRITICAL',
      discovery_high_retry: 'CRITICAL',
      profile_embeddings_coverage: 'WARNING',
      learning_events_silence: 'WARNING',
      table_bloat: 'WARNING',
      vector_index_recall: 'WARNING',
      event_log_partitions: 'WARNING',
    });
    const thresholds = Object.fromEntries([...alerts.values()].map((a) => [a.rule, a.threshold]));
    expect(thresholds).toEqual({
      discovery_queue_p95_age: 300,
      kernel_p95_latency: 1000,
      discovery_high_retry: 10,
      profile_embeddings_coverage: 0.5,
      learning_events_silence: 86_400,
      table_bloat: 0.2,
      vector_index_recall: 0.9,
      event_log_partitions: 7,
    });
    for (const alert of alerts.values()) {
      expect(alert.message.length, alert.rule).toBeGreaterThan(0);
      expect(alert.action.length, alert.rule).toBeGreaterThan(0);
    }
  });

  it('offers as remedies only admin mutations the runbook action names and that run with a reason alone', async () => {
    const alerts = await alertsOf();
    const mutations = createSchema().getMutationType()?.getFields() ?? {};
    expect(alerts.get('discovery_high_retry')?.remedies).toEqual(['requeueDiscoveryErrors']);
    expect(alerts.get('discovery_queue_p95_age')?.remedies).toEqual([
      'requeueStuckDiscovery',
      'requeueStuckEvents',
    ]);
    for (const alert of alerts.values()) {
      for (const remedy of alert.remedies) {
        expect(alert.action, alert.rule).toContain(remedy);
        const field = mutations[remedy];
        expect(field, remedy).toBeDefined();
        expect(field?.args.map((a) => a.name)).toContain('reason');
        const required = field?.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
        expect(
          required?.map((a) => a.name),
          remedy,
        ).toEqual([]);
      }
    }
  });

  it('is admin only: a user is FORBIDDEN, an anonymous caller UNAUTHENTICATED', async () => {
    const user: Viewer = { role: 'user', userId: await insertProfile(db.pool) };
    const asUser = await h.execute(ALERTS, { viewer: user });
    expect(asUser.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const asAnonymous = await h.execute(ALERTS, { viewer: { role: 'anonymous', userId: null } });
    expect(asAnonymous.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  describe('discovery_queue_p95_age (critical, p95_age_sec > 300)', () => {
    it('fires when the queued items are 300 s + a few seconds old', async () => {
      await discoveryItems([306, 307, 308, 309, 310]);
      const alert = await alertOf('discovery_queue_p95_age');
      expect(alert).toMatchObject({ firing: true, severity: 'CRITICAL', threshold: 300 });
      expect(alert.value).toBeGreaterThan(309);
      expect(alert.value).toBeLessThan(330);
      expect(alert.message).toMatch(/worker stuck/);
      expect(alert.action).toMatch(/Worker Stuck/);
    });

    it('stays silent when they are 300 s − a few seconds old', async () => {
      await discoveryItems([290, 291, 292, 293, 294]);
      const alert = await alertOf('discovery_queue_p95_age');
      expect(alert.firing).toBe(false);
      expect(alert.value).toBeGreaterThan(293);
      expect(alert.value).toBeLessThan(300);
    });

    it('ignores old items that are done or failed (only waiting items age)', async () => {
      await discoveryItems([3600, 3600], 'done');
      await discoveryItems([3600], 'error');
      await discoveryItems([10]);
      const alert = await alertOf('discovery_queue_p95_age');
      expect(alert.firing).toBe(false);
      expect(alert.value).toBeLessThan(60);
    });
  });

  describe('kernel_p95_latency (critical, vw_kernel_slos.p95_ms > 1000)', () => {
    it('fires when a kernel p95 is just above 1000 ms, naming the kernel', async () => {
      await kernelSamples('read', 200);
      await kernelSamples('feed', 1000.5);
      const alert = await alertOf('kernel_p95_latency');
      expect(alert).toMatchObject({ firing: true, severity: 'CRITICAL', threshold: 1000 });
      expect(alert.value).toBeCloseTo(1000.5, 6);
      expect(alert.message).toContain('"feed"');
    });

    it('stays silent when every kernel p95 is just below 1000 ms', async () => {
      await kernelSamples('read', 200);
      await kernelSamples('feed', 999.5);
      const alert = await alertOf('kernel_p95_latency');
      expect(alert.firing).toBe(false);
      expect(alert.value).toBeCloseTo(999.5, 6);
    });

    it('counts only the last hour (vw_kernel_slos), and reports no value without samples', async () => {
      for (let i = 0; i < 5; i += 1) {
        await insertKernelSample(db.pool, { kernel: 'feed', durationMs: 5000, ago: '2 hours' });
      }
      const alert = await alertOf('kernel_p95_latency');
      expect(alert.firing).toBe(false);
      expect(alert.value).toBeNull();
    });
  });

  describe('discovery_high_retry (critical, high_retry_ct > 10)', () => {
    it('fires with 11 unfinished items at 3+ attempts', async () => {
      await discoveryItems(new Array<number>(11).fill(5), 'error', 3);
      const alert = await alertOf('discovery_high_retry');
      expect(alert).toMatchObject({ firing: true, severity: 'CRITICAL', value: 11, threshold: 10 });
      expect(alert.message).toMatch(/systemic failure/);
    });

    it('stays silent with 10, and does not count done items or items under 3 attempts', async () => {
      await discoveryItems(new Array<number>(10).fill(5), 'error', 3);
      await discoveryItems([5, 5, 5], 'done', 5);
      await discoveryItems([5, 5, 5], 'error', 2);
      const alert = await alertOf('discovery_high_retry');
      expect(alert).toMatchObject({ firing: false, value: 10 });
    });
  });

  describe('profile_embeddings_coverage (warning, pct_has_vec < 0.5)', () => {
    it('fires when just under half of the users with interests have a profile embedding', async () => {
      await profileCoverage(49, 100);
      const alert = await alertOf('profile_embeddings_coverage');
      expect(alert).toMatchObject({ firing: true, severity: 'WARNING', threshold: 0.5 });
      expect(alert.value).toBeCloseTo(0.49, 9);
      expect(alert.message).toMatch(/backfill needed/);
      expect(alert.action).toMatch(/backfillProfileEmbeddings/);
    });

    it('stays silent when just over half have one', async () => {
      await profileCoverage(51, 100);
      const alert = await alertOf('profile_embeddings_coverage');
      expect(alert.firing).toBe(false);
      expect(alert.value).toBeCloseTo(0.51, 9);
    });

    it('stays silent (no value) when no user has interests', async () => {
      const alert = await alertOf('profile_embeddings_coverage');
      expect(alert).toMatchObject({ firing: false, value: null });
    });
  });

  describe('learning_events_silence (warning, no learning event for 24 h)', () => {
    // Inserted as the owner: learning_events is insert-only for the service role.
    it('fires when the last learning event is 24 h + a minute old', async () => {
      await insertLearningEvent(db.pool, { userId: null, listingId, createdAgo: '2 days' });
      await insertLearningEvent(db.pool, { userId: null, listingId, createdAgo: '24 hours 1 minute' });
      const alert = await alertOf('learning_events_silence');
      expect(alert).toMatchObject({ firing: true, severity: 'WARNING', threshold: 86_400 });
      expect(alert.value).toBeGreaterThan(86_400 + 59);
      expect(alert.value).toBeLessThan(86_400 + 120);
      expect(alert.message).toMatch(/exploration stopped/);
    });

    it('stays silent when the last one is 24 h − a minute old', async () => {
      await insertLearningEvent(db.pool, { userId: null, listingId, createdAgo: '2 days' });
      await insertLearningEvent(db.pool, { userId: null, listingId, createdAgo: '23 hours 59 minutes' });
      const alert = await alertOf('learning_events_silence');
      expect(alert.firing).toBe(false);
      expect(alert.value).toBeGreaterThan(86_400 - 61);
      expect(alert.value).toBeLessThan(86_400);
    });

    it('fires with no value when no learning event was ever recorded', async () => {
      const alert = await alertOf('learning_events_silence');
      expect(alert).toMatchObject({ firing: true, value: null });
    });
  });

  describe('vector_index_recall (warning, the worst measured recall@20 below 0.9)', () => {
    it('fires when an index’s last recall is just below 0.9, naming the index', async () => {
      await recall('good_idx', 0.99);
      await recall('stale_idx', 0.89);
      const alert = await alertOf('vector_index_recall');
      expect(alert).toMatchObject({ firing: true, value: 0.89, threshold: 0.9 });
      expect(alert.message).toContain('stale_idx');
    });

    it('stays silent when the worst is just above 0.9', async () => {
      await recall('good_idx', 0.99);
      await recall('fine_idx', 0.91);
      expect(await alertOf('vector_index_recall')).toMatchObject({ firing: false, value: 0.91 });
    });

    it('stays silent (no value) when no recall was measured yet', async () => {
      await db.pool.query(
        `INSERT INTO vector_index_state (index_name, table_name, method) VALUES ('unmeasured_idx', 't', 'hnsw')`,
      );
      expect(await alertOf('vector_index_recall')).toMatchObject({ firing: false, value: null });
    });
  });

  describe('thresholds from ALERT_* variables', () => {
    it('a raised or lowered threshold changes the threshold shown and whether the rule fires', async () => {
      await kernelSamples('feed', 1500);
      await discoveryItems([120, 121, 122]);
      await discoveryItems(new Array<number>(4).fill(5), 'error', 3);
      await profileCoverage(7, 10);
      await insertLearningEvent(db.pool, { userId: null, listingId, createdAgo: '2 hours' });
      await recall('tuned_idx', 0.92);

      const defaults = await alertsOf();
      expect(Object.fromEntries([...defaults.values()].map((a) => [a.rule, a.firing]))).toEqual({
        discovery_queue_p95_age: false,
        kernel_p95_latency: true,
        discovery_high_retry: false,
        profile_embeddings_coverage: false,
        learning_events_silence: false,
        table_bloat: false,
        vector_index_recall: false,
        event_log_partitions: false,
      });

      const tuned = createInProcess(db, {
        ALERT_KERNEL_P95_MS: '2000',
        ALERT_DISCOVERY_P95_AGE_SEC: '60',
        ALERT_DISCOVERY_HIGH_RETRY: '3',
        ALERT_PROFILE_PCT_HAS_VEC: '0.75',
        ALERT_LEARNING_SILENCE_SEC: '3600',
        ALERT_DEAD_TUPLE_SHARE: '0.3',
        ALERT_VECTOR_RECALL_MIN: '0.95',
        ALERT_EVENT_PARTITION_DAYS: '60',
      });
      try {
        const alerts = await alertsOf(tuned);
        const shown = Object.fromEntries([...alerts.values()].map((a) => [a.rule, [a.firing, a.threshold]]));
        expect(shown).toEqual({
          discovery_queue_p95_age: [true, 60],
          kernel_p95_latency: [false, 2000],
          discovery_high_retry: [true, 3],
          profile_embeddings_coverage: [true, 0.75],
          learning_events_silence: [true, 3600],
          table_bloat: [false, 0.3],
          vector_index_recall: [true, 0.95],
          // The weeks reach 28 days ahead (create_event_partitions' default).
          event_log_partitions: [true, 60],
        });
      } finally {
        await tuned.close();
      }
    });

    it('loadConfig reads every ALERT_* variable', () => {
      const config = loadConfig({
        NODE_ENV: 'test',
        ALERT_DISCOVERY_P95_AGE_SEC: '600',
        ALERT_KERNEL_P95_MS: '250',
        ALERT_DISCOVERY_HIGH_RETRY: '0',
        ALERT_PROFILE_PCT_HAS_VEC: '0.9',
        ALERT_LEARNING_SILENCE_SEC: '7200',
        ALERT_VECTOR_RECALL_MIN: '0.8',
        ALERT_REPLICA_LAG_SEC: '30',
        ALERT_EVENT_PARTITION_DAYS: '14',
      });
      expect(config.ops.alerts).toEqual({
        discoveryP95AgeSec: 600,
        kernelP95Ms: 250,
        discoveryHighRetry: 0,
        profilePctHasVec: 0.9,
        learningSilenceSec: 7200,
        deadTupleShare: 0.2,
        deadTupleMin: 1000,
        vectorRecallMin: 0.8,
        replicaLagSec: 30,
        eventPartitionDays: 14,
      });
      expect(loadConfig({ NODE_ENV: 'test' }).ops.alerts).toEqual({
        discoveryP95AgeSec: 300,
        kernelP95Ms: 1000,
        discoveryHighRetry: 10,
        profilePctHasVec: 0.5,
        learningSilenceSec: 86_400,
        deadTupleShare: 0.2,
        deadTupleMin: 1000,
        vectorRecallMin: 0.9,
        replicaLagSec: 5,
        eventPartitionDays: 7,
      });
    });

    it.each([
      ['ALERT_DISCOVERY_P95_AGE_SEC', 'five minutes'],
      ['ALERT_DISCOVERY_P95_AGE_SEC', '0'],
      ['ALERT_KERNEL_P95_MS', '-1'],
      ['ALERT_KERNEL_P95_MS', '1000.5'],
      ['ALERT_DISCOVERY_HIGH_RETRY', 'ten'],
      ['ALERT_PROFILE_PCT_HAS_VEC', '1.5'],
      ['ALERT_PROFILE_PCT_HAS_VEC', '50%'],
      ['ALERT_LEARNING_SILENCE_SEC', '30'],
      ['ALERT_VECTOR_RECALL_MIN', '1.5'],
      ['ALERT_EVENT_PARTITION_DAYS', '0'],
    ])('%s=%s is a ConfigError naming the variable and the bad value', (name, value) => {
      let thrown: unknown;
      try {
        loadConfig({ NODE_ENV: 'test', [name]: value });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const problems = (thrown as ConfigError).problems;
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(name);
      expect(problems[0]).toContain(`"${value}"`);
      expect((thrown as ConfigError).message).toContain(name);
    });
  });

  describe('/metrics', () => {
    it('exposes lodestar_alert_firing (1 firing, 0 silent), lodestar_alert_value and lodestar_alert_threshold', async () => {
      await kernelSamples('feed', 1000.5);
      await discoveryItems(new Array<number>(10).fill(5), 'error', 3);
      await discoveryItems([290]);
      // A gateway of its own: /metrics caches the evaluation for 10 s from its first scrape.
      const gateway = await createTestGateway(db);
      try {
        const res = await gateway.app.inject({ method: 'GET', url: '/metrics' });
        expect(res.statusCode).toBe(200);
        const text = res.body;
        const firing = (rule: Rule, severity: string) =>
          metricValue(text, 'lodestar_alert_firing', { rule, severity });
        expect(text).toContain('lodestar_alert_firing{rule="kernel_p95_latency",severity="critical"} 1');
        expect(text).toContain('lodestar_alert_firing{rule="discovery_high_retry",severity="critical"} 0');
        expect(firing('discovery_queue_p95_age', 'critical')).toBe(0);
        expect(firing('learning_events_silence', 'warning')).toBe(1);
        expect(firing('profile_embeddings_coverage', 'warning')).toBe(0);

        expect(metricValue(text, 'lodestar_alert_value', { rule: 'kernel_p95_latency' })).toBeCloseTo(
          1000.5,
          6,
        );
        expect(metricValue(text, 'lodestar_alert_value', { rule: 'discovery_high_retry' })).toBe(10);
        const age = metricValue(text, 'lodestar_alert_value', { rule: 'discovery_queue_p95_age' });
        expect(age).toBeGreaterThan(289);
        expect(age).toBeLessThan(300);
        // Nothing to measure: no value sample at all for these.
        expect(text).not.toMatch(/^lodestar_alert_value\{rule="learning_events_silence"\}/m);
        expect(text).not.toMatch(/^lodestar_alert_value\{rule="profile_embeddings_coverage"\}/m);

        expect(metricValue(text, 'lodestar_alert_threshold', { rule: 'kernel_p95_latency' })).toBe(1000);
        expect(metricValue(text, 'lodestar_alert_threshold', { rule: 'discovery_queue_p95_age' })).toBe(300);
        expect(metricValue(text, 'lodestar_alert_threshold', { rule: 'discovery_high_retry' })).toBe(10);
        expect(metricValue(text, 'lodestar_alert_threshold', { rule: 'profile_embeddings_coverage' })).toBe(
          0.5,
        );
        expect(metricValue(text, 'lodestar_alert_threshold', { rule: 'learning_events_silence' })).toBe(
          86_400,
        );

        // Scrapes within 10 s share one evaluation: an 11th failing item shows up only later.
        await discoveryItems([5], 'error', 3);
        const again = (await gateway.app.inject({ method: 'GET', url: '/metrics' })).body;
        expect(again).toContain('lodestar_alert_firing{rule="discovery_high_retry",severity="critical"} 0');
        expect((await alertOf('discovery_high_retry')).firing).toBe(true);
      } finally {
        await gateway.close();
      }
    });

    it('lodestar_alert_evaluation_ok is 1 from the first scrape when the database answers', async () => {
      const gateway = await createTestGateway(db);
      try {
        const text = (await gateway.app.inject({ method: 'GET', url: '/metrics' })).body;
        expect(text).toContain('lodestar_alert_firing{rule="learning_events_silence",severity="warning"} 1');
        expect(metricValue(text, 'lodestar_alert_evaluation_ok', {})).toBe(1);
      } finally {
        await gateway.close();
      }
    });

    it('takes its thresholds from ALERT_* too', async () => {
      await kernelSamples('feed', 1000.5);
      const gateway = await createTestGateway(db, { ALERT_KERNEL_P95_MS: '1500' });
      try {
        const text = (await gateway.app.inject({ method: 'GET', url: '/metrics' })).body;
        expect(text).toContain('lodestar_alert_firing{rule="kernel_p95_latency",severity="critical"} 0');
        expect(metricValue(text, 'lodestar_alert_threshold', { rule: 'kernel_p95_latency' })).toBe(1500);
      } finally {
        await gateway.close();
      }
    });
  });
});
