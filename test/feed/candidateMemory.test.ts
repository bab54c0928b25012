import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  createFeedHarness,
  KEPT_CANDIDATES_CHECK,
  listingIdsOf,
  suggestionsPage,
  type FeedHarness,
  type SuggestionsPage,
} from '../support/feedHarness.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { dataOf } from '../support/graphqlResult.js';
import { recordAllClients, dataStatementsOf } from '../support/statementLog.js';
import { waitUntil } from '../support/workerHarness.js';

/** The candidate statements (either: searching or cached) read a viewer's candidates. */
const READ = /WITH viewer AS/;
const INSERT = /INSERT INTO learning_events/;
/** The statements of a page served from kept candidates: one, the impressions insert that checks them. */
const fromKept = (statements: string[]) => {
  expect(statements, statements.join('\n---\n')).toHaveLength(1);
  expect(statements[0]).toMatch(KEPT_CANDIDATES_CHECK);
  expect(statements[0]).toMatch(INSERT);
};
/**
 * The statements of a page of kept candidates of which some became ineligible: the checked insert, which
 * logged nothing, then the page ranked again without them, logged by the plain insert.
 */
const refusedThenLogged = (statements: string[]) => {
  expect(statements, statements.join('\n---\n')).toHaveLength(2);
  expect(statements[0]).toMatch(KEPT_CANDIDATES_CHECK);
  expect(statements[1]).toMatch(INSERT);
  expect(statements[1]).not.toMatch(KEPT_CANDIDATES_CHECK);
};
/** The statements of a page that read its candidates. */
const readAgain = (statements: string[]) => {
  expect(statements, statements.join('\n---\n')).toHaveLength(2);
  expect(statements[0]).toMatch(READ);
  expect(statements[1]).toMatch(INSERT);
};
const FIRST = 5;

/**
 * A viewer's candidates kept by the gateway process (src/feed/candidateMemory.ts, FEED_CANDIDATE_MEMORY_SEC):
 * their next pages are ranked from them without the candidate statement, and logged by an impressions insert
 * that first checks what is no longer eligible: one statement.
 */
