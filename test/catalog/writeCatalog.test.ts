import type pg from 'pg';
import { describe, expect } from 'vitest';
import {
  CatalogRowError,
  checkBatch,
  checkInterest,
  checkListing,
  checkStatusChange,
  checkUser,
} from '../../src/catalog/rows.js';
import {
  setListingStatuses,
  upsertInterests,
  upsertListings,
  upsertUsers,
} from '../../src/catalog/writeCatalog.js';
import { asIdentity, type TestDatabase } from '../support/db.js';
import { embeddingFor, insertCategory, insertInterest, sqlStateOf } from '../support/fixtures.js';
import { it, test } from '../support/testFixtures.js';

/** The catalogue writers on the real schema, as the API runs them: lodestar_app under a service identity. */
const asService = <T>(db: TestDatabase, fn: (client: pg.PoolClient) => Promise<T>) =>
  asIdentity(db, { role: 'service' }, fn, { commit: true });

let homeId = 0;
let gardenId = 0;
let lampsInterest = 0;

test.beforeAll(async ({ db }) => {
  homeId = await insertCategory(db.pool, 'home');
  gardenId = await insertCategory(db.pool, 'garden');
  lampsInterest = await insertInterest(db.pool, {
    categoryId: homeId,
    embedding: embeddingFor(1),
    slug: 'lamps',
  });
  await insertInterest(db.pool, { categoryId: gardenId, embedding: embeddingFor(2), slug: 'plants' });
  // An interest without an embedding cannot be discovered for: it is never queued.
  await insertInterest(db.pool, { categoryId: homeId, embedding: null, slug: 'rugs' });
});

const listingInput = (externalId: string, over: Record<string, unknown> = {}) => ({
  externalId,
  title: `Lamp ${externalId}`,
  price: '10.00',
  category: 'home',
  embedding: embeddingFor(externalId.length + 10),
  ...over,
});

async function queued(db: TestDatabase): Promise<{ interest_id: number; reason: string }[]> {
  const { rows } = await db.pool.query<{ interest_id: number; reason: string }>(
    `SELECT interest_id, reason FROM marketplace_discovery_queue WHERE status = 'queued' ORDER BY id`,
  );
  return rows;
}

describe('upsertListings', () => {
  it('inserts, then a re-sent batch changes nothing, then a change updates only its row', async ({ db }) => {
    const rows = checkBatch([listingInput('a1'), listingInput('a2', { status: 'sold' })], checkListing);
    const first = await asService(db, (c) => upsertListings(c, 'shop', rows));
    expect(first.rows.map((r) => r.outcome)).toEqual(['inserted', 'inserted']);
    expect(first.discoveryQueued).toBe(1);
    expect(await queued(db)).toEqual([{ interest_id: lampsInterest, reason: 'catalog' }]);

    const { rows: stored } = await db.pool.query<{
      id: number;
      updated_at: Date;
      status: string;
      embedding: string;
    }>(
      `SELECT id, updated_at, status, embedding::text FROM marketplace_listings WHERE source = 'shop' ORDER BY external_id`,
    );
    expect(stored.map((s) => s.id)).toEqual(first.rows.map((r) => r.id));
    expect(stored.map((s) => s.status)).toEqual(['active', 'sold']);

    await db.pool.query(`UPDATE marketplace_discovery_queue SET status = 'done'`);
    const again = await asService(db, (c) => upsertListings(c, 'shop', rows));
    expect(again.rows.map((r) => r.outcome)).toEqual(['unchanged', 'unchanged']);
    expect(again.rows.map((r) => r.id)).toEqual(first.rows.map((r) => r.id));
    expect(again.discoveryQueued).toBe(0);
    const { rows: after } = await db.pool.query<{ updated_at: Date }>(
      `SELECT updated_at FROM marketplace_listings WHERE source = 'shop' ORDER BY external_id`,
    );
    expect(after.map((a) => a.updated_at)).toEqual(stored.map((s) => s.updated_at));

    // Moving a2 to the garden refreshes both categories' candidates.
    const moved = checkBatch(
      [listingInput('a1'), listingInput('a2', { status: 'sold', category: 'garden' })],
      checkListing,
    );
    const third = await asService(db, (c) => upsertListings(c, 'shop', moved));
    expect(third.rows.map((r) => r.outcome)).toEqual(['unchanged', 'updated']);
    expect((await queued(db)).map((q) => q.interest_id).sort()).toHaveLength(2);
  });

  it('refuses a batch with an unknown category, naming the row, and writes none of it', async ({ db }) => {
    const rows = checkBatch([listingInput('b1'), listingInput('b2', { category: 'nowhere' })], checkListing);
    await expect(asService(db, (c) => upsertListings(c, 'shop', rows))).rejects.toMatchObject({
      index: 1,
      field: 'category',
    });
    const { rows: found } = await db.pool.query(
      `SELECT 1 FROM marketplace_listings WHERE external_id LIKE 'b%'`,
    );
    expect(found).toHaveLength(0);
  });

  it('links sellers imported from the same source; an unknown one is refused', async ({ db }) => {
    const people = checkBatch([{ externalId: 'u-1', handle: 'seller_ada' }], checkUser);
    const [ada] = (await upsertUsers(db.pool, 'shop', people)).rows;
    const rows = checkBatch([listingInput('c1', { sellerExternalId: 'u-1' })], checkListing);
    const written = await asService(db, (c) => upsertListings(c, 'shop', rows));
    const { rows: stored } = await db.pool.query<{ seller_id: string }>(
      `SELECT seller_id FROM marketplace_listings WHERE id = $1`,
      [written.rows[0]?.id],
    );
    expect(stored[0]?.seller_id).toBe(ada?.userId);

    // The same external id from another source is someone else.
    const elsewhere = checkBatch([listingInput('c2', { sellerExternalId: 'u-1' })], checkListing);
    await expect(asService(db, (c) => upsertListings(c, 'other', elsewhere))).rejects.toBeInstanceOf(
      CatalogRowError,
    );
  });

  it('is refused by the database for a person who is not the seller (RLS), whatever the code does', async ({
    db,
  }) => {
    const rows = checkBatch([listingInput('d1')], checkListing);
    await expect(
      asIdentity(db, { role: 'user', userId: '7d3f0f5e-8d38-4a8f-9b3c-2f8a3a7f6c11' }, (c) =>
        upsertListings(c, 'shop', rows),
      ),
    ).rejects.toMatchObject({ code: '42501' });
  });
});

