import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  embeddingFor,
  insertCategory,
  insertDiscoveryItem,
  insertEvent,
  insertIntentSignal,
  insertInterest,
  insertKernelSample,
  insertLearningEvent,
  insertListing,
  insertProfile,
  insertUserInterest,
} from '../support/fixtures.js';

interface SqlBlock {
  name: string;
  sql: string;
}

/** Every ```sql fenced block, named after the nearest preceding ### heading. */
function parseSqlBlocks(markdown: string): SqlBlock[] {
  const blocks: SqlBlock[] = [];
  let heading = '(no heading)';
  let current: string[] | null = null;
  for (const line of markdown.split(/\r?\n/)) {
    if (current) {
      if (/^\s*```\s*$/.test(line)) {
        const same = blocks.filter(
          (b) => b.name === heading || b.name.startsWith(`${heading} (block `),
        ).length;
        blocks.push({
          name: same === 0 ? heading : `${heading} (block ${same + 1})`,
          sql: current.join('\n'),
        });
        current = null;
      } else {
        current.push(line);
      }
    } else if (/^###\s+/.test(line)) {
      heading = line.replace(/^###\s+/, '').trim();
    } else if (/^\s*```sql\s*$/i.test(line)) {
      current = [];
    }
  }
  if (current) throw new Error(`unterminated sql block under "${heading}"`);
  return blocks;
}

const runbookPath = fileURLToPath(new URL('../fixtures/production-runbook.md', import.meta.url));
const blocks = parseSqlBlocks(readFileSync(runbookPath, 'utf8'));

type Results = pg.QueryResult<Record<string, unknown>>[];
type Check = (client: pg.PoolClient, run: () => Promise<Results>) => Promise<void>;

interface QueueRow {
  id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  lease_token: string | null;
  lease_expires_at: Date | null;
}

const fixture = {
  eventsExpired: [] as number[],
  eventsUnexpired: 0,
  eventsOther: [] as number[],
  discoveryRetry: [] as number[],
  discoveryGiveUp: [] as number[],
  usersWithInterests: [] as string[],
  userWithout: '',
};

async function queueRows(
  client: pg.PoolClient,
  table: string,
  ids: number[],
): Promise<Map<number, QueueRow>> {
  const { rows } = await client.query<QueueRow>(
    `SELECT id, status, attempts, last_error, lease_token, lease_expires_at FROM ${table} WHERE id = ANY($1)`,
    [ids],
  );
  return new Map(rows.map((r) => [Number(r.id), r]));
}

/** What each block must mean, keyed by its runbook heading; other blocks only have to run cleanly. */
const checks: Record<string, Check> = {
  'Worker Health': async (_client, run) => {
    const results = await run();
    const counts = results.filter((r) => r.command === 'SELECT' && r.fields[0]?.name === 'count');
    expect(counts.map((r) => Number(r.rows[0]?.count))).toEqual([1, fixture.eventsExpired.length]);
  },
  'Worker Stuck (p95_age_sec > 300)': async (client, run) => {
    const all = [...fixture.eventsExpired, fixture.eventsUnexpired, ...fixture.eventsOther];
    const before = await queueRows(client, 'events_queue', all);
    await run();
    const after = await queueRows(client, 'events_queue', all);
    for (const id of fixture.eventsExpired) {
      expect(after.get(id)).toMatchObject({ status: 'queued', lease_token: null, lease_expires_at: null });
    }
    expect(after.get(fixture.eventsUnexpired)).toEqual(before.get(fixture.eventsUnexpired));
    expect(after.get(fixture.eventsUnexpired)?.status).toBe('leased');
    for (const id of fixture.eventsOther) expect(after.get(id)).toEqual(before.get(id));
  },
  'Discovery Queue Backlog': async (client, run) => {
    const ids = [...fixture.discoveryRetry, ...fixture.discoveryGiveUp];
    const before = await queueRows(client, 'marketplace_discovery_queue', ids);
    const results = await run();
    expect(results[0]?.rows.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(
      ids.sort((a, b) => a - b),
    );
    const after = await queueRows(client, 'marketplace_discovery_queue', ids);
    for (const id of fixture.discoveryRetry) {
      expect(after.get(id)).toMatchObject({ status: 'queued', attempts: 0, last_error: null });
    }
    for (const id of fixture.discoveryGiveUp) {
      expect(after.get(id)).toMatchObject({ status: 'error', attempts: before.get(id)?.attempts });
      expect(after.get(id)?.last_error).toBe(before.get(id)?.last_error);
    }
  },
  'Vector Health': async (_client, run) => {
    const results = await run();
    expect(results[0]?.rows).toEqual([{ extname: 'vector' }]);
    expect(results[1]?.rows[0]?.pct_has_vec).toBeCloseTo(0.75, 10);
  },
  'Backfill Profile Embeddings': async (client, run) => {
    const results = await run();
    expect(results[0]?.rows.map((r) => r.recompute_profile_embedding)).toEqual(
      fixture.usersWithInterests.map(() => true),
    );
    const { rows } = await client.query<{ user_id: string; has: boolean }>(
      `SELECT user_id, embedding IS NOT NULL AS has FROM profiles WHERE user_id = ANY($1)`,
      [[...fixture.usersWithInterests, fixture.userWithout]],
    );
    const has = new Map(rows.map((r) => [r.user_id, r.has]));
    for (const id of fixture.usersWithInterests) expect(has.get(id)).toBe(true);
    expect(has.get(fixture.userWithout)).toBe(false);
  },
  'Cleanup Old Signals': async (_client, run) => {
    const results = await run();
    expect(results.map((r) => Number(Object.values(r.rows[0] ?? {})[0]))).toEqual([1, 1]);
  },
};

async function seed(q: pg.Pool): Promise<void> {
  const cat = await insertCategory(q);
  const interests: number[] = [];
  for (let i = 0; i < 4; i += 1) {
    interests.push(
      await insertInterest(q, { categoryId: cat, embedding: i < 3 ? embeddingFor(i + 1) : null }),
    );
  }
  const alice = await insertProfile(q);
  const bob = await insertProfile(q);
  fixture.userWithout = await insertProfile(q);
  fixture.usersWithInterests = [alice, bob];
  await insertUserInterest(q, { userId: alice, interestId: interests[0]!, affinity: 0.9 });
  await insertUserInterest(q, { userId: alice, interestId: interests[1]!, affinity: 0.4 });
  await insertUserInterest(q, { userId: bob, interestId: interests[2]!, affinity: 0.7 });
  await insertUserInterest(q, { userId: bob, interestId: interests[3]!, affinity: 0.2 });
  const listing = await insertListing(q, { categoryId: cat, sellerId: bob, embedding: embeddingFor(9) });
  await insertListing(q, { categoryId: cat, status: 'inactive' });
  await q.query(
    `INSERT INTO interest_listing_candidates (interest_id, listing_id, score) VALUES ($1, $2, 0.8)`,
    [interests[0], listing],
  );
  await insertIntentSignal(q, { userId: alice, listingId: listing });
  await insertIntentSignal(q, { userId: alice, listingId: listing, createdAgo: '100 days' });
  await insertLearningEvent(q, { userId: alice, listingId: listing });
  await insertLearningEvent(q, { userId: alice, listingId: listing, createdAgo: '200 days' });
  await insertKernelSample(q, { kernel: 'auth', durationMs: 12 });
  await insertKernelSample(q, { kernel: 'onboarding', durationMs: 80, ok: false });

  fixture.eventsExpired = [
    await insertEvent(q, {
      status: 'leased',
      leaseExpiresIn: '-10 minutes',
      attempts: 1,
      createdAgo: '20 minutes',
    }),
    await insertEvent(q, {
      status: 'leased',
      leaseExpiresIn: '-1 second',
      attempts: 2,
      createdAgo: '9 minutes',
    }),
  ];
  fixture.eventsUnexpired = await insertEvent(q, { status: 'leased', leaseExpiresIn: '10 minutes' });
  fixture.eventsOther = [
    await insertEvent(q, { status: 'queued', idempotencyKey: 'ev-1' }),
    await insertEvent(q, { status: 'done', attempts: 1 }),
    await insertEvent(q, { status: 'error', attempts: 2, lastError: 'boom' }),
    await insertEvent(q, { status: 'error', attempts: 6, lastError: 'boom' }),
  ];

  const d = { interestId: interests[0]!, categoryId: cat };
  await insertDiscoveryItem(q, { ...d, status: 'queued' });
  await insertDiscoveryItem(q, { ...d, status: 'processing', leaseExpiresIn: '-5 minutes' });
  await insertDiscoveryItem(q, { ...d, status: 'processing', leaseExpiresIn: '5 minutes' });
  await insertDiscoveryItem(q, { ...d, status: 'done', attempts: 2 });
  fixture.discoveryRetry = [
    await insertDiscoveryItem(q, { ...d, status: 'error', attempts: 1, lastError: 'timeout' }),
    await insertDiscoveryItem(q, { ...d, status: 'error', attempts: 4, lastError: 'timeout' }),
  ];
  fixture.discoveryGiveUp = [
    await insertDiscoveryItem(q, { ...d, status: 'error', attempts: 5, lastError: 'fatal' }),
    await insertDiscoveryItem(q, { ...d, status: 'error', attempts: 9, lastError: 'fatal' }),
  ];
}

describe('production runbook sql blocks', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.pool);
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('the runbook contains sql blocks to run', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
  });

  it('every block whose meaning is checked is still in the runbook', () => {
    expect(Object.keys(checks).filter((name) => !blocks.some((b) => b.name === name))).toEqual([]);
  });

  for (const block of blocks) {
    it(`runs the "${block.name}" block verbatim without error`, async () => {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        const run = async (): Promise<Results> => {
          // No parameters: the simple query protocol, so the whole block runs as psql would send it.
          const result = (await client.query(block.sql)) as unknown as Results | Results[number];
          return Array.isArray(result) ? result : [result];
        };
        const check = checks[block.name];
        if (check) await check(client, run);
        else await run();
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    });
  }
});
