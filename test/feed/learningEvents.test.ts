import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  createFeedHarness,
  listingIdsOf,
  SUGGESTIONS,
  suggestionsPage,
  type FeedHarness,
} from '../support/feedHarness.js';
import { createFeedViewer, learningEvents, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { sqlStateOf } from '../support/fixtures.js';
import { createServiceDb } from '../../src/db/service.js';
import { recordImpressions } from '../../src/feed/impressions.js';
import { graphql } from '../support/graphql.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';

const FEEDBACK = graphql(`
  mutation ($id: ID!, $reward: Float!) {
    recordFeedback(impressionId: $id, reward: $reward) {
      impressionId
      reward
    }
  }
`);
const HIDE = graphql('mutation ($id: ID!) { hideListing(listingId: $id) { listingId hidden } }');
const sessionOf = (cursor: string): string =>
  (JSON.parse(Buffer.from(cursor.split('.')[0]!, 'base64url').toString('utf8')) as { s: string }).s;

describe('learning events', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let h: FeedHarness;

  const viewer = () => createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 0.9 }]);

  async function impressions(who: Viewer, first = 5): Promise<{ id: string; listingId: number }[]> {
    const page = await suggestionsPage(h, who, { first });
    return page.edges.map((e) => ({ id: e.node.impressionId, listingId: Number(e.node.listing.id) }));
  }

  async function rewardOf(id: string): Promise<number | null> {
    const { rows } = await db.pool.query<{ reward: number | null }>(
      'SELECT reward FROM learning_events WHERE id = $1',
      [id],
    );
    if (!rows[0]) throw new Error(`no learning event ${id}`);
    return rows[0].reward;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [12, 12, 12]);
    // ε = 0 and no served window: the same viewer gets the same page in each new session.
    h = createFeedHarness(db, { FEED_EPSILON: '0', FEED_SERVED_WINDOW_MINUTES: '0' });
    // Test-only audit of who inserts learning events (the trigger runs as the inserting role).
    await db.pool.query(`
      CREATE TABLE test_learning_event_writers (current_role_name text, identity_role text);
      GRANT INSERT ON test_learning_event_writers TO PUBLIC;
      CREATE FUNCTION test_audit_learning_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO test_learning_event_writers VALUES (current_user, current_setting('lodestar.role', true));
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_audit BEFORE INSERT ON learning_events
        FOR EACH ROW EXECUTE FUNCTION test_audit_learning_event();`);
  });

  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('writes one event per served item with session, request id and position in its context', async () => {
    const who = await viewer();
    const first = await suggestionsPage(h, who, { first: 6 });
    const second = dataOf(
      await h.execute(SUGGESTIONS, {
        viewer: who,
        variables: { first: 4, after: first.pageInfo.endCursor },
        requestId: 'req-second-page',
      }),
    ).suggestions;
    const served = [...first.edges, ...second.edges].map((e) => e.node);
    const events = await learningEvents(
      db.pool,
      served.map((n) => n.impressionId),
    );
    expect(events).toHaveLength(10);
    const session = sessionOf(first.pageInfo.endCursor!);
    expect(sessionOf(second.pageInfo.endCursor!)).toBe(session);
    for (const [i, event] of events.entries()) {
      const node = served[i]!;
      expect(event).toMatchObject({
        id: node.impressionId,
        user_id: who.userId,
        listing_id: Number(node.listing.id),
        source: node.source,
        position: i,
        policy: 'epsilon-greedy',
        reward: null,
      });
      expect(event.context.session).toBe(session);
      expect(event.context.position).toBe(i);
    }
    expect(events.slice(6).map((e) => e.context.requestId)).toEqual(Array<string>(4).fill('req-second-page'));
    expect(new Set(events.slice(0, 6).map((e) => e.context.requestId)).size).toBe(1);
    expect(events[0]!.context.requestId).not.toBe('req-second-page');
  });

  it('reads the served listings with their categories in the statement that logs them, active ones only', async () => {
    const who = await viewer();
    const [a, b, c] = [world.listings[0]![0]!, world.listings[1]![0]!, world.listings[1]![1]!];
    // Taken down after the candidates were read: logged, not shown (and not shown as removed).
    const gone = world.listings[2]![world.listings[2]!.length - 1]!;
    await db.pool.query(`UPDATE marketplace_listings SET status = 'removed' WHERE id = $1`, [gone.id]);
    const service = createServiceDb({
      url: db.url,
      statementTimeoutMs: 10_000,
      poolMax: 1,
      onPoolError: () => {},
    });
    try {
      const page = [a, b, c, gone].map((listing, position) => ({
        item: { id: listing.id, categoryId: listing.categoryId, score: 1 },
        source: 'SIMILAR' as const,
        position,
        propensity: 1,
      }));
      const logged = await recordImpressions(
        { requestId: 'req-logged-page', viewer: who, db: { service } },
        page,
        (d) => d.source,
        { policy: 'epsilon-greedy', session: 'logged-page', basePosition: 0 },
      );
      expect(logged.impressionIds).toHaveLength(4);
      expect([...logged.listings.keys()].sort((x, y) => x - y)).toEqual(
        [a.id, b.id, c.id].sort((x, y) => x - y),
      );
      expect(logged.listings.get(a.id)).toMatchObject({
        id: a.id,
        categoryId: world.categoryIds[0],
        status: 'active',
      });
      expect(logged.categories.map((cat) => cat.slug).sort()).toEqual(
        [world.slugs[0], world.slugs[1]].sort(),
      );
      const events = await learningEvents(db.pool, logged.impressionIds);
      expect(events.map((e) => e.listing_id)).toEqual([a.id, b.id, c.id, gone.id]);
    } finally {
      await service.close();
    }
  });

  it('inserts learning events as lodestar_service with the service identity', async () => {
    await db.pool.query('TRUNCATE test_learning_event_writers');
    await impressions(await viewer(), 3);
    const { rows } = await db.pool.query<{ current_role_name: string; identity_role: string }>(
      'SELECT current_role_name, identity_role FROM test_learning_event_writers',
    );
    expect(rows).toEqual(Array(3).fill({ current_role_name: 'lodestar_service', identity_role: 'service' }));
  });

  describe('are unreadable for users', () => {
    let owner: Viewer & { userId: string };
    let other: Viewer & { userId: string };

    beforeAll(async () => {
      owner = await viewer();
      other = await viewer();
      await impressions(owner, 3);
    });

    it.each([
      ['a plain SELECT', 'SELECT * FROM learning_events'],
      ['a CTE', 'WITH e AS (SELECT listing_id FROM learning_events) SELECT count(*) FROM e'],
      ['a subquery', 'SELECT EXISTS (SELECT 1 FROM learning_events WHERE user_id = $1::uuid)'],
      ['recently_served_listings', `SELECT * FROM recently_served_listings($1::uuid, '1 day', NULL)`],
      ['learning_arm_stats', `SELECT * FROM learning_arm_stats(now() - interval '1 day')`],
    ])('refuses %s as lodestar_app with a user identity (42501)', async (_label, sql) => {
      const state = await asIdentity(db, { userId: other.userId, role: 'user' }, (client) =>
        sqlStateOf(client, sql, sql.includes('$1') ? [owner.userId] : []),
      );
      expect(state).toBe('42501');
    });

    it('refuses SELECT even to the service role (insert-only)', async () => {
      const state = await asIdentity(db, { role: 'service' }, async (client) => {
        await client.query('SET LOCAL ROLE lodestar_service');
        return sqlStateOf(client, 'SELECT count(*) FROM learning_events');
      });
      expect(state).toBe('42501');
    });

    it('returns nothing from recently_served_listings for another user’s id under a user identity', async () => {
      const served = await asIdentity(db, { userId: other.userId, role: 'user' }, async (client) => {
        await client.query('SET LOCAL ROLE lodestar_service');
        const read = async (userId: string) =>
          (
            await client.query<{ id: number }>(
              `SELECT recently_served_listings AS id FROM recently_served_listings($1::uuid, '1 day', NULL)`,
              [userId],
            )
          ).rows;
        return read(owner.userId);
      });
      expect(served).toEqual([]);
      // The owner's impressions exist: the service identity sees them, so the empty answer is the guard.
      const asService = await asIdentity(db, { role: 'service' }, async (client) => {
        await client.query('SET LOCAL ROLE lodestar_service');
        return (
          await client.query<{ id: number }>(
            `SELECT * FROM recently_served_listings($1::uuid, '1 day', NULL) AS id`,
            [owner.userId],
          )
        ).rows;
      });
      expect(asService).toHaveLength(3);
    });
  });

  describe('recordFeedback', () => {
    it('records the reward of the viewer’s own impression once; a retry with the same reward succeeds', async () => {
      const who = await viewer();
      const [imp] = await impressions(who, 2);
      const ok = await h.execute(FEEDBACK, { viewer: who, variables: { id: imp!.id, reward: 0.75 } });
      expect(dataOf(ok)).toEqual({ recordFeedback: { impressionId: imp!.id, reward: 0.75 } });
      expect(await rewardOf(imp!.id)).toBe(0.75);
      const retry = await h.execute(FEEDBACK, { viewer: who, variables: { id: imp!.id, reward: 0.75 } });
      expect(dataOf(retry)).toEqual({ recordFeedback: { impressionId: imp!.id, reward: 0.75 } });
      const changed = await h.execute(FEEDBACK, { viewer: who, variables: { id: imp!.id, reward: 0.2 } });
      expect(expectErrorCode(changed, 'BAD_USER_INPUT').message).toContain('already has a different reward');
      expect(await rewardOf(imp!.id)).toBe(0.75);
    });

    it('refuses someone else’s impression and leaves it unrewarded', async () => {
      const [imp] = await impressions(await viewer(), 1);
      const result = await h.execute(FEEDBACK, {
        viewer: await viewer(),
        variables: { id: imp!.id, reward: 1 },
      });
      expectErrorCode(result, 'BAD_USER_INPUT');
      expect(await rewardOf(imp!.id)).toBeNull();
    });

    it.each([1.5, -0.1])('refuses reward %s with BAD_USER_INPUT', async (reward) => {
      const who = await viewer();
      const [imp] = await impressions(who, 1);
      const result = await h.execute(FEEDBACK, { viewer: who, variables: { id: imp!.id, reward } });
      expect(expectErrorCode(result, 'BAD_USER_INPUT').extensions.field).toBe('reward');
      expect(await rewardOf(imp!.id)).toBeNull();
    });

    it('refuses an id that is not an impression id with BAD_USER_INPUT', async () => {
      const result = await h.execute(FEEDBACK, {
        viewer: await viewer(),
        variables: { id: 'nope', reward: 1 },
      });
      expectErrorCode(result, 'BAD_USER_INPUT');
    });

    it('refuses an anonymous caller with UNAUTHENTICATED', async () => {
      const [imp] = await impressions(await viewer(), 1);
      const result = await h.execute(FEEDBACK, { variables: { id: imp!.id, reward: 1 } });
      expectErrorCode(result, 'UNAUTHENTICATED');
      expect(await rewardOf(imp!.id)).toBeNull();
    });
  });

  describe('interest drift', () => {
    const affinityOf = async (userId: string): Promise<number> => {
      const { rows } = await db.pool.query<{ affinity: number }>(
        'SELECT affinity FROM user_interests WHERE user_id = $1 AND interest_id = $2',
        [userId, world.interestIds[0]],
      );
      return rows[0]!.affinity;
    };

    it('moves the viewer’s interest up on positive feedback and down on "not interested"', async () => {
      const who = await viewer();
      // The top suggestion is from the category of the viewer's one interest.
      const [first] = await impressions(who, 1);
      await h.execute(FEEDBACK, { viewer: who, variables: { id: first!.id, reward: 1 } });
      expect(await affinityOf(who.userId)).toBeCloseTo(0.95, 5);
      await h.execute(HIDE, { viewer: who, variables: { id: String(first!.listingId) } });
      expect(await affinityOf(who.userId)).toBeCloseTo(0.85, 5);
    });

    it('rewards the impression a like of a served listing comes from', async () => {
      const who = await viewer();
      const [imp] = await impressions(who, 1);
      // The like mutation arrives with social writes; the reward rides on the likes table itself.
      await asIdentity(
        db,
        who,
        (c) =>
          c.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [who.userId, imp!.listingId]),
        { commit: true },
      );
      expect(await rewardOf(imp!.id)).toBe(1);
    });
  });

  describe('hideListing', () => {
    it('records reward 0 on the latest impression of that listing only', async () => {
      const who = await viewer();
      // Two sessions (no served window): the same top listing is served twice.
      const earlier = await impressions(who, 3);
      const later = await impressions(who, 3);
      const listingId = earlier[0]!.listingId;
      const latest = later.find((i) => i.listingId === listingId);
      expect(latest, 'the listing is served again in the second session').toBeDefined();
      const result = await h.execute(HIDE, { viewer: who, variables: { id: String(listingId) } });
      expect(dataOf(result)).toEqual({ hideListing: { listingId: String(listingId), hidden: true } });
      expect(await rewardOf(latest!.id)).toBe(0);
      expect(await rewardOf(earlier[0]!.id)).toBeNull();
      const { rowCount } = await db.pool.query(
        'SELECT 1 FROM hidden_listings WHERE user_id = $1 AND listing_id = $2',
        [who.userId, listingId],
      );
      expect(rowCount).toBe(1);
      expect(listingIdsOf(await suggestionsPage(h, who, { first: 10 }))).not.toContain(listingId);
    });

    it('refuses an anonymous caller with UNAUTHENTICATED and an unknown listing with NOT_FOUND', async () => {
      expectErrorCode(
        await h.execute(HIDE, { variables: { id: String(world.listings[0]![0]!.id) } }),
        'UNAUTHENTICATED',
      );
      expectErrorCode(
        await h.execute(HIDE, { viewer: await viewer(), variables: { id: '2147483647' } }),
        'NOT_FOUND',
      );
      expectErrorCode(
        await h.execute(HIDE, { viewer: await viewer(), variables: { id: 'abc' } }),
        'BAD_USER_INPUT',
      );
    });
  });
});