describe('setListingStatuses', () => {
  it('changes only what differs and refuses an unknown listing', async ({ db }) => {
    const rows = checkBatch([listingInput('s1'), listingInput('s2')], checkListing);
    await asService(db, (c) => upsertListings(c, 'status', rows));
    const changes = checkBatch(
      [
        { externalId: 's1', status: 'removed' },
        { externalId: 's2', status: 'active' },
      ],
      checkStatusChange,
    );
    const result = await asService(db, (c) => setListingStatuses(c, 'status', changes));
    expect(result.rows.map((r) => r.outcome)).toEqual(['updated', 'unchanged']);
    const unknown = checkBatch([{ externalId: 'nope', status: 'sold' }], checkStatusChange);
    await expect(asService(db, (c) => setListingStatuses(c, 'status', unknown))).rejects.toMatchObject({
      index: 0,
      field: 'externalId',
    });
  });
});

describe('upsertInterests', () => {
  it('inserts with an embedding and queues discovery; slugs are unique and fixed', async ({ db }) => {
    const rows = checkBatch(
      [
        {
          externalId: 'i-1',
          slug: 'desk-lamps',
          name: 'Desk lamps',
          category: 'home',
          embedding: embeddingFor(5),
        },
      ],
      checkInterest,
    );
    await db.pool.query(`UPDATE marketplace_discovery_queue SET status = 'done'`);
    const first = await asService(db, (c) => upsertInterests(c, 'shop', rows));
    expect(first.rows[0]?.outcome).toBe('inserted');
    expect((await queued(db)).map((q) => q.interest_id)).toEqual([first.rows[0]?.id]);
    expect((await asService(db, (c) => upsertInterests(c, 'shop', rows))).rows[0]?.outcome).toBe('unchanged');

    const renamed = checkBatch(
      [{ externalId: 'i-1', slug: 'lamps-2', name: 'Desk lamps', category: 'home' }],
      checkInterest,
    );
    await expect(asService(db, (c) => upsertInterests(c, 'shop', renamed))).rejects.toMatchObject({
      field: 'slug',
    });
    const taken = checkBatch(
      [{ externalId: 'i-2', slug: 'lamps', name: 'Lamps', category: 'home' }],
      checkInterest,
    );
    await expect(asService(db, (c) => upsertInterests(c, 'shop', taken))).rejects.toMatchObject({
      index: 0,
      field: 'slug',
    });
  });

  it('people cannot write interests, nor queue catalogue discovery, even past the code', async ({ db }) => {
    const identity = { role: 'user' as const, userId: '7d3f0f5e-8d38-4a8f-9b3c-2f8a3a7f6c11' };
    await asIdentity(db, identity, async (c) => {
      expect(
        await sqlStateOf(c, `INSERT INTO interest_catalog (slug, name, category_id) VALUES ('x', 'x', $1)`, [
          homeId,
        ]),
      ).toBe('42501');
      expect(
        await sqlStateOf(
          c,
          `INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason, idempotency_key) VALUES ($1, $2, 'catalog', 'k')`,
          [lampsInterest, homeId],
        ),
      ).toBe('42501');
    });
  });
});
