import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runOpsAction } from '../../src/ops/actions.js';
import { embeddingFor, insertCategory, insertInterest } from '../support/fixtures.js';
import { countWhere, openOpsFile, type OpsFile } from '../support/opsHarness.js';
import { graphql } from '../support/graphql.js';

/**
 * Runbook "Backfill Profile Embeddings": every user with interests, in keyset batches of 1,000, each
 * committed with its cursor, so a backfill stopped for any reason resumes where it stopped.
 */

const USERS = 2500;

const PROGRESS_FIELDS = graphql(`
  fragment ProgressFields on BackfillProgress {
    total
    processed
    updated
    batches
    batchesRun
    remaining
    cursor
    done
    startedAt
    finishedAt
  }
`);

const BACKFILL = graphql(
  `
    mutation Backfill($batchSize: Int, $maxBatches: Int, $restart: Boolean) {
      backfillProfileEmbeddings(batchSize: $batchSize, maxBatches: $maxBatches, restart: $restart) {
        auditId
        progress {
          ...ProgressFields
        }
      }
    }
  `,
  [PROGRESS_FIELDS],
);

const SAVED = graphql(
  `
    {
      ops {
        backfill {
          ...ProgressFields
        }
      }
    }
  `,
  [PROGRESS_FIELDS],
);

const COVERAGE_ALERT = graphql(`
  {
    ops {
      alerts {
        rule
        firing
        value
      }
    }
  }
`);

