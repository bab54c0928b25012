import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  insertCategory,
  insertDiscoveryItem,
  insertEvent,
  insertInterest,
  sqlStateOf,
  withRollback,
} from '../support/fixtures.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

const queueTables = ['events_queue', 'marketplace_discovery_queue'] as const;

describe('SECURITY DEFINER functions', () => {
  it('every SECURITY DEFINER function in public pins search_path=public, and there are some', async () => {
    const { rows } = await db.pool.query<{ name: string; proconfig: string[] | null }>(
      `SELECT p.oid::regprocedure::text AS name, p.proconfig
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'public' AND p.prosecdef
       ORDER BY 1`,
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.name)).toContain('recompute_profile_embedding(uuid)');
    const unpinned = rows
      .filter(
        (r) =>
          !(r.proconfig ?? []).some((c) => c === 'search_path=public' || c === 'search_path=public, pg_temp'),
      )
      .map((r) => r.name);
    expect(unpinned).toEqual([]);
  });
});

describe('hot queue tables', () => {
  it.each(queueTables)('%s has autovacuum_vacuum_scale_factor=0.02', async (table) => {
    const { rows } = await db.pool.query<{ reloptions: string[] | null }>(
      `SELECT reloptions FROM pg_class WHERE oid = $1::regclass`,
      [`public.${table}`],
    );
    expect(rows[0]?.reloptions).toContain('autovacuum_vacuum_scale_factor=0.02');
  });

  it.each([
    { table: 'events_queue', inFlight: 'leased' },
    { table: 'marketplace_discovery_queue', inFlight: 'processing' },
  ])(
    '$table has partial indexes for polling queued items and reclaiming expired leases',
    async ({ table, inFlight }) => {
      const { rows } = await db.pool.query<{ predicate: string; columns: string }>(
        `SELECT pg_get_expr(i.indpred, i.indrelid) AS predicate,
              array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                                    ORDER BY k.ord), ',') AS columns
       FROM pg_index i
       WHERE i.indrelid = $1::regclass AND i.indpred IS NOT NULL`,
        [`public.${table}`],
      );
      expect(rows).toContainEqual({ predicate: "(status = 'queued'::text)", columns: 'run_after,id' });
      expect(rows).toContainEqual({
        predicate: `(status = '${inFlight}'::text)`,
        columns: 'lease_expires_at',
      });
    },
  );

  it.each(queueTables)('%s has a unique index on idempotency_key', async (table) => {
    const { rows } = await db.pool.query<{ indisunique: boolean; def: string }>(
      `SELECT i.indisunique, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i
       WHERE i.indrelid = $1::regclass AND i.indnatts = 1
         AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'idempotency_key')`,
      [`public.${table}`],
    );
    expect(rows.some((r) => r.indisunique && !r.def.includes(' WHERE '))).toBe(true);
  });

  it.each(queueTables)('%s rejects a duplicate idempotency_key with unique_violation', async (table) => {
    await withRollback(db, async (client) => {
      const interestId = await insertInterest(client, { categoryId: await insertCategory(client) });
      const insert = (key: string | null) =>
        table === 'events_queue'
          ? insertEvent(client, { status: 'queued', idempotencyKey: key })
          : insertDiscoveryItem(client, { status: 'queued', idempotencyKey: key, interestId });
      await insert('job-1');
      await insert('job-2');
      const dup =
        table === 'events_queue'
          ? `INSERT INTO events_queue (kind, idempotency_key) VALUES ('test', 'job-1')`
          : `INSERT INTO marketplace_discovery_queue (interest_id, reason, idempotency_key) VALUES (${interestId}, 'x', 'job-1')`;
      expect(await sqlStateOf(client, dup)).toBe('23505');
      // Items without a key are never duplicates of each other.
      await insert(null);
      await insert(null);
    });
  });
});

describe('vector indexes', () => {
  it.each(['profiles', 'interest_catalog', 'marketplace_listings'])(
    '%s.embedding has an hnsw or ivfflat index',
    async (table) => {
      const { rows } = await db.pool.query<{ amname: string }>(
        `SELECT am.amname
         FROM pg_index i
         JOIN pg_class ic ON ic.oid = i.indexrelid
         JOIN pg_am am ON am.oid = ic.relam
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = $1::regclass AND a.attname = 'embedding'`,
        [`public.${table}`],
      );
      expect(rows.map((r) => r.amname).filter((am) => am === 'hnsw' || am === 'ivfflat')).not.toHaveLength(0);
    },
  );
});
