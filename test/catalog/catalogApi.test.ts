import { Readable } from 'node:stream';
import { describe, expect } from 'vitest';
import { MAX_CATALOG_BATCH } from '../../src/catalog/catalogBatch.js';
import { handleDiscovery } from '../../src/worker/handlers.js';
import type { TestDatabase } from '../support/db.js';
import {
  embeddingFor,
  insertCategory,
  insertInterest,
  insertProfile,
  insertUserInterest,
  unique,
} from '../support/fixtures.js';
import { SUGGESTIONS } from '../support/feedHarness.js';
import { graphql } from '../support/graphql.js';
import { firstCode, postGraphQL, type GraphQLBody } from '../support/http.js';
import { it, test } from '../support/testFixtures.js';
import { runUntilSettled } from '../support/workerHarness.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';

/**
 * The catalogue API over HTTP (issue 15, item 2): service callers and admins upsert listings and
 * interests and change listings' status in batches; each batch is one transaction; bad rows name their
 * index and field; bodies up to SERVICE_BODY_LIMIT_BYTES for service tokens only.
 */

/** People and anonymous callers get 64 KiB here, so a modest batch is over their limit. */
const PERSON_BODY_LIMIT = 64 * 1024;
test.override('env', { BODY_LIMIT_BYTES: String(PERSON_BODY_LIMIT) });

const UPSERT_LISTINGS = graphql(`
  mutation ($source: String!, $listings: [CatalogListingInput!]!) {
    upsertListings(source: $source, listings: $listings) {
      rows {
        externalId
        id
        outcome
      }
      inserted
      updated
      unchanged
      discoveryQueued
    }
  }
`);

const SET_STATUS = graphql(`
  mutation ($source: String!, $changes: [ListingStatusChangeInput!]!) {
    setListingStatus(source: $source, changes: $changes) {
      rows {
        externalId
        id
        outcome
      }
      updated
      unchanged
    }
  }
`);

const UPSERT_INTERESTS = graphql(`
  mutation ($source: String!, $interests: [CatalogInterestInput!]!) {
    upsertInterests(source: $source, interests: $interests) {
      rows {
        externalId
        id
        outcome
      }
      inserted
      updated
      unchanged
      discoveryQueued
    }
  }
`);

const LISTINGS = graphql(`
  query ($category: String) {
    listings(first: 50, category: $category) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

let categorySlug = '';
let categoryId = 0;

test.beforeAll(async ({ db }) => {
  categorySlug = unique('cat-');
  categoryId = await insertCategory(db.pool, categorySlug);
});

const listing = (externalId: string, seed: number, over: Record<string, unknown> = {}) => ({
  externalId,
  title: `Lamp ${externalId}`,
  price: '19.99',
  category: categorySlug,
  embedding: embeddingFor(seed),
  ...over,
});

const countRows = async (db: TestDatabase, sql: string, params: unknown[]): Promise<number> => {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) s`, params);
  return rows[0]?.n ?? 0;
};