describe('the candidates a gateway keeps for a viewer’s next pages', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  /** The defaults: candidates kept 15 s, a 30-minute served window (so kept across sessions). */
  let h: FeedHarness;
  /** A served window of 0 (only the session): kept candidates serve only the session that read them. */
  let sessionOnly: FeedHarness;
  let log: ReturnType<typeof recordAllClients>;

  // Two interests, so the CATEGORY pool holds two categories' most popular (10 each for pages of 5): the
  // ranking puts a category's most popular high, and one category's 10 run short (fewer than a page
  // left, so the next page reads) after two pages.
  const viewerOf = (cluster: number) =>
    createFeedViewer(db.pool, [
      { interestId: world.interestIds[cluster]!, affinity: 0.9 },
      { interestId: world.interestIds[(cluster + 1) % 3]!, affinity: 0.3 },
    ]);

  const page = (harness: FeedHarness, who: Viewer, after?: string | null) =>
    dataStatementsOf(log, () => suggestionsPage(harness, who, { first: FIRST, ...(after ? { after } : {}) }));

  const hits = async (harness: FeedHarness) =>
    (await harness.metrics.feedCandidateMemory.get()).values.find((v) => v.labels.outcome === 'hit')?.value ??
    0;

  const statusOf = async (ids: number[]) =>
    new Map(
      (
        await db.pool.query<{ id: number; status: string }>(
          'SELECT id, status FROM marketplace_listings WHERE id = ANY($1)',
          [ids],
        )
      ).rows.map((r) => [r.id, r.status]),
    );

  const loggedFor = async (userId: string) =>
    (
      await db.pool.query<{ listing_id: number }>(
        'SELECT listing_id FROM learning_events WHERE user_id = $1 ORDER BY created_at, position',
        [userId],
      )
    ).rows.map((r) => r.listing_id);

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [30, 30, 30]);
    h = createFeedHarness(db, { FEED_EPSILON: '0' });
    sessionOnly = createFeedHarness(db, { FEED_EPSILON: '0', FEED_SERVED_WINDOW_MINUTES: '0' });
    log = recordAllClients();
    // Connections, Prisma and each process's exploration sample (drawn once, then in the background) are
    // set up before anything is counted.
    for (const harness of [h, sessionOnly])
      await suggestionsPage(harness, await viewerOf(0), { first: FIRST });
  });

  afterAll(async () => {
    log?.restore();
    await h?.close();
    await sessionOnly?.close();
    await db?.drop();
  });

  it('serves the viewer’s next pages from them without reading candidates, never repeating a listing', async () => {
    const who = await viewerOf(0);
    const before = await hits(h);
    const pages: SuggestionsPage[] = [];
    const first = await page(h, who);
    // The first page reads the candidates (and stores the vector search's result) and logs the page.
    readAgain(first.statements);
    pages.push(first.result);
    for (let i = 0; i < 2; i += 1) {
      // A new session each time (no cursor): within the 30-minute window nothing served comes back.
      const next = await page(h, who);
      fromKept(next.statements);
      expect(next.result.edges).toHaveLength(FIRST);
      expect(next.result.fallback).toBeNull();
      pages.push(next.result);
    }
    expect(await hits(h)).toBe(before + 2);
    const served = pages.flatMap(listingIdsOf);
    expect(new Set(served).size).toBe(served.length);
    // Every listing shown was logged, in order.
    expect(await loggedFor(who.userId)).toEqual(served);
  });

  it('gives two pages of one viewer requested at once from kept candidates (two tabs, a retry) no listing in common', async () => {
    const who = await viewerOf(1);
    // The first page keeps the candidates; the next two, at once, are both ranked from them. Each waits for
    // its arm between taking the candidates and ranking them, so each sees the other's page only if it is
    // taken out of the kept candidates before its insert.
    const first = await suggestionsPage(h, who, { first: FIRST });
    const before = await hits(h);
    // Both inserts are held until both pages have been ranked: the viewer's profile row is locked, so
    // each insert, having checked what was served and written its rows, waits in its foreign-key check
    // (after its snapshot: neither sees the other's rows). Each page is ranked while the other's insert runs.
    const lock = await db.pool.connect();
    lock.on('error', () => {});
    let pages: [SuggestionsPage, SuggestionsPage];
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT 1 FROM profiles WHERE user_id = $1 FOR UPDATE', [who.userId]);
      const both = Promise.all([
        suggestionsPage(h, who, { first: FIRST }),
        suggestionsPage(h, who, { first: FIRST }),
      ]);
      both.catch(() => {});
      await waitUntil(async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO learning_events%'`,
        );
        return rows[0]!.n === 2;
      }, 'both pages’ inserts waiting for the profile row');
      await lock.query('COMMIT');
      pages = await both;
    } finally {
      lock.release();
    }
    const [a, b] = pages;
    expect(await hits(h)).toBe(before + 2);
    expect(a.edges).toHaveLength(FIRST);
    expect(b.edges).toHaveLength(FIRST);
    const both = [...listingIdsOf(a), ...listingIdsOf(b)];
    expect(new Set(both).size).toBe(both.length);
    // Every listing shown was logged, once.
    expect((await loggedFor(who.userId)).sort((x, y) => x - y)).toEqual(
      [...listingIdsOf(first), ...both].sort((x, y) => x - y),
    );
  });

  it('checks them as the page is logged: a listing sold, served by another gateway or made the viewer’s own since is left out, and the next page reads them again', async () => {
    const who = await viewerOf(1);
    const shown = listingIdsOf((await page(h, who)).result);
    // Every other listing of the viewer's cluster but two is sold behind the gateway's back; one of the two
    // is served to the viewer by another gateway process (its impression logged), the other becomes the
    // viewer's own (a catalogue upsert may change a listing's seller).
    const others = world.listings[1]!.map((l) => l.id).filter((id) => !shown.includes(id));
    const [elsewhere, own, ...sold] = others;
    const seller = await db.pool.query<{ seller_id: string | null }>(
      'SELECT seller_id FROM marketplace_listings WHERE id = $1',
      [own],
    );
    await db.pool.query(`UPDATE marketplace_listings SET status = 'sold' WHERE id = ANY($1)`, [sold]);
    await db.pool.query('UPDATE marketplace_listings SET seller_id = $2 WHERE id = $1', [own, who.userId]);
    await db.pool.query(
      `INSERT INTO learning_events (id, user_id, listing_id, policy, source, propensity, position, context)
       VALUES (gen_random_uuid(), $1, $2, 'epsilon-greedy', 'SIMILAR', 1, 0, '{"session": "elsewhere"}')`,
      [who.userId, elsewhere],
    );
    try {
      const second = await page(h, who);
      refusedThenLogged(second.statements);
      const ids = listingIdsOf(second.result);
      // Logged once: the refused insert logged nothing (beside the other gateway's impression).
      expect((await loggedFor(who.userId)).filter((id) => id !== elsewhere)).toEqual([...shown, ...ids]);
      // Ranked from what was left of the kept candidates: still a full page, nothing sold or served before.
      expect(ids).toHaveLength(FIRST);
      const status = await statusOf(ids);
      expect(ids.every((id) => status.get(id) === 'active')).toBe(true);
      expect(ids).not.toContain(elsewhere);
      expect(ids).not.toContain(own);
      expect(ids.some((id) => shown.includes(id))).toBe(false);
      // Something changed under them: the next page reads the candidates again.
      const third = await page(h, who);
      readAgain(third.statements);
      expect(third.result.edges).toHaveLength(FIRST);
      expect(listingIdsOf(third.result).some((id) => sold.includes(id))).toBe(false);
    } finally {
      await db.pool.query(`UPDATE marketplace_listings SET status = 'active' WHERE id = ANY($1)`, [sold]);
      await db.pool.query('UPDATE marketplace_listings SET seller_id = $2 WHERE id = $1', [
        own,
        seller.rows[0]!.seller_id,
      ]);
    }
  });

  it('reads them again after the viewer likes or hides a listing through the gateway', async () => {
    for (const mutation of [
      'mutation ($id: ID!) { likeListing(listingId: $id) { liked } }',
      'mutation ($id: ID!) { hideListing(listingId: $id) { hidden } }',
    ]) {
      const who = await viewerOf(2);
      const shown = listingIdsOf((await page(h, who)).result);
      const next = await page(h, who);
      fromKept(next.statements);
      shown.push(...listingIdsOf(next.result));
      const target = world.listings[2]!.map((l) => l.id).find((id) => !shown.includes(id))!;
      dataOf(await h.execute(mutation, { viewer: who, variables: { id: String(target) } }));
      const after = await page(h, who);
      readAgain(after.statements);
      expect(listingIdsOf(after.result)).not.toContain(target);
      expect(after.result.edges).toHaveLength(FIRST);
    }
  });

  it('ranks every kept page as a read would: the same pages as a gateway that reads candidates for each', async () => {
    // Two viewers alike (the same interest, nothing served yet): one on a gateway keeping candidates, one on
    // a gateway that reads them for every page (FEED_CANDIDATE_MEMORY_SEC=0). With ε = 0 a page is the
    // exploit ranking, so a kept page that ranked anything but the pool a read returns would differ.
    const reading = createFeedHarness(db, { FEED_EPSILON: '0', FEED_CANDIDATE_MEMORY_SEC: '0' });
    try {
      const [kept, read] = [await viewerOf(2), await viewerOf(2)];
      const keptPages: number[][] = [];
      const readPages: number[][] = [];
      let fromMemory = 0;
      for (let i = 0; i < 6; i += 1) {
        const next = await page(h, kept);
        if (next.statements.length === 1 && KEPT_CANDIDATES_CHECK.test(next.statements[0]!)) fromMemory += 1;
        keptPages.push(listingIdsOf(next.result));
        readPages.push(listingIdsOf((await page(reading, read)).result));
      }
      expect(fromMemory).toBeGreaterThanOrEqual(4);
      expect(keptPages).toEqual(readPages);
    } finally {
      await reading.close();
    }
  });

  it('never costs a page more than 2 data statements while a viewer scrolls, reads and kept pages alike', async () => {
    const who = await viewerOf(1);
    let after: string | null = null;
    const counts: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      const next = await page(h, who, after);
      counts.push(next.statements.length);
      expect(next.result.edges).toHaveLength(FIRST);
      after = next.result.pageInfo.endCursor;
    }
    expect(Math.max(...counts), counts.join(' ')).toBeLessThanOrEqual(2);
  });

  it('sees what another process served the viewer, even an insert that began before the read and committed after it', async () => {
    const who = await viewerOf(0);
    const all = world.listings.flat().map((l) => l.id);
    // "Process B" logs impressions of every listing for the viewer in another session. Its insert's
    // transaction starts now (created_at) and commits seconds later, after this process read and kept
    // the viewer's candidates (B's rows were not committed then: the read could not leave them out).
    const b = await db.pool.connect();
    try {
      await b.query('BEGIN');
      await b.query(
        `INSERT INTO learning_events (id, user_id, listing_id, policy, source, propensity, position, context)
         SELECT gen_random_uuid(), $1, id, 'epsilon-greedy', 'SIMILAR', 1, 0, '{"session": "process-b"}'
         FROM unnest($2::int[]) AS t(id)`,
        [who.userId, all],
      );
      await new Promise((resolve) => setTimeout(resolve, 6_500));
      await page(h, who);
      await b.query('COMMIT');
    } finally {
      b.release();
    }
    // Ranked from the kept candidates: the check looks back past the read (keptLookBackMarginMs), so
    // nothing B served comes back (B served every listing: the page is empty, and nothing is logged).
    const second = await page(h, who);
    // One statement: the checked insert, which logged nothing; ranked again without what B served, the
    // page is empty, so there is nothing to log.
    expect(second.statements).toHaveLength(1);
    expect(second.statements[0]).toMatch(KEPT_CANDIDATES_CHECK);
    expect(listingIdsOf(second.result).filter((id) => all.includes(id))).toEqual([]);
  }, 20_000);

  it('serves only the session that read them when the served window is shorter than they are kept', async () => {
    const who = await viewerOf(0);
    const first = await page(sessionOnly, who);
    readAgain(first.statements);
    const next = await page(sessionOnly, who, first.result.pageInfo.endCursor);
    fromKept(next.statements);
    const nextIds = listingIdsOf(next.result);
    expect(nextIds.some((id) => listingIdsOf(first.result).includes(id))).toBe(false);
    // A new session may be served the same listings again (window 0): its candidates are read again.
    const fresh = await page(sessionOnly, who);
    readAgain(fresh.statements);
  });
});
