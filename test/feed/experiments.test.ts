import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { assignmentKey } from '../../src/experiments/armAssignment.js';
import { armForBucket, experimentArmsSchema, hashBucket } from '../../src/experiments/experimentArms.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testRedisUrl } from '../support/env.js';
import { createFeedHarness, sourcesOf, suggestionsPage, type FeedHarness } from '../support/feedHarness.js';
import { createFeedViewer, learningEvents, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { graphql } from '../support/graphql.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';

const SAVE = graphql(`
  mutation ($input: SaveExperimentInput!) {
    saveExperiment(input: $input) {
      key
      description
      active
      updatedAt
      arms {
        name
        weight
        policy
        epsilon
      }
    }
  }
`);

const admin: Viewer = { role: 'admin', userId: '00000000-0000-4000-8000-00000000a001' };

/** Two arms at the extremes, so a page shows which arm served it: ε = 0 only SIMILAR, ε = 1 none. */
const extremes = (exploitWeight: number, exploreWeight: number) => [
  { name: 'exploit', weight: exploitWeight, policy: 'EPSILON_GREEDY', epsilon: 0 },
  { name: 'explore', weight: exploreWeight, policy: 'EPSILON_GREEDY', epsilon: 1 },
];

describe('A/B experiments on the feed policy', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let redis: Redis;
  let prefix: string;
  const harnesses: FeedHarness[] = [];

  const harness = (env: Record<string, string> = {}): FeedHarness => {
    const h = createFeedHarness(db, {
      REDIS_URL: testRedisUrl,
      REDIS_KEY_PREFIX: prefix,
      FEED_EXPERIMENT: 'feed-policy',
      ...env,
    });
    harnesses.push(h);
    return h;
  };
  const viewer = () => createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.9 }]);
  const save = (h: FeedHarness, arms: unknown[], active = true, who: Viewer = admin) =>
    h.execute(SAVE, {
      viewer: who,
      variables: { input: { key: 'feed-policy', description: 'ε extremes', arms, active } },
    });
  /** The arm a page was served by, read from what it shows. */
  const armShown = async (h: FeedHarness, who: Viewer): Promise<'exploit' | 'explore'> => {
    const sources = sourcesOf(await suggestionsPage(h, who, { first: 6 }));
    if (sources.every((s) => s === 'SIMILAR')) return 'exploit';
    if (sources.every((s) => s !== 'SIMILAR')) return 'explore';
    throw new Error(`a page mixed both arms: ${sources.join(',')}`);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [30, 30, 30]);
    prefix = `lodestar:t:${db.name}:`;
    redis = new Redis(testRedisUrl, { keyPrefix: prefix, lazyConnect: true });
    await redis.connect();
  });

  beforeEach(async () => {
    const keys = await redis.keys(`${prefix}*`);
    // KEYS returns full names; the client would prefix them again.
    if (keys.length > 0) await redis.del(...keys.map((k) => k.slice(prefix.length)));
    await db.pool.query('DELETE FROM experiments');
  });

  afterAll(async () => {
    for (const h of harnesses) await h.close();
    redis?.disconnect();
    await db?.drop();
  });

  describe('saveExperiment', () => {
    it('lets an admin create an experiment and records it in ops_audit', async () => {
      const h = harness();
      const result = await save(h, extremes(1, 1));
      expect(dataOf(result).saveExperiment).toMatchObject({
        arms: [
          { name: 'exploit', weight: 1, policy: 'EPSILON_GREEDY', epsilon: 0 },
          { name: 'explore', weight: 1, policy: 'EPSILON_GREEDY', epsilon: 1 },
        ],
      });
      const { rows } = await db.pool.query<{
        actor_id: string;
        action: string;
        ok: boolean;
        args: { key: string };
      }>(`SELECT actor_id, action, ok, args FROM ops_audit WHERE action = 'saveExperiment'`);
      expect(rows.map((r) => ({ actor: r.actor_id, ok: r.ok, key: r.args.key }))).toEqual([
        { actor: admin.userId, ok: true, key: 'feed-policy' },
      ]);
    });

    it('refuses users (FORBIDDEN) and anonymous callers (UNAUTHENTICATED)', async () => {
      const h = harness();
      expectErrorCode(await save(h, extremes(1, 1), true, await viewer()), 'FORBIDDEN');
      expectErrorCode(
        await save(h, extremes(1, 1), true, { role: 'anonymous', userId: null }),
        'UNAUTHENTICATED',
      );
      expect((await db.pool.query('SELECT 1 FROM experiments')).rowCount).toBe(0);
    });

    it.each([
      [[], 'at least one arm'],
      [extremes(0, 0), 'weight above 0'],
      [[...extremes(1, 1), extremes(1, 1)[0]], 'unique'],
      [[{ name: 'a', weight: 1, policy: 'EPSILON_GREEDY', epsilon: 1.5 }], 'epsilon must be 0..1'],
      [[{ name: 'A B', weight: 1, policy: 'THOMPSON' }], 'arm names'],
    ])('refuses arms %j with BAD_USER_INPUT naming the problem', async (arms, message) => {
      const error = expectErrorCode(await save(harness(), arms), 'BAD_USER_INPUT');
      expect(error.message).toContain(message);
      expect((await db.pool.query('SELECT 1 FROM experiments')).rowCount).toBe(0);
    });
  });

  it('serves each viewer the policy of their arm and stamps experiment, arm, request id and position', async () => {
    const h = harness();
    await save(h, extremes(1, 1));
    const seen = new Set<string>();
    for (let i = 0; i < 8; i += 1) {
      const who = await viewer();
      const expected = armForBucket(
        experimentArmsSchema.parse([
          { name: 'exploit', weight: 1, policy: 'epsilon_greedy' },
          { name: 'explore', weight: 1, policy: 'epsilon_greedy' },
        ]),
        hashBucket('feed-policy', who.userId),
      ).name;
      const page = await suggestionsPage(h, who, { first: 5 });
      const shown = sourcesOf(page).every((s) => s === 'SIMILAR') ? 'exploit' : 'explore';
      expect(shown).toBe(expected);
      seen.add(shown);
      const events = await learningEvents(
        db.pool,
        page.edges.map((e) => e.node.impressionId),
      );
      for (const e of events) {
        const context = e.context as typeof e.context & { experiment?: string; arm?: string };
        expect(context).toMatchObject({ experiment: 'feed-policy', arm: expected, position: e.position });
        expect(context.requestId).toMatch(/^test-\d+$/);
      }
      expect(await redis.get(assignmentKey('feed-policy', who.userId))).toBe(expected);
    }
    expect(seen.size, 'eight viewers land in both arms').toBe(2);
  });

  it('keeps a viewer in their arm when the weights change; new viewers follow the new weights', async () => {
    const h = harness();
    await save(h, extremes(1, 0));
    const early = await Promise.all([viewer(), viewer(), viewer()]);
    for (const who of early) expect(await armShown(h, who)).toBe('exploit');
    await save(h, extremes(1, 1000));
    for (const who of early) expect(await armShown(h, who)).toBe('exploit');
    const late = await Promise.all([viewer(), viewer(), viewer()]);
    for (const who of late) expect(await armShown(h, who)).toBe('explore');
  });

  it('moves viewers off an arm drained to weight 0', async () => {
    const h = harness();
    await save(h, extremes(0, 1));
    const who = await viewer();
    expect(await armShown(h, who)).toBe('explore');
    await save(h, extremes(1, 0));
    expect(await armShown(h, who)).toBe('exploit');
    expect(await redis.get(assignmentKey('feed-policy', who.userId))).toBe('exploit');
  });

  it('derives the same arm from the hash while Redis is unreachable, without waiting on it', async () => {
    const withRedis = harness();
    await save(withRedis, extremes(1, 1));
    const viewers = await Promise.all(Array.from({ length: 6 }, () => viewer()));
    const assigned = await Promise.all(viewers.map((who) => armShown(withRedis, who)));
    const outage = harness({ REDIS_URL: 'redis://127.0.0.1:1' });
    const started = performance.now();
    const during = await Promise.all(viewers.map((who) => armShown(outage, who)));
    expect(during).toEqual(assigned);
    expect(performance.now() - started).toBeLessThan(5000);
    const metric = await outage.metrics.armAssignments.get();
    expect(metric.values.filter((v) => v.labels.store === 'hash').reduce((n, v) => n + v.value, 0)).toBe(6);
  });

  it('serves the default policy and stamps no arm while the experiment is inactive', async () => {
    const h = harness({ FEED_EPSILON: '0' });
    await save(h, extremes(0, 1), false);
    const who = await viewer();
    const page = await suggestionsPage(h, who, { first: 5 });
    expect(sourcesOf(page)).toEqual(Array<string>(5).fill('SIMILAR'));
    const events = await learningEvents(
      db.pool,
      page.edges.map((e) => e.node.impressionId),
    );
    for (const e of events) expect(e.context).not.toHaveProperty('arm');
    expect(await redis.get(assignmentKey('feed-policy', who.userId))).toBeNull();
  });

  it('picks up an experiment saved by another instance within FEED_EXPERIMENT_REFRESH_SEC', async () => {
    const reader = harness({ FEED_EXPERIMENT_REFRESH_SEC: '1', FEED_EPSILON: '0' });
    const who = await viewer();
    expect(await armShown(reader, who)).toBe('exploit');
    await save(harness(), extremes(0, 1));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await armShown(reader, who)).toBe('explore');
  });
});
