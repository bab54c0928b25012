import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUrl } from '../../src/db/migrator.js';
import { parseLsn } from '../../src/db/replicas.js';
import {
  embeddingFor,
  insertCategory,
  insertListing,
  insertProfile,
  toVectorLiteral,
} from '../support/fixtures.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { metricValue, postGraphQL } from '../support/http.js';
import {
  ownPostgresAvailable,
  startOwnPostgres,
  startOwnReplica,
  type OwnPostgres,
  type OwnReplica,
} from '../support/ownPostgres.js';
import { testRedisUrl } from '../support/env.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface ListingView {
  listing: { id: string; title: string; commentCount: number; comments: { body: string }[] } | null;
}
const LISTING = `query ($id: ID!) { listing(id: $id) { id title commentCount comments(first: 5) { body } } }`;
const FEATURES = `query ($id: ID!) { listing(id: $id) { features { commentCount } } }`;
const ADD_COMMENT = `mutation ($id: ID!, $body: String!) { addComment(listingId: $id, body: $body) { commentCount } }`;
const REPLICAS = `{ ops { replicas { name state lagSeconds lagBytes replayLsn checkedAt error } alerts { rule firing value message } } }`;

/**
 * Read replicas against a real streaming replica (pg_basebackup -R of a cluster of the test's own, on
 * spare loopback ports): queries read from the replica, a viewer who just wrote reads their write even
 * while the replica's replay is paused, cached features are never filled from a replica that has not
 * replayed the write that invalidated them, a replica too far behind or killed is skipped, and reads go
 * on without an error.
 */
