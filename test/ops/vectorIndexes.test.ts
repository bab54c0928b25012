import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runOpsAction } from '../../src/ops/actions.js';
import { embeddingFor, insertCategory, insertListing, toVectorLiteral } from '../support/fixtures.js';
import { expectErrorCode } from '../support/graphqlResult.js';
import { openOpsFile, type OpsFile } from '../support/opsHarness.js';
import { graphql } from '../support/graphql.js';

/** Runbook "Vector Health" and "Vector Indexes": what an operator reads, and rebuilding an index. */

const VECTOR_HEALTH = graphql(`
  {
    ops {
      vectorHealth {
        installed
        version
        coverage {
          table
          rows
          withEmbedding
          share
          plannerCondition
        }
        indexes {
          name
          table
          method
          options
          valid
          sizeBytes
          definition
        }
      }
    }
  }
`);

const REBUILD = graphql(`
  mutation Rebuild($index: String!, $lists: Int, $m: Int, $efConstruction: Int, $force: Boolean) {
    rebuildVectorIndex(index: $index, lists: $lists, m: $m, efConstruction: $efConstruction, force: $force) {
      index
      table
      method
      previousOptions
      options
      auditId
    }
  }
`);

const IVFFLAT = 'marketplace_listings_embedding_ivfflat';
const HNSW = 'profiles_embedding_hnsw';

