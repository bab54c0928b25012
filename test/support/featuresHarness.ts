import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { expect } from 'vitest';
import type { Queryable } from './fixtures.js';
import { graphql, type ResultOf } from './graphql.js';

/**
 * Support for the feature store tests: the SQL truth the features are checked against (plain SQL on
 * the base tables, independent of user_features()/listing_features()), recorders for SQL statements
 * and Redis commands, metric readers and a throwaway redis-server that a test may pause, kill and
 * restart without touching the shared one.
 */

export const USER_FEATURE_FIELDS = graphql(`
  fragment UserFeatureFields on UserFeatures {
    userId
    interestCount
    topCategories {
      categoryId
      slug
      affinity
    }
    likesGiven
    likesReceived
    commentsGiven
    commentsReceived
    followsGiven
    followers
    lastActivityAt
    feedImpressions30d
    feedCtr30d
  }
`);

export const LISTING_FEATURE_FIELDS = graphql(`
  fragment ListingFeatureFields on ListingFeatures {
    categoryId
    categorySlug
    likeCount
    commentCount
    popularity
    ageSeconds
    feedImpressions30d
    feedCtr30d
  }
`);

export type UserFeaturesShown = ResultOf<typeof USER_FEATURE_FIELDS>;
export type ListingFeaturesShown = ResultOf<typeof LISTING_FEATURE_FIELDS>;

/** A user's features as the product defines them, from the base tables (read as the owner, past RLS). */
export async function userFeaturesTruth(q: Queryable, userId: string): Promise<UserFeaturesShown> {
  const { rows } = await q.query<{
    interest_count: number;
    likes_given: number;
    likes_received: number;
    comments_given: number;
    comments_received: number;
    follows_given: number;
    followers: number;
    last_activity_at: Date | null;
    impressions: number;
    rewards: number;
  }>(
    `SELECT (SELECT count(*) FROM user_interests WHERE user_id = $1)::int AS interest_count,
            (SELECT count(*) FROM likes WHERE user_id = $1)::int AS likes_given,
            (SELECT count(*) FROM likes k JOIN marketplace_listings l ON l.id = k.listing_id
              WHERE l.seller_id = $1)::int AS likes_received,
            (SELECT count(*) FROM comments WHERE user_id = $1 AND deleted_at IS NULL)::int AS comments_given,
            (SELECT count(*) FROM comments m JOIN marketplace_listings l ON l.id = m.listing_id
              WHERE l.seller_id = $1 AND m.deleted_at IS NULL)::int AS comments_received,
            (SELECT count(*) FROM follows WHERE follower_id = $1)::int AS follows_given,
            (SELECT count(*) FROM follows WHERE followee_id = $1)::int AS followers,
            greatest((SELECT max(created_at) FROM likes WHERE user_id = $1),
                     (SELECT max(created_at) FROM comments WHERE user_id = $1),
                     (SELECT max(created_at) FROM follows WHERE follower_id = $1),
                     (SELECT max(created_at) FROM intent_signals WHERE user_id = $1)) AS last_activity_at,
            (SELECT count(*) FROM learning_events
              WHERE user_id = $1 AND created_at >= now() - interval '30 days')::int AS impressions,
            (SELECT coalesce(sum(reward), 0) FROM learning_events
              WHERE user_id = $1 AND created_at >= now() - interval '30 days')::float8 AS rewards`,
    [userId],
  );
  const r = rows[0]!;
  const { rows: interests } = await q.query<{ category_id: number; slug: string; affinity: number }>(
    `SELECT ic.category_id, c.slug, ui.affinity
       FROM user_interests ui
       JOIN interest_catalog ic ON ic.id = ui.interest_id
       JOIN categories c ON c.id = ic.category_id
      WHERE ui.user_id = $1`,
    [userId],
  );
  const byCategory = new Map<number, { categoryId: number; slug: string; affinity: number }>();
  for (const i of interests) {
    const entry = byCategory.get(i.category_id) ?? { categoryId: i.category_id, slug: i.slug, affinity: 0 };
    entry.affinity += i.affinity;
    byCategory.set(i.category_id, entry);
  }
  const topCategories = [...byCategory.values()]
    .sort((a, b) => b.affinity - a.affinity || a.categoryId - b.categoryId)
    .slice(0, 5)
    .map((c) => ({ categoryId: String(c.categoryId), slug: c.slug, affinity: c.affinity }));
  return {
    userId,
    interestCount: r.interest_count,
    topCategories,
    likesGiven: r.likes_given,
    likesReceived: r.likes_received,
    commentsGiven: r.comments_given,
    commentsReceived: r.comments_received,
    followsGiven: r.follows_given,
    followers: r.followers,
    lastActivityAt: r.last_activity_at?.toISOString() ?? null,
    feedImpressions30d: r.impressions,
    feedCtr30d: r.impressions > 0 ? r.rewards / r.impressions : null,
  };
}