/** Waits until some backend waits for a lock (the API's insert behind the uncommitted slug). */
async function waitForLockWait(db: TestDatabase): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
    );
    if ((rows[0]?.n ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the API never waited for the slug');
}

describe('upsertListings / upsertInterests', () => {
  it('upserts listings with embeddings and interests; a re-sent batch is all UNCHANGED', async ({
    db,
    gateway,
    tokens,
  }) => {
    const token = await tokens.service('catalog-sync');
    const source = unique('shop').replace(/[^a-z0-9]/g, '');
    const listings = [listing('l-1', 1), listing('l-2', 2, { status: 'SOLD', currency: 'EUR' })];
    const first = await postGraphQL(gateway, UPSERT_LISTINGS, { token, variables: { source, listings } });
    expect(first.body.errors).toBeUndefined();
    const payload = first.body.data?.upsertListings;
    expect(payload?.rows.map((r) => [r.externalId, r.outcome])).toEqual([
      ['l-1', 'INSERTED'],
      ['l-2', 'INSERTED'],
    ]);
    expect(payload).toMatchObject({ inserted: 2, updated: 0, unchanged: 0 });
    const { rows: stored } = await db.pool.query<{ id: number; status: string; has: boolean }>(
      `SELECT id, status, embedding IS NOT NULL AS has FROM marketplace_listings WHERE source = $1 ORDER BY external_id`,
      [source],
    );
    expect(stored).toEqual([
      { id: Number(payload?.rows[0]?.id), status: 'active', has: true },
      { id: Number(payload?.rows[1]?.id), status: 'sold', has: true },
    ]);

    const again = await postGraphQL(gateway, UPSERT_LISTINGS, { token, variables: { source, listings } });
    expect(again.body.data?.upsertListings).toMatchObject({
      inserted: 0,
      updated: 0,
      unchanged: 2,
      discoveryQueued: 0,
    });
    expect(again.body.data?.upsertListings.rows.map((r) => r.id)).toEqual(payload?.rows.map((r) => r.id));

    const interests = [
      {
        externalId: 'i-1',
        slug: unique('lamps-'),
        name: 'Lamps',
        category: categorySlug,
        embedding: embeddingFor(1),
      },
    ];
    const firstInterests = await postGraphQL(gateway, UPSERT_INTERESTS, {
      token,
      variables: { source, interests },
    });
    expect(firstInterests.body.errors).toBeUndefined();
    expect(firstInterests.body.data?.upsertInterests).toMatchObject({ inserted: 1, discoveryQueued: 1 });
    const againInterests = await postGraphQL(gateway, UPSERT_INTERESTS, {
      token,
      variables: { source, interests },
    });
    expect(againInterests.body.data?.upsertInterests).toMatchObject({ unchanged: 1, discoveryQueued: 0 });

    // One ops_audit row per batch (not per row), in the service's name.
    const { rows: audit } = await db.pool.query<{ action: string; actor_role: string; args: unknown }>(
      `SELECT action, actor_role, args FROM ops_audit WHERE args->>'source' = $1 ORDER BY id`,
      [source],
    );
    expect(audit.map((a) => a.action)).toEqual([
      'upsertListings',
      'upsertListings',
      'upsertInterests',
      'upsertInterests',
    ]);
    expect(audit[0]).toMatchObject({ actor_role: 'service', args: { source, rows: 2 } });
  });

  it('an admin may write too', async ({ db, gateway, tokens }) => {
    const adminId = await insertProfile(db.pool, { role: 'admin' });
    const result = await postGraphQL(gateway, UPSERT_LISTINGS, {
      token: await tokens.admin(adminId),
      variables: { source: 'adminsource', listings: [listing('a-1', 5)] },
    });
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data?.upsertListings.inserted).toBe(1);
  });

  it('a bad row names its index and field, and nothing of the batch is written', async ({
    db,
    gateway,
    tokens,
  }) => {
    const token = await tokens.service();
    const source = 'badrows';
    const listings = [0, 1, 2, 3].map((i) => listing(`b-${i}`, 10 + i));
    listings[3] = listing('b-3', 13, { embedding: embeddingFor(13).slice(0, 10) });
    const result = await postGraphQL(gateway, UPSERT_LISTINGS, { token, variables: { source, listings } });
    expect(firstCode(result.body)).toBe('BAD_USER_INPUT');
    expect(result.body.errors?.[0]?.extensions).toMatchObject({ field: 'listings[3].embedding', index: 3 });
    expect(result.body.errors?.[0]?.message).toMatch(/^listings\[3\]\.embedding /);

    // A reference problem (found by the writer inside the transaction) refuses the batch just as well.
    listings[3] = listing('b-3', 13, { category: 'no-such-category' });
    const missing = await postGraphQL(gateway, UPSERT_LISTINGS, { token, variables: { source, listings } });
    expect(firstCode(missing.body)).toBe('BAD_USER_INPUT');
    expect(missing.body.errors?.[0]?.extensions).toMatchObject({ field: 'listings[3].category', index: 3 });
    expect(await countRows(db, `SELECT 1 FROM marketplace_listings WHERE source = $1`, [source])).toBe(0);
    expect(await countRows(db, `SELECT 1 FROM ops_audit WHERE args->>'source' = $1`, [source])).toBe(0);

    // Interests: a slug another interest holds.
    const taken = unique('taken-');
    await insertInterest(db.pool, { categoryId, slug: taken });
    const interests = [
      { externalId: 'x-0', slug: unique('free-'), name: 'Free', category: categorySlug },
      { externalId: 'x-1', slug: taken, name: 'Taken', category: categorySlug },
    ];
    const slug = await postGraphQL(gateway, UPSERT_INTERESTS, { token, variables: { source, interests } });
    expect(slug.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'interests[1].slug',
      index: 1,
    });
    expect(await countRows(db, `SELECT 1 FROM interest_catalog WHERE source = $1`, [source])).toBe(0);
  });

  it('refuses people (FORBIDDEN) and anonymous callers (UNAUTHENTICATED)', async ({
    db,
    gateway,
    tokens,
  }) => {
    const userId = await insertProfile(db.pool);
    const variables = { source: 'people', listings: [listing('p-1', 20)] };
    const person = await postGraphQL(gateway, UPSERT_LISTINGS, {
      token: await tokens.user(userId),
      variables,
    });
    expect(firstCode(person.body)).toBe('FORBIDDEN');
    const anonymous = await postGraphQL(gateway, UPSERT_LISTINGS, { variables });
    expect(firstCode(anonymous.body)).toBe('UNAUTHENTICATED');
    const status = await postGraphQL(gateway, SET_STATUS, {
      token: await tokens.user(userId),
      variables: { source: 'people', changes: [{ externalId: 'p-1', status: 'SOLD' }] },
    });
    expect(firstCode(status.body)).toBe('FORBIDDEN');
    expect(await countRows(db, `SELECT 1 FROM marketplace_listings WHERE source = 'people'`, [])).toBe(0);
  });

  it(`refuses a batch over ${MAX_CATALOG_BATCH} rows before any work`, async ({ db, gateway, tokens }) => {
    const listings = Array.from({ length: MAX_CATALOG_BATCH + 1 }, (_, i) => ({
      externalId: `o-${i}`,
      title: 't',
      price: '1',
      category: categorySlug,
    }));
    const result = await postGraphQL(gateway, UPSERT_LISTINGS, {
      token: await tokens.service(),
      variables: { source: 'oversize', listings },
    });
    expect(firstCode(result.body)).toBe('BAD_USER_INPUT');
    expect(result.body.errors?.[0]?.extensions).toMatchObject({ field: 'listings' });
    expect(result.body.errors?.[0]?.message).toContain(`at most ${MAX_CATALOG_BATCH} rows`);
    expect(await countRows(db, `SELECT 1 FROM marketplace_listings WHERE source = 'oversize'`, [])).toBe(0);
  });
});

