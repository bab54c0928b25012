import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/signToken.js';
import { loadConfig } from '../../src/config/config.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testRedisUrl } from '../support/env.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { testJwtSecret } from '../support/gateway.js';
import {
  killGatewayProcesses,
  listeningUrl,
  postGraphQLTo,
  startGatewayProcess,
} from '../support/process.js';
import { graphql } from '../support/graphql.js';

const RATE_LIMITS = graphql('{ me { rateLimits { action remaining } } }');

/** Two real gateway processes on one Redis: a user alternating between them meets one shared limit. */
describe('rate limits across gateway processes', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let prefix: string;
  const LIMIT = 4;

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [10]);
    prefix = `lodestar:t:${db.name}:`;
  });

  afterAll(async () => {
    killGatewayProcesses();
    const redis = new Redis(testRedisUrl);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await db?.drop();
  });

  it('refuses the like past the limit on whichever process it reaches, and both report no budget left', async () => {
    const env = {
      DATABASE_URL: db.url,
      JWT_SECRET: testJwtSecret,
      REDIS_URL: testRedisUrl,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_LIKES_PER_MIN: String(LIMIT),
      // A loaded CI machine must not push Redis past the timeout and onto the per-process limiter.
      REDIS_COMMAND_TIMEOUT_MS: '2000',
    };
    const urls = await Promise.all([
      listeningUrl(startGatewayProcess(env)),
      listeningUrl(startGatewayProcess(env)),
    ]);
    const who = await createFeedViewer(db.pool, []);
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, JWT_SECRET: testJwtSecret });
    const auth = {
      authorization: `Bearer ${await signToken(config.auth, { sub: who.userId, role: 'user' })}`,
    };
    const listings = world.listings[0]!;
    const outcomes: string[] = [];
    for (let i = 0; i <= LIMIT; i += 1) {
      const { body, status } = await postGraphQLTo(
        urls[i % 2]!,
        `mutation { likeListing(listingId: "${listings[i]!.id}") { likeCount } }`,
        auth,
      );
      outcomes.push(body.errors?.[0]?.extensions?.code ?? `ok ${status}`);
      if (i === LIMIT) expect(status).toBe(429);
    }
    expect(outcomes).toEqual([...Array<string>(LIMIT).fill('ok 200'), 'RATE_LIMITED']);
    for (const url of urls) {
      const { body } = await postGraphQLTo(url, RATE_LIMITS, auth);
      expect(body.data?.me?.rateLimits.find((r) => r.action === 'LIKE')?.remaining).toBe(0);
    }
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM likes WHERE user_id = $1', [
      who.userId,
    ]);
    expect(rows[0]).toEqual({ n: LIMIT });
  });
});