describe('vector health and index rebuilds', () => {
  let file: OpsFile;
  let categoryId: number;

  const vectorHealth = async () => (await file.data(VECTOR_HEALTH)).ops.vectorHealth;
  const indexNamed = async (name: string) => (await vectorHealth()).indexes.find((i) => i.name === name);
  const rebuild = (variables: {
    index: string;
    lists?: number;
    m?: number;
    efConstruction?: number;
    force?: boolean;
  }) => file.execute(REBUILD, variables);
  /** Indexes of a table as the catalog sees them (past the ops code), with validity. */
  const catalogIndexes = async (table: string) => {
    const { rows } = await file.db.pool.query<{ name: string; valid: boolean }>(
      `SELECT c.relname AS name, i.indisvalid AS valid
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = $1::regclass ORDER BY c.relname`,
      [table],
    );
    return rows;
  };

  beforeAll(async () => {
    file = await openOpsFile();
    categoryId = await insertCategory(file.db.pool);
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
    // A rebuild never leaves its working copy behind.
    const { rows } = await file.db.pool.query<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relkind = 'i' AND relname LIKE '%\\_rebuild'`,
    );
    expect(rows).toEqual([]);
  });

  afterAll(async () => {
    await file?.close();
  });

  it('vectorHealth: pgvector 0.8.0, and the planner condition is above 5% only', async () => {
    const pool = file.db.pool;
    // profiles: 1 of 20 (exactly 5%), interest_catalog: 2 of 10 (20%), listings: 1 of 40 (2.5%).
    await pool.query(
      `INSERT INTO profiles (handle, display_name, embedding)
       SELECT 'vh_' || g, 'vh', CASE WHEN g = 1 THEN $1::vector END FROM generate_series(1, 20) g`,
      [toVectorLiteral(embeddingFor(1))],
    );
    await pool.query(
      `INSERT INTO interest_catalog (slug, name, category_id, embedding)
       SELECT 'vh-' || g, 'vh', $2, CASE WHEN g <= 2 THEN $1::vector END FROM generate_series(1, 10) g`,
      [toVectorLiteral(embeddingFor(2)), categoryId],
    );
    await pool.query(
      `INSERT INTO marketplace_listings (category_id, title, price, embedding)
       SELECT $2, 'vh', 1, CASE WHEN g = 1 THEN $1::vector END FROM generate_series(1, 40) g`,
      [toVectorLiteral(embeddingFor(3)), categoryId],
    );

    const health = await vectorHealth();
    expect(health.installed).toBe(true);
    expect(health.version).toBe('0.8.0');
    expect(health.coverage).toEqual([
      { table: 'profiles', rows: 20, withEmbedding: 1, share: 0.05, plannerCondition: false },
      { table: 'interest_catalog', rows: 10, withEmbedding: 2, share: 0.2, plannerCondition: true },
      { table: 'marketplace_listings', rows: 40, withEmbedding: 1, share: 0.025, plannerCondition: false },
    ]);
    expect(
      health.indexes.map(({ name, table, method, options, valid }) => ({
        name,
        table,
        method,
        options,
        valid,
      })),
    ).toEqual([
      {
        name: 'interest_catalog_embedding_hnsw',
        table: 'interest_catalog',
        method: 'hnsw',
        options: ['m=16', 'ef_construction=64'],
        valid: true,
      },
      {
        name: IVFFLAT,
        table: 'marketplace_listings',
        method: 'ivfflat',
        options: ['lists=200'],
        valid: true,
      },
      { name: HNSW, table: 'profiles', method: 'hnsw', options: ['m=16', 'ef_construction=64'], valid: true },
    ]);

    // One more listing with a vector: 2 of 41 is above 5%.
    await insertListing(pool, { categoryId, embedding: embeddingFor(4) });
    await insertListing(pool, { categoryId, embedding: embeddingFor(5) });
    const after = (await vectorHealth()).coverage.find((c) => c.table === 'marketplace_listings');
    expect(after).toMatchObject({ rows: 42, withEmbedding: 3, plannerCondition: true });
    expect(after?.share).toBeCloseTo(3 / 42, 10);
  });

  it('rebuildVectorIndex swaps in an ivfflat index with the new lists under the same name', async () => {
    const before = await indexNamed(IVFFLAT);
    // 42 rows: any lists above 1 is below 50 rows per list (item 18), so these mechanics need force.
    const result = await rebuild({ index: IVFFLAT, lists: 50, force: true });
    expect(result.errors).toBeUndefined();
    expect(result.data?.rebuildVectorIndex).toMatchObject({
      index: IVFFLAT,
      table: 'marketplace_listings',
      method: 'ivfflat',
      previousOptions: ['lists=200'],
      options: ['lists=50'],
    });
    const after = await indexNamed(IVFFLAT);
    expect(after).toMatchObject({ options: ['lists=50'], valid: true, method: 'ivfflat' });
    // Same column and operator class; only the parameters changed.
    expect(after?.definition).toBe(before?.definition.replace("lists='200'", "lists='50'"));
    expect(await catalogIndexes('marketplace_listings')).toContainEqual({ name: IVFFLAT, valid: true });

    // The audit row says what changed.
    const audit = (await file.audit('rebuildVectorIndex')).at(-1)!;
    expect(audit).toMatchObject({
      ok: true,
      args: { index: IVFFLAT, lists: 50 },
      result: { previousOptions: ['lists=200'], options: ['lists=50'] },
    });
    expect(audit.id).toBe(result.data?.rebuildVectorIndex.auditId);
  });

  it('rebuildVectorIndex changes an hnsw index’s m and ef_construction', async () => {
    const result = await rebuild({ index: HNSW, m: 24, efConstruction: 96 });
    expect(result.errors).toBeUndefined();
    expect(result.data?.rebuildVectorIndex).toMatchObject({
      index: HNSW,
      table: 'profiles',
      method: 'hnsw',
      previousOptions: ['m=16', 'ef_construction=64'],
      options: ['m=24', 'ef_construction=96'],
    });
    expect(await indexNamed(HNSW)).toMatchObject({ options: ['m=24', 'ef_construction=96'], valid: true });

    // Only m: ef_construction is kept.
    const onlyM = await rebuild({ index: HNSW, m: 20 });
    expect(onlyM.data?.rebuildVectorIndex.options).toEqual(['m=20', 'ef_construction=96']);
    expect(await indexNamed(HNSW)).toMatchObject({ options: ['m=20', 'ef_construction=96'], valid: true });
  });

  it('refuses parameters of the other method, unknown indexes and names that are not identifiers', async () => {
    const listsOnHnsw = expectErrorCode(await rebuild({ index: HNSW, lists: 100 }), 'BAD_USER_INPUT');
    expect(listsOnHnsw.extensions.field).toBe('lists');
    const mOnIvfflat = expectErrorCode(await rebuild({ index: IVFFLAT, m: 8 }), 'BAD_USER_INPUT');
    expect(mOnIvfflat.extensions.field).toBe('m');
    const unknown = expectErrorCode(await rebuild({ index: 'no_such_index', lists: 10 }), 'NOT_FOUND');
    expect(unknown.message).toContain('no_such_index');
    // A real index, but not a vector index.
    expectErrorCode(await rebuild({ index: 'profiles_handle_key', lists: 10 }), 'NOT_FOUND');
    const injected = expectErrorCode(
      await rebuild({ index: 'x; DROP TABLE profiles', lists: 10 }),
      'BAD_USER_INPUT',
    );
    expect(injected.extensions.field).toBe('index');
    expect(await catalogIndexes('profiles')).toContainEqual({ name: HNSW, valid: true });
  });

  it('refuses an hnsw efConstruction below 2 × m before building anything', async () => {
    // pgvector refuses to build such an index only once the build has started.
    const before = await indexNamed(HNSW);
    const result = await rebuild({ index: HNSW, m: 48, efConstruction: 64 });
    const leftovers = (await catalogIndexes('profiles')).filter((i) => i.name.endsWith('_rebuild'));
    await file.db.pool.query(`DROP INDEX IF EXISTS ${HNSW}_rebuild`);
    const error = expectErrorCode(result, 'BAD_USER_INPUT');
    expect(error.extensions.field).toBe('efConstruction');
    expect(leftovers).toEqual([]);
    expect(await indexNamed(HNSW)).toMatchObject({ options: before?.options, valid: true });
  });

  it('a leftover invalid copy from a failed rebuild is dropped and the rebuild succeeds', async () => {
    const leftover = `${IVFFLAT}_rebuild`;
    await file.db.pool.query(
      `CREATE INDEX ${leftover} ON marketplace_listings USING ivfflat (embedding vector_cosine_ops) WITH (lists = 1)`,
    );
    // What an interrupted CREATE INDEX CONCURRENTLY leaves behind.
    await file.db.pool.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass`, [
      leftover,
    ]);
    expect(await indexNamed(leftover)).toMatchObject({ valid: false, options: ['lists=1'] });

    const result = await rebuild({ index: IVFFLAT, lists: 25, force: true });
    expect(result.errors).toBeUndefined();
    expect(result.data?.rebuildVectorIndex.options).toEqual(['lists=25']);
    const indexes = (await vectorHealth()).indexes.filter((i) => i.table === 'marketplace_listings');
    expect(indexes.map((i) => ({ name: i.name, options: i.options, valid: i.valid }))).toEqual([
      { name: IVFFLAT, options: ['lists=25'], valid: true },
    ]);
  });

  it('without the schema owner’s connection the rebuild is UNAVAILABLE, audited, and nothing changes', async () => {
    const before = await indexNamed(IVFFLAT);
    await expect(
      runOpsAction(file.runner({ ownerUrl: undefined }), 'rebuildVectorIndex', {
        index: IVFFLAT,
        lists: 10,
        force: true,
      }),
    ).rejects.toMatchObject({
      message: expect.stringContaining('MIGRATION_DATABASE_URL') as unknown,
      extensions: { code: 'UNAVAILABLE' },
    });
    expect(await indexNamed(IVFFLAT)).toEqual(before);
    const audit = (await file.audit('rebuildVectorIndex')).at(-1)!;
    expect(audit).toMatchObject({ ok: false, actor_role: 'admin', args: { index: IVFFLAT, lists: 10 } });
    expect(audit.error).toContain('MIGRATION_DATABASE_URL');
  });
});