describe('races and budget', () => {
  it('a slug taken by a concurrent transaction after the check is BAD_USER_INPUT on that row, not INTERNAL', async ({
    db,
    gateway,
    tokens,
  }) => {
    const slug = unique('race-');
    const other = await db.pool.connect();
    other.on('error', () => undefined);
    try {
      // Holds the slug uncommitted: the API's check does not see it, its insert waits on the unique index.
      await other.query('BEGIN');
      await other.query(`INSERT INTO interest_catalog (slug, name, category_id) VALUES ($1, $1, $2)`, [
        slug,
        categoryId,
      ]);
      const pending = postGraphQL(gateway, UPSERT_INTERESTS, {
        token: await tokens.service(),
        variables: {
          source: 'raceshop',
          interests: [
            { externalId: 'r-0', slug: unique('calm-'), name: 'Calm', category: categorySlug },
            { externalId: 'r-1', slug, name: 'Raced', category: categorySlug },
          ],
        },
      });
      await waitForLockWait(db);
      await other.query('COMMIT');
      const result = await pending;
      expect(result.body.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'interests[1].slug',
        index: 1,
      });
      expect(await countRows(db, `SELECT 1 FROM interest_catalog WHERE source = 'raceshop'`, [])).toBe(0);
    } finally {
      other.release();
    }
  });

  it('each batch spends one unit of the catalog budget', async ({ inProcessWith }) => {
    const app = inProcessWith({ RATE_LIMIT_CATALOG_PER_MIN: '2' });
    // The windows are aligned minutes: three batches straddling one's end would find a fresh budget.
    await awayFromWindowEdge();
    const viewer = { role: 'service' as const, userId: null, subject: unique('budget-') };
    const run = () =>
      app.execute(UPSERT_LISTINGS, {
        viewer,
        variables: { source: 'budgetshop', listings: [listing('q-1', 40)] },
      });
    expect((await run()).errors).toBeUndefined();
    expect((await run()).errors).toBeUndefined();
    const third = await run();
    expect(third.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });
});