/** Listing features from the base tables; `ageSeconds` as of the moment of the query. */
export async function listingFeaturesTruth(
  q: Queryable,
  ids: readonly number[],
): Promise<Map<number, ListingFeaturesShown>> {
  const { rows } = await q.query<{
    id: number;
    category_id: number;
    slug: string;
    like_count: number;
    comment_count: number;
    popularity: number;
    age_seconds: number;
    impressions: number;
    rewards: number;
  }>(
    `SELECT l.id, l.category_id, c.slug,
            (SELECT count(*) FROM likes k WHERE k.listing_id = l.id)::int AS like_count,
            (SELECT count(*) FROM comments m WHERE m.listing_id = l.id AND m.deleted_at IS NULL)::int AS comment_count,
            l.popularity,
            extract(epoch FROM clock_timestamp() - l.created_at)::float8 AS age_seconds,
            (SELECT count(*) FROM learning_events e
              WHERE e.listing_id = l.id AND e.created_at >= now() - interval '30 days')::int AS impressions,
            (SELECT coalesce(sum(e.reward), 0) FROM learning_events e
              WHERE e.listing_id = l.id AND e.created_at >= now() - interval '30 days')::float8 AS rewards
       FROM marketplace_listings l JOIN categories c ON c.id = l.category_id
      WHERE l.id = ANY ($1::int[])`,
    [ids],
  );
  return new Map(
    rows.map((r) => [
      r.id,
      {
        categoryId: String(r.category_id),
        categorySlug: r.slug,
        likeCount: r.like_count,
        commentCount: r.comment_count,
        popularity: r.popularity,
        ageSeconds: r.age_seconds,
        feedImpressions30d: r.impressions,
        feedCtr30d: r.impressions > 0 ? r.rewards / r.impressions : null,
      },
    ]),
  );
}

/** An asymmetric matcher for a float to 6 digits (null stays null). */
const close = (n: number | null): unknown => (n === null ? null : (expect.closeTo(n, 6) as unknown));

/** Asserts user features equal the truth; float sums (affinity of real columns, CTR) to 6 digits. */
export function expectUserFeatures(shown: UserFeaturesShown, truth: UserFeaturesShown): void {
  expect(shown).toEqual({
    ...truth,
    topCategories: truth.topCategories.map((c) => ({ ...c, affinity: close(c.affinity) })),
    feedCtr30d: close(truth.feedCtr30d),
  });
}

/** Asserts listing features equal the truth; the age (a moving target) to within `ageToleranceSec`. */
export function expectListingFeatures(
  shown: ListingFeaturesShown | Partial<ListingFeaturesShown>,
  truth: ListingFeaturesShown,
  ageToleranceSec = 5,
): void {
  const expected: Record<string, unknown> = { ...truth, feedCtr30d: close(truth.feedCtr30d) };
  for (const key of Object.keys(expected)) if (!(key in shown)) delete expected[key];
  if ('ageSeconds' in shown) {
    expect(Math.abs(shown.ageSeconds! - truth.ageSeconds)).toBeLessThan(ageToleranceSec);
    expected.ageSeconds = shown.ageSeconds;
  }
  expect(shown).toEqual(expected);
}

