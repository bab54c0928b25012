import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueDiscoveryPairs } from '../../src/queue/discovery.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';

describe('enqueueDiscoveryPairs', () => {
  let db: TestDatabase;
  let world: FeedWorld;

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [2, 2]);
  });

  afterAll(async () => {
    await db.drop();
  });

  const keyOf = async (id: string) =>
    (
      await db.pool.query<{ reason: string; idempotency_key: string }>(
        'SELECT reason, idempotency_key FROM marketplace_discovery_queue WHERE id = $1',
        [id],
      )
    ).rows[0];

  it('keeps each reason’s key recipe: once a day for new_interest and gap_severity, every call for ops', async () => {
    const pair = { interestId: world.interestIds[0]!, categoryId: world.categoryIds[0]! };
    const { rows } = await db.pool.query<{ day: string }>(
      `SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day`,
    );
    const day = rows[0]!.day;
    const tail = `${pair.interestId}:${pair.categoryId}`;

    const [interest] = await enqueueDiscoveryPairs(db.pool, 'new_interest', [pair]);
    expect(await keyOf(interest!)).toEqual({
      reason: 'new_interest',
      idempotency_key: `discovery:new_interest:${tail}:${day}`,
    });
    expect(await enqueueDiscoveryPairs(db.pool, 'new_interest', [pair])).toEqual([]);

    const [gap] = await enqueueDiscoveryPairs(db.pool, 'gap_severity', [pair, pair]);
    expect(await keyOf(gap!)).toEqual({
      reason: 'gap_severity',
      idempotency_key: `discovery:gap:${tail}:${day}`,
    });
    expect(await enqueueDiscoveryPairs(db.pool, 'gap_severity', [pair])).toEqual([]);

    const first = await enqueueDiscoveryPairs(db.pool, 'ops', [pair]);
    const second = await enqueueDiscoveryPairs(db.pool, 'ops', [pair]);
    expect([first.length, second.length]).toEqual([1, 1]);
    expect((await keyOf(first[0]!))?.idempotency_key).toMatch(
      new RegExp(`^discovery:ops:${tail}:[0-9a-f-]{36}$`),
    );
  });
});