describe('body limits', () => {
  /** A batch whose JSON is over the people's limit but far under the service limit. */
  const bigBatch = (source: string) => ({
    source,
    listings: Array.from({ length: 20 }, (_, i) => listing(`big-${i}`, 100 + i)),
  });
  const bodyOf = (variables: unknown) =>
    JSON.stringify({
      query: `mutation ($source: String!, $listings: [CatalogListingInput!]!) {
      upsertListings(source: $source, listings: $listings) { inserted } }`,
      variables,
    });

  it('a service token may send more than BODY_LIMIT_BYTES; a person gets 413', async ({
    db,
    gateway,
    tokens,
  }) => {
    const variables = bigBatch('bigbody');
    expect(Buffer.byteLength(bodyOf(variables))).toBeGreaterThan(PERSON_BODY_LIMIT);
    const service = await postGraphQL(gateway, UPSERT_LISTINGS, { token: await tokens.service(), variables });
    expect(service.status).toBe(200);
    expect(service.body.data?.upsertListings.inserted).toBe(20);

    const userId = await insertProfile(db.pool);
    const person = await postGraphQL(gateway, UPSERT_LISTINGS, {
      token: await tokens.user(userId),
      variables,
    });
    expect(person.status).toBe(413);
    expect(firstCode(person.body)).toBe('PAYLOAD_TOO_LARGE');
    const anonymous = await postGraphQL(gateway, UPSERT_LISTINGS, { variables });
    expect(anonymous.status).toBe(413);
  });

  it('a person streaming a body without Content-Length is cut off at BODY_LIMIT_BYTES too', async ({
    db,
    gateway,
    tokens,
  }) => {
    const userId = await insertProfile(db.pool);
    const body = bodyOf(bigBatch('streamed'));
    const response = await gateway.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await tokens.user(userId)}`,
        'transfer-encoding': 'chunked',
      },
      payload: Readable.from([body.slice(0, 40_000), body.slice(40_000)]),
    });
    expect(response.statusCode).toBe(413);
    expect((JSON.parse(response.body) as GraphQLBody<unknown>).errors?.[0]?.extensions?.code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });

  it(`a full batch of ${MAX_CATALOG_BATCH} rows with 384-float embeddings passes every guard`, async ({
    db,
    gateway,
    tokens,
  }) => {
    // Full double precision (what JSON.stringify prints for a float64): the largest honest encoding.
    const listings = Array.from({ length: MAX_CATALOG_BATCH }, (_, i) => listing(`full-${i}`, 1000 + i));
    const bytes = Buffer.byteLength(bodyOf({ source: 'fullbatch', listings }));
    console.info(
      `catalogue API: ${MAX_CATALOG_BATCH} listings with 384-float embeddings = ${bytes} bytes of JSON`,
    );
    expect(bytes).toBeLessThan(gateway.config.serviceBodyLimitBytes);
    const started = performance.now();
    const result = await postGraphQL(gateway, UPSERT_LISTINGS, {
      token: await tokens.service(),
      variables: { source: 'fullbatch', listings },
    });
    console.info(
      `catalogue API: ${MAX_CATALOG_BATCH}-row batch took ${Math.round(performance.now() - started)} ms`,
    );
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data?.upsertListings.inserted).toBe(MAX_CATALOG_BATCH);
    expect(await countRows(db, `SELECT 1 FROM marketplace_listings WHERE source = 'fullbatch'`, [])).toBe(
      MAX_CATALOG_BATCH,
    );
  });
});

describe('side effects', () => {
  it('a status change takes the listing out of listings and suggestions at once', async ({
    db,
    gateway,
    tokens,
  }) => {
    const token = await tokens.service();
    const slug = unique('status-');
    await insertCategory(db.pool, slug);
    const source = 'statusshop';
    const listings = [listing('s-1', 300, { category: slug }), listing('s-2', 301, { category: slug })];
    const upserted = await postGraphQL(gateway, UPSERT_LISTINGS, { token, variables: { source, listings } });
    const ids = upserted.body.data?.upsertListings.rows.map((r) => r.id) ?? [];
    expect(ids).toHaveLength(2);

    const viewer = await insertProfile(db.pool);
    const viewerToken = await tokens.user(viewer);
    const listed = async () =>
      (
        await postGraphQL(gateway, LISTINGS, { token: viewerToken, variables: { category: slug } })
      ).body.data?.listings.edges.map((e) => e.node.id);
    const suggested = async () =>
      (
        await postGraphQL(gateway, SUGGESTIONS, {
          token: viewerToken,
          variables: { first: 20, category: slug },
        })
      ).body.data?.suggestions.edges.map((e) => e.node.listing.id);
    expect(new Set(await listed())).toEqual(new Set(ids));
    expect(await suggested()).toContain(ids[0]);

    const changed = await postGraphQL(gateway, SET_STATUS, {
      token,
      variables: { source, changes: [{ externalId: 's-1', status: 'SOLD' }] },
    });
    expect(changed.body.data?.setListingStatus).toMatchObject({
      updated: 1,
      rows: [{ externalId: 's-1', id: ids[0], outcome: 'UPDATED' }],
    });
    expect(await listed()).toEqual([ids[1]]);
    expect(await suggested()).not.toContain(ids[0]);

    // An unknown listing refuses the batch (nothing changes).
    const unknown = await postGraphQL(gateway, SET_STATUS, {
      token,
      variables: {
        source,
        changes: [
          { externalId: 's-2', status: 'REMOVED' },
          { externalId: 'nope', status: 'SOLD' },
        ],
      },
    });
    expect(unknown.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'changes[1].externalId',
      index: 1,
    });
    expect(await listed()).toEqual([ids[1]]);
  });

  it("an upserted listing reaches an embedded interest's candidates after discovery, and a personalised feed", async ({
    db,
    gateway,
    tokens,
  }) => {
    const slug = unique('disc-');
    const category = await insertCategory(db.pool, slug);
    const interestId = await insertInterest(db.pool, { categoryId: category, embedding: embeddingFor(500) });
    const viewer = await insertProfile(db.pool);
    await insertUserInterest(db.pool, { userId: viewer, interestId, affinity: 0.9 });
    await db.pool.query(`UPDATE marketplace_discovery_queue SET status = 'done' WHERE status = 'queued'`);

    const upserted = await postGraphQL(gateway, UPSERT_LISTINGS, {
      token: await tokens.service(),
      variables: { source: 'discshop', listings: [listing('d-1', 500, { category: slug })] },
    });
    expect(upserted.body.data?.upsertListings.discoveryQueued).toBe(1);
    const listingId = Number(upserted.body.data?.upsertListings.rows[0]?.id);
    const { rows: queued } = await db.pool.query<{ id: string }>(
      `SELECT id::text FROM marketplace_discovery_queue WHERE status = 'queued' AND interest_id = $1`,
      [interestId],
    );
    expect(queued).toHaveLength(1);

    await runUntilSettled(
      db.pool,
      'discovery',
      handleDiscovery,
      queued.map((q) => q.id),
    );
    const { rows: candidates } = await db.pool.query<{ listing_id: number }>(
      `SELECT listing_id FROM interest_listing_candidates WHERE interest_id = $1`,
      [interestId],
    );
    expect(candidates.map((c) => c.listing_id)).toEqual([listingId]);

    // The viewer has no profile embedding: their SIMILAR pool is the interest's candidates alone.
    const feed = await postGraphQL(gateway, SUGGESTIONS, {
      token: await tokens.user(viewer),
      variables: { first: 10, category: slug },
    });
    // (Which pool a served item is labelled with is the feed policy's draw, so only its presence is asserted.)
    const served = feed.body.data?.suggestions.edges.map((e) => e.node.listing.id);
    expect(served).toContain(String(listingId));
  });
});