type Query = (...args: unknown[]) => unknown;

export interface StatementRecorder {
  /** Statement texts sent by any pg client (gateway pool, Prisma's adapter, the service pool). */
  statements: string[];
  /** Holds back the next statement matching `pattern` until `release()`; `reached` resolves when it is sent. */
  hold: (pattern: RegExp) => { reached: Promise<void>; release: () => void };
  restore: () => void;
}

/** Patches pg.Client.prototype.query (the service path's pool goes through it too). */
export function recordStatements(): StatementRecorder {
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  const holds: { pattern: RegExp; arrived: () => void; gate: Promise<void> }[] = [];
  const recorder: StatementRecorder = {
    statements: [],
    hold: (pattern) => {
      let arrived!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((resolve) => (arrived = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      holds.push({ pattern, arrived, gate });
      return { reached, release };
    },
    restore: () => {
      proto.query = original;
    },
  };
  proto.query = function (this: unknown, ...args: unknown[]): unknown {
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
    const statement = typeof text === 'string' ? text : '<non-text query>';
    recorder.statements.push(statement);
    const held = holds.findIndex((h) => h.pattern.test(statement));
    if (held < 0) return Reflect.apply(original, this, args);
    const [{ arrived, gate }] = holds.splice(held, 1) as [(typeof holds)[number]];
    arrived();
    // pg-pool's pool.query calls client.query with a callback; Prisma's adapter uses the promise.
    if (typeof args[args.length - 1] === 'function') {
      void gate.then(() => Reflect.apply(original, this, args));
      return undefined;
    }
    return gate.then(() => Reflect.apply(original, this, args) as Promise<unknown>);
  };
  return recorder;
}

export interface RedisMonitor {
  /** Commands (name lower-cased, then args) touching keys under the prefix, in the order Redis ran them. */
  commands: string[][];
  /** Resolves once every command Redis ran before this call has been recorded. */
  sync: () => Promise<void>;
  close: () => void;
}

/** Records the commands a gateway sends for one key prefix, with MONITOR on a separate connection. */
export async function monitorRedis(url: string, prefix: string): Promise<RedisMonitor> {
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  const monitor = await client.monitor();
  const commands: string[][] = [];
  let seq = 0;
  const waiting = new Map<string, () => void>();
  monitor.on('monitor', (_time: string, args: string[]) => {
    const [name = '', ...rest] = args;
    const key = rest[0] ?? '';
    if (name.toLowerCase() === 'exists' && waiting.has(key)) {
      waiting.get(key)!();
      waiting.delete(key);
      return;
    }
    if (rest.some((a) => a.startsWith(prefix))) commands.push([name.toLowerCase(), ...rest]);
  });
  return {
    commands,
    sync: async () => {
      seq += 1;
      const marker = `${prefix}monitor-sync:${seq}`;
      const seen = new Promise<void>((resolve) => waiting.set(marker, resolve));
      await client.exists(marker);
      await seen;
    },
    close: () => {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

/** Deletes every key under the prefix (KEYS is fine on a test server). */
export async function clearPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

interface MetricLike {
  get: () => Promise<{ values: { labels: Record<string, string | number | undefined>; value: number }[] }>;
}

/** Sum of a counter's or gauge's values whose labels include `labels`. */
export async function metricValue(metric: MetricLike, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** A free TCP port on 127.0.0.1 (free when asked; good enough for a test server). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port assigned')),
      );
    });
  });
}

export interface ThrowawayRedis {
  port: number;
  url: string;
  /** SIGKILLs the server and waits until it has exited. */
  kill: () => Promise<void>;
}

/**
 * A redis-server of its own (no persistence) on `port`, ready to answer. Tests pause, kill and restart
 * it; the shared Redis other test files use is never disturbed. Kill it in afterAll.
 */
export async function startRedisServer(port?: number): Promise<ThrowawayRedis> {
  const p = port ?? (await freePort());
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${p}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') break;
      } catch (error) {
        if (attempt >= 50 || child.exitCode !== null) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    probe.disconnect();
  }
  return {
    port: p,
    url,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