describe.skipIf(!ownPostgresAvailable())('read replicas (DATABASE_READ_URLS)', () => {
  let primary: OwnPostgres;
  let replica: OwnReplica;
  let owner: pg.Pool;
  let replicaAdmin: pg.Pool;
  let gateway: TestGateway;
  let redis: Redis;
  const prefix = `t_ryw_${randomBytes(4).toString('hex')}:`;
  let listingId: number;
  let writer: string;
  let writerToken: string;
  let adminToken: string;

  /** Waits until the replica has replayed everything the primary has written so far. */
  const caughtUp = async () => {
    const { rows } = await owner.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await eventually('the replica to catch up', async () => {
      const r = await replicaAdmin.query<{ done: boolean }>(
        'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
        [rows[0]!.lsn],
      );
      return r.rows[0]?.done ? true : undefined;
    });
  };
  /** caughtUp, and the gateway's monitor has seen it (its next check after the replay). */
  const caughtUpAndChecked = async (g: TestGateway) => {
    const { rows } = await owner.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const target = parseLsn(rows[0]!.lsn);
    await caughtUp();
    await eventually("the gateway's monitor to see the replay", async () => {
      const replay = g.services.replicas.status()[0]?.replayLsn;
      return replay && parseLsn(replay) >= target ? true : undefined;
    });
  };
  const pauseReplay = () => replicaAdmin.query('SELECT pg_wal_replay_pause()');
  const resumeReplay = () => replicaAdmin.query('SELECT pg_wal_replay_resume()');
  const replicaStatus = async (g: TestGateway) => {
    const result = await postGraphQL<{
      ops: {
        replicas: {
          state: string;
          lagSeconds: number | null;
          replayLsn: string | null;
          error: string | null;
        }[];
        alerts: { rule: string; firing: boolean; value: number | null; message: string }[];
      };
    }>(g, REPLICAS, { token: adminToken });
    expect(result.body.errors).toBeUndefined();
    return result.body.data!.ops;
  };
  const readListing = async (g: TestGateway, token?: string) => {
    const result = await postGraphQL<ListingView>(g, LISTING, {
      variables: { id: String(listingId) },
      ...(token ? { token } : {}),
    });
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    return result.body.data!.listing!;
  };
  const reads = async (g: TestGateway, target: string, reason: string) =>
    metricValue(await g.services.metrics.registry.metrics(), 'lodestar_db_reads_total', { target, reason });

  beforeAll(async () => {
    primary = await startOwnPostgres();
    const admin = new pg.Client({ connectionString: primary.url() });
    admin.on('error', () => undefined);
    await admin.connect();
    await admin.query('CREATE DATABASE lodestar');
    await admin.end();
    const url = primary.url('lodestar');
    await migrateUrl(url);
    owner = new pg.Pool({ connectionString: url, max: 4 });
    owner.on('error', () => undefined);
    await owner.query('CREATE ROLE lodestar_test_gateway LOGIN IN ROLE lodestar_app');
    const categoryId = await insertCategory(owner, 'replicas');
    listingId = await insertListing(owner, { categoryId, title: 'first title' });
    writer = await insertProfile(owner, { handle: 'replica_writer' });
    const adminId = await insertProfile(owner, { handle: 'replica_admin', role: 'admin' });

    replica = await startOwnReplica(primary);
    replicaAdmin = new pg.Pool({ connectionString: replica.url('lodestar'), max: 2 });
    replicaAdmin.on('error', () => undefined);
    await caughtUp();

    const at = (port: number) => `postgresql://lodestar_test_gateway@127.0.0.1:${port}/lodestar`;
    gateway = await createTestGateway(
      { url: at(primary.port) },
      {
        DATABASE_READ_URLS: at(replica.port),
        REPLICA_CHECK_MS: '200',
        REPLICA_MAX_LAG_MS: '60000',
        // Every feed page reads its candidates from Postgres (none kept in this process between pages).
        FEED_CANDIDATE_MEMORY_SEC: '0',
        REDIS_URL: testRedisUrl,
        REDIS_KEY_PREFIX: prefix,
        RATE_LIMITS_ENABLED: 'false',
      },
    );
    writerToken = await gateway.token({ sub: writer, role: 'user' });
    adminToken = await gateway.token({ sub: adminId, role: 'admin' });
    redis = new Redis(testRedisUrl, { keyPrefix: prefix });
  }, 120_000);

  afterAll(async () => {
    await resumeReplay().catch(() => undefined);
    await gateway?.close();
    const keys = await redis?.keys(`${prefix}*`);
    if (keys?.length) await redis.del(...keys.map((k) => k.slice(prefix.length)));
    redis?.disconnect();
    await replicaAdmin?.end().catch(() => undefined);
    await owner?.end().catch(() => undefined);
    replica?.destroy();
    primary?.destroy();
  });

  it('reports the replica caught up, and queries read from it while writes go to the primary', async () => {
    const status = await replicaStatus(gateway);
    expect(status.replicas).toHaveLength(1);
    expect(status.replicas[0]).toMatchObject({ state: 'OK', error: null });
    expect(status.replicas[0]!.lagSeconds).toBeLessThan(5);
    expect(status.alerts.find((a) => a.rule === 'replica_lag')).toMatchObject({ firing: false });

    // A change the replica has not replayed shows which server answered.
    await pauseReplay();
    try {
      await owner.query(`UPDATE marketplace_listings SET title = 'second title' WHERE id = $1`, [listingId]);
      const before = await reads(gateway, 'replica', 'replica');
      expect((await readListing(gateway)).title).toBe('first title');
      expect(await reads(gateway, 'replica', 'replica')).toBe(before + 1);
    } finally {
      await resumeReplay();
    }
    await caughtUp();
    expect((await readListing(gateway)).title).toBe('second title');
  });

  it('a viewer reads their own write at once while the replica lags; others see it once it is replayed', async () => {
    await caughtUp();
    // Features cached from the replica before the write (commentCount 0).
    const features = async (token?: string) => {
      const result = await postGraphQL<{ listing: { features: { commentCount: number } } }>(
        gateway,
        FEATURES,
        {
          variables: { id: String(listingId) },
          ...(token ? { token } : {}),
        },
      );
      expect(result.body.errors).toBeUndefined();
      return result.body.data!.listing.features.commentCount;
    };
    expect(await features()).toBe(0);
    await gateway.services.features.settled();

    await pauseReplay();
    try {
      const added = await postGraphQL<{ addComment: { commentCount: number } }>(gateway, ADD_COMMENT, {
        variables: { id: String(listingId), body: 'written while the replica is paused' },
        token: writerToken,
      });
      expect(added.body.errors).toBeUndefined();
      expect(added.body.data!.addComment.commentCount).toBe(1);

      // The writer: every query right after sees the comment (the primary answers: the replica has not
      // replayed their write).
      const ownWrites = await reads(gateway, 'primary', 'own_write');
      for (let i = 0; i < 5; i += 1) {
        const mine = await readListing(gateway, writerToken);
        expect(mine.commentCount).toBe(1);
        expect(mine.comments.map((c) => c.body)).toEqual(['written while the replica is paused']);
      }
      expect(await reads(gateway, 'primary', 'own_write')).toBe(ownWrites + 5);
      // The fence is in Redis, so another gateway would route the writer the same way.
      expect(await redis.get(`ryw:v1:{${writer}}`)).toMatch(/^[0-9a-f]{16}$/);

      // Anyone else reads the replica, which does not have it yet...
      const other = await readListing(gateway);
      expect(other.commentCount).toBe(0);
      expect(other.comments).toEqual([]);
      // ...but the cached features the comment made stale are not refilled from it: the invalidation
      // left the write's WAL position, and the replica has not replayed it, so the primary computes.
      expect(await features()).toBe(1);
      await gateway.services.features.settled();
      expect(await features()).toBe(1);
    } finally {
      await resumeReplay();
    }
    await caughtUp();
    // Replayed: the writer's reads go back to the replica (which has their write), others see it too.
    const replayed = await eventually('the writer to read from the replica again', async () => {
      const before = await reads(gateway, 'replica', 'replayed_own_write');
      const mine = await readListing(gateway, writerToken);
      const after = await reads(gateway, 'replica', 'replayed_own_write');
      return after === before + 1 ? mine : undefined;
    });
    expect(replayed.commentCount).toBe(1);
    expect((await readListing(gateway)).commentCount).toBe(1);
  });

  it('serves every kind of query from the replica without a write reaching it', async () => {
    // Embeddings, so the feed searches, stores the viewer's candidates (on the primary) and then
    // serves the next page from them (the cached read, on the replica).
    const categoryId = await insertCategory(owner, 'replica-feed');
    // Enough of them that the viewer's kept candidates fill pages (a tiny catalogue searches every time).
    await owner.query(
      `INSERT INTO marketplace_listings (category_id, title, price, status, embedding)
       SELECT $1, 'feed ' || g, 10, 'active',
              (SELECT array_agg(sin(g * 7.1 + d))::vector FROM generate_series(1, 384) d)
       FROM generate_series(1, 400) g`,
      [categoryId],
    );
    await owner.query(
      `UPDATE profiles SET embedding = $2::vector, embedding_updated_at = now() WHERE user_id = $1`,
      [writer, toVectorLiteral(embeddingFor(3))],
    );
    await caughtUp();
    const queries: [string, Record<string, unknown>, boolean][] = [
      ['{ categories { id slug } }', {}, false],
      [
        '{ listings(first: 5) { edges { node { id title seller { handle } category { slug } features { likeCount } } } } }',
        {},
        false,
      ],
      ['{ interests(first: 5) { edges { node { id } } } }', {}, false],
      [
        'query ($id: ID!) { similarListings(listingId: $id, first: 3) { score } }',
        { id: String(listingId) },
        false,
      ],
      ['{ me { handle features { followers } } }', {}, true],
      ['{ suggestions(first: 5) { edges { node { listing { id } } } } }', {}, false],
    ];
    // The writer's reads count as replayed_own_write while their fence from the comment above lives.
    const onReplica = async () =>
      (await reads(gateway, 'replica', 'replica')) + (await reads(gateway, 'replica', 'replayed_own_write'));
    const before = await onReplica();
    for (const [query, variables, signedIn] of queries) {
      const result = await postGraphQL(gateway, query, {
        variables,
        ...(signedIn ? { token: writerToken } : {}),
      });
      expect(result.body.errors, query).toBeUndefined();
    }
    // Three feed sessions: the first searches and keeps the viewer's candidates (on the primary); once
    // the replica has replayed them, the next sessions' first pages are read from them on the replica.
    for (let session = 0; session < 3; session += 1) {
      const result = await postGraphQL<{ suggestions: { edges: { node: { listing: { id: string } } }[] } }>(
        gateway,
        '{ suggestions(first: 5) { edges { node { listing { id } } } } }',
        { token: writerToken },
      );
      expect(result.body.errors).toBeUndefined();
      expect(result.body.data!.suggestions.edges).toHaveLength(5);
      // The page's impressions raised the viewer's fence: the next session reads the replica once it
      // has replayed them.
      await caughtUpAndChecked(gateway);
    }
    expect(await onReplica()).toBe(before + queries.length + 3);
    // The replica's generic-plan sessions exist only once the cached-candidates read ran there.
    const { rows } = await replicaAdmin.query<{ application_name: string }>(
      `SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name LIKE 'lodestar-gateway-replica%'`,
    );
    expect(rows.map((r) => r.application_name).sort()).toEqual([
      'lodestar-gateway-replica',
      'lodestar-gateway-replica-check',
      'lodestar-gateway-replica-service',
      'lodestar-gateway-replica-service-generic',
    ]);
  });

  it('never repeats a listing within a feed session while the replica lags behind its pages', async () => {
    await caughtUp();
    await pauseReplay();
    try {
      let after: string | undefined;
      const seen: string[] = [];
      for (let page = 0; page < 4; page += 1) {
        const result = await postGraphQL<{
          suggestions: {
            edges: { node: { listing: { id: string } } }[];
            pageInfo: { endCursor: string | null };
          };
        }>(
          gateway,
          'query ($after: String) { suggestions(first: 5, after: $after) { edges { node { listing { id } } } pageInfo { endCursor } } }',
          { variables: after ? { after } : {}, token: writerToken },
        );
        expect(result.body.errors).toBeUndefined();
        seen.push(...result.body.data!.suggestions.edges.map((e) => e.node.listing.id));
        after = result.body.data!.suggestions.pageInfo.endCursor ?? undefined;
      }
      expect(seen).toHaveLength(20);
      // Each page's impressions raised the viewer's fence: the next page's candidates were not read from
      // the paused replica, which has not seen what the session already served.
      expect(new Set(seen).size).toBe(20);
    } finally {
      await resumeReplay();
    }
  });

  it('skips a replica further behind than REPLICA_MAX_LAG_MS, and the alert fires', async () => {
    await caughtUp();
    const at = (port: number) => `postgresql://lodestar_test_gateway@127.0.0.1:${port}/lodestar`;
    const strict = await createTestGateway(
      { url: at(primary.port) },
      {
        DATABASE_READ_URLS: at(replica.port),
        REPLICA_CHECK_MS: '200',
        REPLICA_MAX_LAG_MS: '1000',
        ALERT_REPLICA_LAG_SEC: '1',
        REDIS_URL: testRedisUrl,
        REDIS_KEY_PREFIX: prefix,
        RATE_LIMITS_ENABLED: 'false',
      },
    );
    try {
      await pauseReplay();
      await owner.query(`UPDATE marketplace_listings SET title = 'third title' WHERE id = $1`, [listingId]);
      const status = await eventually('the replica to count as lagging', async () => {
        const s = await replicaStatus(strict);
        return s.replicas[0]?.state === 'LAGGING' ? s : undefined;
      });
      expect(status.replicas[0]!.lagSeconds).toBeGreaterThan(1);
      const alert = status.alerts.find((a) => a.rule === 'replica_lag')!;
      expect(alert.firing).toBe(true);
      expect(alert.message).toContain('behind the primary');
      // Its reads are the primary's: the new title, not the replica's old one.
      expect((await readListing(strict)).title).toBe('third title');
      expect(await reads(strict, 'primary', 'no_replica')).toBeGreaterThan(0);
      const text = await strict.services.metrics.registry.metrics();
      expect(
        metricValue(text, 'lodestar_db_replica_up', { replica: `127.0.0.1:${replica.port}/lodestar` }),
      ).toBe(0);
      expect(
        metricValue(text, 'lodestar_db_replica_lag_seconds', {
          replica: `127.0.0.1:${replica.port}/lodestar`,
        }),
      ).toBeGreaterThan(1);
    } finally {
      await resumeReplay();
      await strict.close();
    }
    await caughtUp();
  });

  it('a killed replica sends every read to the primary without an error', async () => {
    await caughtUp();
    const failures: string[] = [];
    const load = (async () => {
      for (let i = 0; i < 60; i += 1) {
        const result = await postGraphQL<ListingView>(gateway, LISTING, {
          variables: { id: String(listingId) },
          ...(i % 2 === 0 ? { token: writerToken } : {}),
        });
        if (result.status !== 200 || result.body.errors) failures.push(result.raw);
        await sleep(10);
      }
    })();
    await sleep(150);
    replica.stopImmediate();
    await load;
    expect(failures).toEqual([]);
    const status = await eventually('the replica to count as down', async () => {
      const s = await replicaStatus(gateway);
      return s.replicas[0]?.state === 'DOWN' ? s : undefined;
    });
    expect(status.alerts.find((a) => a.rule === 'replica_lag')).toMatchObject({ firing: true });
    expect((await readListing(gateway)).title).toBe('third title');
    expect(await reads(gateway, 'primary', 'no_replica')).toBeGreaterThan(0);
  });
});
