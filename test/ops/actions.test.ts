import type { ExecutionResult } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runOpsAction } from '../../src/ops/actions.js';
import {
  embeddingFor,
  insertCategory,
  insertIntentSignal,
  insertInterest,
  insertLearningEvent,
  insertListing,
  insertProfile,
  insertUserInterest,
} from '../support/fixtures.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { countWhere, openOpsFile, type OpsFile } from '../support/opsHarness.js';
import { queueRow, waitUntil } from '../support/workerHarness.js';
import { graphql, type ResultOf } from '../support/graphql.js';

/** The runbook's maintenance actions and the checks on their arguments, as an admin runs them. */

const ENQUEUE = graphql(`
  mutation Enqueue($interestId: Int!, $categoryId: Int) {
    enqueueDiscovery(interestId: $interestId, categoryId: $categoryId) {
      enqueued
      itemId
      interestId
      categoryId
      auditId
    }
  }
`);

describe('ops maintenance actions', () => {
  let file: OpsFile;
  let categoryId: number;
  let otherCategoryId: number;
  let interestId: number;
  let userId: string;
  let listingId: number;

  beforeAll(async () => {
    file = await openOpsFile();
    categoryId = await insertCategory(file.db.pool);
    otherCategoryId = await insertCategory(file.db.pool);
    interestId = await insertInterest(file.db.pool, { categoryId, embedding: embeddingFor(7) });
    userId = await insertProfile(file.db.pool);
    listingId = await insertListing(file.db.pool, { categoryId, embedding: embeddingFor(8) });
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
  });

  afterAll(async () => {
    await file?.close();
  });

  it('gcIntentSignals deletes signals past the retention and says how many', async () => {
    for (const ago of ['100 days', '95 days', '40 days', '10 days', '0 seconds']) {
      await insertIntentSignal(file.db.pool, { userId, listingId, createdAgo: ago });
    }
    const byDefault = await file.data(graphql('mutation { gcIntentSignals { deleted } }'));
    // The runbook's default retention: 90 days.
    expect(byDefault.gcIntentSignals.deleted).toBe(2);
    expect(await countWhere(file.db.pool, 'intent_signals')).toBe(3);

    const shorter = await file.data(graphql('mutation { gcIntentSignals(retentionDays: 30) { deleted } }'));
    expect(shorter.gcIntentSignals.deleted).toBe(1);
    expect(await countWhere(file.db.pool, 'intent_signals', `created_at < now() - interval '30 days'`)).toBe(
      0,
    );
    expect(await countWhere(file.db.pool, 'intent_signals')).toBe(2);
  });

  it('gcLearningEvents deletes learning events past the retention and says how many', async () => {
    for (const ago of ['200 days', '181 days', '100 days', '0 seconds']) {
      await insertLearningEvent(file.db.pool, { userId, listingId, createdAgo: ago });
    }
    const byDefault = await file.data(graphql('mutation { gcLearningEvents { deleted } }'));
    // 180 days by default.
    expect(byDefault.gcLearningEvents.deleted).toBe(2);
    const shorter = await file.data(graphql('mutation { gcLearningEvents(retentionDays: 90) { deleted } }'));
    expect(shorter.gcLearningEvents.deleted).toBe(1);
    expect(await countWhere(file.db.pool, 'learning_events')).toBe(1);
    const again = await file.data(graphql('mutation { gcLearningEvents(retentionDays: 90) { deleted } }'));
    expect(again.gcLearningEvents.deleted).toBe(0);
  });

  it('analyzeHotTables analyzes and names the hot tables', async () => {
    const { analyzeHotTables } = await file.data(graphql('mutation { analyzeHotTables { tables } }'));
    expect(analyzeHotTables.tables).toEqual([
      'interest_catalog',
      'profiles',
      'marketplace_listings',
      'events_queue',
      'marketplace_discovery_queue',
    ]);
  });

  it('decayInterests decays interests not reinforced for a week and says how many', async () => {
    const stale = await insertProfile(file.db.pool);
    const fresh = await insertProfile(file.db.pool);
    await insertUserInterest(file.db.pool, {
      userId: stale,
      interestId,
      affinity: 0.5,
      reinforcedAt: new Date(Date.now() - 15 * 86_400_000).toISOString(),
    });
    await insertUserInterest(file.db.pool, { userId: fresh, interestId, affinity: 0.5 });
    const { decayInterests } = await file.data(graphql('mutation { decayInterests { decayed } }'));
    expect(decayInterests.decayed).toBe(1);
    const { rows } = await file.db.pool.query<{ user_id: string; affinity: number }>(
      'SELECT user_id, affinity FROM user_interests WHERE user_id = ANY($1::uuid[])',
      [[stale, fresh]],
    );
    // Two whole weeks: 0.5 × 0.98².
    expect(rows.find((r) => r.user_id === stale)?.affinity).toBeCloseTo(0.5 * 0.98 ** 2, 5);
    expect(rows.find((r) => r.user_id === fresh)?.affinity).toBe(0.5);
    // Decay is applied up to now: running again decays nothing more.
    const again = await file.data(graphql('mutation { decayInterests { decayed } }'));
    expect(again.decayInterests.decayed).toBe(0);
  });

  it('enqueueDiscovery queues the interest in its own category, and returns the pending item on a second call', async () => {
    const first = await file.data(ENQUEUE, { interestId });
    expect(first.enqueueDiscovery).toMatchObject({
      enqueued: true,
      interestId: String(interestId),
      categoryId: String(categoryId),
    });
    const item = first.enqueueDiscovery.itemId;
    expect(await queueRow(file.db.pool, 'discovery', item)).toMatchObject({ status: 'queued', attempts: 0 });
    const { rows } = await file.db.pool.query<{ interest_id: number; category_id: number; reason: string }>(
      'SELECT interest_id, category_id, reason FROM marketplace_discovery_queue WHERE id = $1',
      [item],
    );
    expect(rows[0]).toEqual({ interest_id: interestId, category_id: categoryId, reason: 'ops' });

    const second = await file.data(ENQUEUE, { interestId });
    expect(second.enqueueDiscovery).toMatchObject({ enqueued: false, itemId: item });
    // Still pending while a worker runs it.
    await file.db.pool.query(
      `UPDATE marketplace_discovery_queue SET status = 'processing', lease_token = gen_random_uuid(),
              lease_expires_at = now() + interval '1 minute' WHERE id = $1`,
      [item],
    );
    const running = await file.data(ENQUEUE, { interestId, categoryId });
    expect(running.enqueueDiscovery).toMatchObject({ enqueued: false, itemId: item });
    expect(await countWhere(file.db.pool, 'marketplace_discovery_queue')).toBe(1);

    // Once it is done, discovery can be queued again.
    await file.db.pool.query(
      `UPDATE marketplace_discovery_queue SET status = 'done', lease_token = NULL, lease_expires_at = NULL
        WHERE id = $1`,
      [item],
    );
    const again = await file.data(ENQUEUE, { interestId });
    expect(again.enqueueDiscovery.enqueued).toBe(true);
    expect(again.enqueueDiscovery.itemId).not.toBe(item);

    // Another category is another pair.
    const elsewhere = await file.data(ENQUEUE, {
      interestId,
      categoryId: otherCategoryId,
    });
    expect(elsewhere.enqueueDiscovery).toMatchObject({ enqueued: true, categoryId: String(otherCategoryId) });
    expect(await countWhere(file.db.pool, 'marketplace_discovery_queue', `status = 'queued'`)).toBe(2);
  });

  it('enqueueDiscovery refuses an unknown interest (NOT_FOUND) and an unknown category (BAD_USER_INPUT)', async () => {
    const before = await countWhere(file.db.pool, 'marketplace_discovery_queue');
    const missingInterest = expectErrorCode(
      await file.execute(ENQUEUE, { interestId: 2_000_000 }),
      'NOT_FOUND',
    );
    expect(missingInterest.message).toContain('interest 2000000');
    const missingCategory = expectErrorCode(
      await file.execute(ENQUEUE, { interestId, categoryId: 2_000_000 }),
      'BAD_USER_INPUT',
    );
    expect(missingCategory.extensions.field).toBe('categoryId');
    expect(missingCategory.message).toContain('2000000');
    expect(await countWhere(file.db.pool, 'marketplace_discovery_queue')).toBe(before);
  });

  it('two enqueueDiscovery calls at the same moment queue one item for the pair', async () => {
    const racedInterest = await insertInterest(file.db.pool, { categoryId, embedding: embeddingFor(9) });
    // Hold back every insert into the queue until both calls have checked for a pending item.
    const blocker = await file.db.pool.connect();
    let results: ExecutionResult<ResultOf<typeof ENQUEUE>>[];
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE marketplace_discovery_queue IN SHARE ROW EXCLUSIVE MODE');
      const calls = [0, 1].map(() => file.execute(ENQUEUE, { interestId: racedInterest }));
      await waitUntil(async () => {
        const { rows } = await file.db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
          [file.db.name],
        );
        return rows[0]!.n === 2;
      }, 'both calls to wait');
      await blocker.query('COMMIT');
      results = await Promise.all(calls);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
    }
    const shown = results.map((r) => dataOf(r).enqueueDiscovery);
    expect(shown.map((r) => r.enqueued).sort()).toEqual([false, true]);
    expect(shown[0]!.itemId).toBe(shown[1]!.itemId);
    expect(
      await countWhere(file.db.pool, 'marketplace_discovery_queue', `interest_id = ${racedInterest}`),
    ).toBe(1);
  });

  it.each([
    ['requeueDiscoveryErrors(maxAttempts: 0) { requeued }', 'maxAttempts'],
    ['requeueDiscoveryErrors(maxAttempts: 1001) { requeued }', 'maxAttempts'],
    ['backfillProfileEmbeddings(batchSize: 5000) { progress { processed } }', 'batchSize'],
    ['backfillProfileEmbeddings(batchSize: 0) { progress { processed } }', 'batchSize'],
    ['backfillProfileEmbeddings(maxBatches: 0) { progress { processed } }', 'maxBatches'],
    ['gcIntentSignals(retentionDays: 0) { deleted }', 'retentionDays'],
    ['gcLearningEvents(retentionDays: 4000) { deleted }', 'retentionDays'],
    ['enqueueDiscovery(interestId: 0) { enqueued }', 'interestId'],
    ['enqueueDiscovery(interestId: 1, categoryId: -1) { enqueued }', 'categoryId'],
    ['rebuildVectorIndex(index: "profiles_embedding_hnsw", m: 1) { options }', 'm'],
    [
      'rebuildVectorIndex(index: "profiles_embedding_hnsw", efConstruction: 2000) { options }',
      'efConstruction',
    ],
    ['rebuildVectorIndex(index: "marketplace_listings_embedding_ivfflat", lists: 0) { options }', 'lists'],
  ])('%s is refused with BAD_USER_INPUT naming %s', async (selection, argument) => {
    const error = expectErrorCode(await file.execute(`mutation { ${selection} }`), 'BAD_USER_INPUT');
    expect(error.extensions.field).toBe(argument);
    expect(error.message).toContain(argument);
  });

  it('refused arguments run nothing: the failed discovery item stays failed', async () => {
    const { rows } = await file.db.pool.query<{ id: string }>(
      `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason, status, attempts, last_error)
       VALUES ($1, $2, 'test', 'error', 1, 'boom') RETURNING id::text`,
      [interestId, categoryId],
    );
    const id = rows[0]!.id;
    expectErrorCode(
      await file.execute('mutation { requeueDiscoveryErrors(maxAttempts: 0) { requeued } }'),
      'BAD_USER_INPUT',
    );
    expect(await queueRow(file.db.pool, 'discovery', id)).toMatchObject({ status: 'error', attempts: 1 });
    await file.db.pool.query('DELETE FROM marketplace_discovery_queue WHERE id = $1', [id]);
  });

  it('runOpsAction refuses an argument the action does not take, naming it', async () => {
    await expect(
      runOpsAction(file.runner(), 'requeueDiscoveryErrors', { maxAttemps: 6 }),
    ).rejects.toMatchObject({
      message: expect.stringContaining('maxAttemps') as unknown,
      extensions: { code: 'BAD_USER_INPUT', field: 'maxAttemps' },
    });
    await expect(runOpsAction(file.runner(), 'analyzeHotTables', { tables: 'x' })).rejects.toMatchObject({
      // Every action takes a reason (recorded in the audit row), and analyzeHotTables nothing else.
      message: expect.stringContaining('it takes reason') as unknown,
      extensions: { code: 'BAD_USER_INPUT', field: 'tables' },
    });
  });

  it('runOpsAction coerces the CLI’s string arguments like GraphQL’s numbers', async () => {
    const { result } = await runOpsAction(file.runner(), 'requeueDiscoveryErrors', { maxAttempts: '9' });
    expect(result).toEqual({ requeued: 0, maxAttempts: 9 });
    await expect(
      runOpsAction(file.runner(), 'requeueDiscoveryErrors', { maxAttempts: 'many' }),
    ).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'maxAttempts' } });
  });
});