describe('profile embedding backfill', () => {
  let file: OpsFile;
  /** The users with interests, in the backfill's (uuid) order. */
  let userIds: string[];
  let withoutInterests: string[];

  const backfill = async (variables: { batchSize?: number; maxBatches?: number; restart?: boolean } = {}) =>
    (await file.data(BACKFILL, variables)).backfillProfileEmbeddings.progress;
  const saved = async () => (await file.data(SAVED)).ops.backfill;
  const withEmbedding = () => countWhere(file.db.pool, 'profiles', 'embedding IS NOT NULL');
  /** Recomputes per user since the last reset (a trigger logs every one). */
  const recomputes = async () => {
    const { rows } = await file.db.pool.query<{ total: number; users: number; most: number | null }>(
      `SELECT count(*)::int AS total, count(DISTINCT user_id)::int AS users,
              (SELECT max(n)::int FROM (SELECT count(*) AS n FROM backfill_recomputes GROUP BY user_id) c) AS most
         FROM backfill_recomputes`,
    );
    return rows[0]!;
  };
  const coverageAlert = async () =>
    (await file.data(COVERAGE_ALERT)).ops.alerts.find((a) => a.rule === 'profile_embeddings_coverage');

  beforeAll(async () => {
    // Batches of 1,000 must not hit the 5 s timeout on a busy test machine; the limit is not under test here.
    file = await openOpsFile({ STATEMENT_TIMEOUT_MS: '120000' });
    const pool = file.db.pool;
    // Nor is the look-alike index: keeping it up to date through 10,000 recomputes is most of the run time.
    await pool.query('DROP INDEX profiles_embedding_hnsw');
    const categoryId = await insertCategory(pool);
    const interests = [
      await insertInterest(pool, { categoryId, embedding: embeddingFor(11) }),
      await insertInterest(pool, { categoryId, embedding: embeddingFor(12) }),
    ];
    // Bulk fixtures in SQL: 2,500 users with two interests each, and 10 users with none.
    const { rows } = await pool.query<{ user_id: string }>(
      `INSERT INTO profiles (handle, display_name)
       SELECT 'bf_' || g, 'Backfill ' || g FROM generate_series(1, $1) g RETURNING user_id::text`,
      [USERS],
    );
    userIds = rows.map((r) => r.user_id).sort();
    await pool.query(
      `INSERT INTO user_interests (user_id, interest_id, affinity)
       SELECT u, i, 0.5 + (random() * 0.4)::real FROM unnest($1::uuid[]) AS u, unnest($2::int[]) AS i`,
      [userIds, interests],
    );
    const idle = await pool.query<{ user_id: string }>(
      `INSERT INTO profiles (handle, display_name)
       SELECT 'idle_' || g, 'Idle ' || g FROM generate_series(1, 10) g RETURNING user_id::text`,
    );
    withoutInterests = idle.rows.map((r) => r.user_id);
    await pool.query(`
      CREATE TABLE backfill_recomputes (user_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE FUNCTION log_recompute() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO backfill_recomputes (user_id) VALUES (NEW.user_id);
        RETURN NEW;
      END $$;
      CREATE TRIGGER profiles_log_recompute AFTER UPDATE OF embedding_updated_at ON profiles
        FOR EACH ROW WHEN (NEW.embedding_updated_at IS NOT NULL) EXECUTE FUNCTION log_recompute();
      CREATE FUNCTION fail_recompute() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'simulated crash while recomputing %', NEW.user_id;
      END $$;`);
  });

  beforeEach(async () => {
    // Each test starts from no backfill at all and no embedding.
    await file.db.pool.query('DELETE FROM ops_backfills');
    await file.db.pool.query('UPDATE profiles SET embedding = NULL, embedding_updated_at = NULL');
    await file.db.pool.query('TRUNCATE backfill_recomputes');
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
  });

  afterAll(async () => {
    await file?.close();
  });

  it('backfills 2,500 users with interests in 3 batches of 1,000, once each', async () => {
    expect(await saved()).toBeNull();
    expect(await coverageAlert()).toEqual({ rule: 'profile_embeddings_coverage', firing: true, value: 0 });

    const progress = await backfill();
    expect(progress).toMatchObject({
      total: USERS,
      processed: USERS,
      updated: USERS,
      batches: 3,
      batchesRun: 3,
      remaining: 0,
      cursor: userIds.at(-1),
      done: true,
    });
    expect(progress.finishedAt).not.toBeNull();
    expect(await withEmbedding()).toBe(USERS);
    // Users without interests are not the backfill's business.
    expect(
      await countWhere(
        file.db.pool,
        'profiles',
        `embedding_updated_at IS NOT NULL AND user_id IN (${withoutInterests.map((id) => `'${id}'`).join(',')})`,
      ),
    ).toBe(0);
    expect(await recomputes()).toEqual({ total: USERS, users: USERS, most: 1 });
    expect(await saved()).toMatchObject({ ...progress, batchesRun: 0 });
    expect(await coverageAlert()).toEqual({ rule: 'profile_embeddings_coverage', firing: false, value: 1 });
  });

  it('maxBatches stops after 1,000 with the cursor saved; the next call resumes and finishes in 3 batches', async () => {
    const first = await backfill({ maxBatches: 1 });
    expect(first).toMatchObject({
      total: USERS,
      processed: 1000,
      updated: 1000,
      batches: 1,
      batchesRun: 1,
      remaining: 1500,
      cursor: userIds[999],
      done: false,
      finishedAt: null,
    });
    expect(await saved()).toMatchObject({
      total: USERS,
      processed: 1000,
      batches: 1,
      remaining: 1500,
      cursor: userIds[999],
      done: false,
      finishedAt: null,
    });
    expect(await withEmbedding()).toBe(1000);
    expect(
      await countWhere(file.db.pool, 'profiles', `embedding IS NOT NULL AND user_id <= '${userIds[999]}'`),
    ).toBe(1000);

    const rest = await backfill();
    expect(rest).toMatchObject({
      total: USERS,
      processed: USERS,
      updated: USERS,
      batches: 3,
      batchesRun: 2,
      remaining: 0,
      done: true,
    });
    // Started once: the resumed call kept the first call's start.
    expect(rest.startedAt).toBe(first.startedAt);
    expect(await withEmbedding()).toBe(USERS);
    expect(await recomputes()).toEqual({ total: USERS, users: USERS, most: 1 });
  });

  it('a batch that fails leaves the committed batches; the next call resumes after the last one', async () => {
    // The 1,501st user's recompute fails: the second batch (users 1,001–2,000) rolls back as a whole.
    const poisoned = userIds[1500]!;
    await file.db.pool.query(
      `CREATE TRIGGER profiles_fail_recompute BEFORE UPDATE OF embedding_updated_at ON profiles
         FOR EACH ROW WHEN (NEW.user_id = '${poisoned}' AND NEW.embedding_updated_at IS NOT NULL)
         EXECUTE FUNCTION fail_recompute()`,
    );
    try {
      const failed = await file.execute(BACKFILL, {});
      expect(failed.errors?.map((e) => e.message)).toEqual([expect.stringContaining('simulated crash')]);
    } finally {
      await file.db.pool.query('DROP TRIGGER profiles_fail_recompute ON profiles');
    }
    const audit = (await file.audit('backfillProfileEmbeddings')).at(-1)!;
    expect(audit).toMatchObject({ ok: false, result: null });
    expect(audit.error).toContain('simulated crash');

    expect(await saved()).toMatchObject({
      total: USERS,
      processed: 1000,
      batches: 1,
      remaining: 1500,
      cursor: userIds[999],
      done: false,
    });
    expect(await withEmbedding()).toBe(1000);
    expect(await recomputes()).toEqual({ total: 1000, users: 1000, most: 1 });

    const resumed = await backfill();
    expect(resumed).toMatchObject({
      total: USERS,
      processed: USERS,
      updated: USERS,
      batches: 3,
      batchesRun: 2,
      remaining: 0,
      done: true,
    });
    expect(await withEmbedding()).toBe(USERS);
    expect(await recomputes()).toEqual({ total: USERS, users: USERS, most: 1 });
  });

  it('a batch that outlives the statement timeout is retried in halves, and the backfill goes on', async () => {
    // Every recompute takes 5 ms: 1,000 users need 5 s and 500 need 2.5 s, over a 2.5 s timeout; 250 fit.
    await file.db.pool.query(`
      CREATE FUNCTION slow_recompute() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_sleep(0.005);
        RETURN NEW;
      END $$;
      CREATE TRIGGER profiles_slow_recompute BEFORE UPDATE OF embedding_updated_at ON profiles
        FOR EACH ROW EXECUTE FUNCTION slow_recompute();`);
    try {
      const { result, auditId } = await runOpsAction(
        file.runner({ statementTimeoutMs: 2500 }),
        'backfillProfileEmbeddings',
        { maxBatches: 1 },
      );
      expect(result).toMatchObject({
        batchSize: 250,
        processed: 250,
        batchesRun: 1,
        batches: 1,
        done: false,
      });
      expect(await withEmbedding()).toBe(250);
      expect(await recomputes()).toEqual({ total: 250, users: 250, most: 1 });
      expect((await file.audit('backfillProfileEmbeddings')).find((a) => a.id === auditId)).toMatchObject({
        ok: true,
      });
    } finally {
      await file.db.pool.query(
        'DROP TRIGGER profiles_slow_recompute ON profiles; DROP FUNCTION slow_recompute()',
      );
    }
  });

  it('restart starts an unfinished backfill over, here in batches of 400', async () => {
    const partial = await backfill({ batchSize: 400, maxBatches: 2 });
    expect(partial).toMatchObject({ processed: 800, batches: 2, done: false, cursor: userIds[799] });

    const over = await backfill({ batchSize: 400, restart: true });
    expect(over).toMatchObject({
      total: USERS,
      processed: USERS,
      updated: USERS,
      batches: 7,
      batchesRun: 7,
      remaining: 0,
      done: true,
    });
    // The first 800 users ran twice (once before the restart), everyone else once.
    expect(await recomputes()).toEqual({ total: USERS + 800, users: USERS, most: 2 });

    // A finished backfill called again starts over by itself.
    const next = await backfill({ batchSize: 400, maxBatches: 1 });
    expect(next).toMatchObject({
      total: USERS,
      processed: 400,
      batches: 1,
      done: false,
      cursor: userIds[399],
    });
    expect(next.startedAt > over.startedAt).toBe(true);
  });
});
