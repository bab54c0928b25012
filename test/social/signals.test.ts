import { afterEach, beforeEach, describe, expect } from 'vitest';
import { anonymousViewer, type UserViewer, type Viewer } from '../../src/auth/viewer.js';
import { asIdentity } from '../support/db.js';
import { insertCategory, insertListing, insertProfile } from '../support/fixtures.js';
import type { InProcess } from '../support/gateway.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { outboxWhere, socialEnv, socialFile, type SocialFile } from '../support/socialWrites.js';
import { it, test } from '../support/testFixtures.js';
import { graphql } from '../support/graphql.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';

const RECORD_SIGNAL = graphql(`
  mutation RecordSignal($kind: SignalKind!, $listingId: ID, $query: String, $weight: Float) {
    recordSignal(kind: $kind, listingId: $listingId, query: $query, weight: $weight) {
      signalId
      kind
      listingId
      weight
    }
  }
`);

interface StoredSignal {
  id: string;
  kind: string;
  listing_id: number | null;
  query: string | null;
  weight: number;
}

const LISTING_KINDS = ['VIEW', 'CLICK', 'DWELL', 'SHARE', 'SAVE'] as const;
const UNKNOWN_LISTING = 2_000_000_000;
const QUERY_MESSAGE = 'a search signal needs a query of 1 to 200 characters';

test.override('env', socialEnv());

describe('recordSignal', () => {
  let file: SocialFile;
  let listingId: number;
  let soldListingId: number;
  let viewer: UserViewer;

  const record = (
    args: { kind: string; listingId?: number | string; query?: string; weight?: number },
    as: Viewer = viewer,
    h?: InProcess,
  ) =>
    (h ?? file.h).execute(RECORD_SIGNAL, {
      viewer: as,
      variables: { ...args, listingId: args.listingId === undefined ? undefined : String(args.listingId) },
    });
  /** The user's signals as stored, oldest first, read as the owner. */
  const stored = async (userId = viewer.userId) => {
    const { rows } = await file.db.pool.query<StoredSignal>(
      'SELECT id::text, kind, listing_id, query, weight FROM intent_signals WHERE user_id = $1 ORDER BY intent_signals.id',
      [userId],
    );
    return rows;
  };
  const outbox = (userId = viewer.userId) => outboxWhere(file.db.pool, ['signal.recorded'], { userId });
  const nothingWritten = async () => {
    expect(await stored()).toEqual([]);
    expect(await outbox()).toEqual([]);
  };

  test.beforeAll(async ({ db, redis, inProcess, inProcessWith }) => {
    file = socialFile({ db, redis, inProcess, inProcessWith });
    const categoryId = await insertCategory(file.db.pool);
    const sellerId = await insertProfile(file.db.pool);
    listingId = await insertListing(file.db.pool, { categoryId, sellerId });
    soldListingId = await insertListing(file.db.pool, { categoryId, sellerId, status: 'sold' });
  });

  beforeEach(async () => {
    await file.flushRedis();
    viewer = (await file.users(1))[0]!;
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
  });

  describe('listing signals', () => {
    it.each(LISTING_KINDS)(
      '%s on a listing is stored for the viewer with weight 1 by default',
      async (kind) => {
        const payload = dataOf(await record({ kind, listingId })).recordSignal;
        expect(payload).toEqual({
          signalId: expect.stringMatching(/^\d+$/) as unknown,
          kind,
          listingId: String(listingId),
          weight: 1,
        });
        expect(await stored()).toEqual([
          { id: payload.signalId, kind: kind.toLowerCase(), listing_id: listingId, query: null, weight: 1 },
        ]);
      },
    );

    it.each(LISTING_KINDS)('%s without a listing is BAD_USER_INPUT on listingId', async (kind) => {
      const { message, extensions } = expectErrorCode(await record({ kind }), 'BAD_USER_INPUT');
      expect(message).toBe(`a ${kind.toLowerCase()} signal needs a listingId`);
      expect(extensions.field).toBe('listingId');
      await nothingWritten();
    });

    it('a listing that is no longer active still takes signals (a viewer may look at a sold item)', async () => {
      dataOf(await record({ kind: 'VIEW', listingId: soldListingId }));
      expect((await stored()).map((s) => s.listing_id)).toEqual([soldListingId]);
    });

    it('an unknown listing is NOT_FOUND naming it, and a malformed id BAD_USER_INPUT; nothing is written', async () => {
      const { message } = expectErrorCode(
        await record({ kind: 'CLICK', listingId: UNKNOWN_LISTING }),
        'NOT_FOUND',
      );
      expect(message).toBe(`listing ${UNKNOWN_LISTING} was not found`);
      const malformed = expectErrorCode(await record({ kind: 'CLICK', listingId: 'abc' }), 'BAD_USER_INPUT');
      expect(malformed.message).toBe('listingId must be a listing id (a positive whole number), got "abc"');
      expect(malformed.extensions.field).toBe('listingId');
      await nothingWritten();
    });

    it('a query sent with a listing signal is not stored', async () => {
      dataOf(await record({ kind: 'CLICK', listingId, query: 'shoes' }));
      expect(await stored()).toMatchObject([{ kind: 'click', query: null }]);
    });
  });

  describe('search signals', () => {
    it('SEARCH stores the trimmed query and no listing', async () => {
      const payload = dataOf(await record({ kind: 'SEARCH', query: '  red running shoes \n' })).recordSignal;
      expect(payload).toMatchObject({ kind: 'SEARCH', listingId: null, weight: 1 });
      expect(await stored()).toEqual([
        { id: payload.signalId, kind: 'search', listing_id: null, query: 'red running shoes', weight: 1 },
      ]);
    });

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['only whitespace', ' \t\n '],
      ['201 characters', 'q'.repeat(201)],
    ])('SEARCH with a query that is %s is BAD_USER_INPUT on query', async (_name, query) => {
      const { message, extensions } = expectErrorCode(
        await record({ kind: 'SEARCH', query }),
        'BAD_USER_INPUT',
      );
      expect(message).toBe(QUERY_MESSAGE);
      expect(extensions.field).toBe('query');
      await nothingWritten();
    });

    it('SEARCH accepts exactly 200 characters, also with whitespace around them', async () => {
      dataOf(await record({ kind: 'SEARCH', query: 'a'.repeat(200) }));
      dataOf(await record({ kind: 'SEARCH', query: `   ${'b'.repeat(200)}   ` }));
      expect((await stored()).map((s) => s.query)).toEqual(['a'.repeat(200), 'b'.repeat(200)]);
    });
  });

  describe('weight', () => {
    it('0 and 1000 are accepted, and a fractional dwell time is kept', async () => {
      dataOf(await record({ kind: 'VIEW', listingId, weight: 0 }));
      dataOf(await record({ kind: 'DWELL', listingId, weight: 1000 }));
      const dwell = dataOf(await record({ kind: 'DWELL', listingId, weight: 12.5 })).recordSignal;
      expect(dwell.weight).toBe(12.5);
      expect((await stored()).map((s) => s.weight)).toEqual([0, 1000, 12.5]);
    });

    it.each([-1, -0.001, 1000.5, 1e6])('weight %d is BAD_USER_INPUT on weight', async (weight) => {
      const { message, extensions } = expectErrorCode(
        await record({ kind: 'DWELL', listingId, weight }),
        'BAD_USER_INPUT',
      );
      expect(message).toBe(`weight must be between 0 and 1000, got ${weight}`);
      expect(extensions.field).toBe('weight');
      await nothingWritten();
    });
  });

  describe('who may record', () => {
    it('an anonymous caller is UNAUTHENTICATED and nothing is written', async () => {
      const signalsOnListing = async () =>
        (
          await file.db.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM intent_signals WHERE listing_id = $1',
            [listingId],
          )
        ).rows[0]!.n;
      const before = await signalsOnListing();
      expectErrorCode(await record({ kind: 'VIEW', listingId }, anonymousViewer), 'UNAUTHENTICATED');
      expect(await signalsOnListing()).toBe(before);
    });
  });

  describe('outbox', () => {
    it('writes one signal.recorded per stored signal, none for a refused one', async () => {
      const view = dataOf(await record({ kind: 'VIEW', listingId })).recordSignal;
      const search = dataOf(await record({ kind: 'SEARCH', query: 'lamp' })).recordSignal;
      expectErrorCode(await record({ kind: 'VIEW', listingId: UNKNOWN_LISTING }), 'NOT_FOUND');
      expectErrorCode(await record({ kind: 'SEARCH' }), 'BAD_USER_INPUT');
      expectErrorCode(await record({ kind: 'SAVE', listingId, weight: -1 }), 'BAD_USER_INPUT');
      const u = viewer.userId;
      expect(await outbox()).toEqual([
        { kind: 'signal.recorded', payload: { signalId: view.signalId, userId: u, kind: 'view', listingId } },
        {
          kind: 'signal.recorded',
          payload: { signalId: search.signalId, userId: u, kind: 'search', listingId: null },
        },
      ]);
    });
  });

  describe('row-level security', () => {
    it("user A's transaction cannot record a signal as user B (42501) nor see B's", async () => {
      const other = (await file.users(1))[0]!;
      dataOf(await record({ kind: 'VIEW', listingId }, other));
      const insert = asIdentity(file.db, { role: 'user', userId: viewer.userId }, (client) =>
        client.query(`INSERT INTO intent_signals (user_id, kind, listing_id) VALUES ($1, 'view', $2)`, [
          other.userId,
          listingId,
        ]),
      );
      await expect(insert).rejects.toMatchObject({
        code: '42501',
        message: 'new row violates row-level security policy for table "intent_signals"',
      });
      const seen = await asIdentity(
        file.db,
        { role: 'user', userId: viewer.userId },
        async (client) =>
          (await client.query('SELECT 1 FROM intent_signals WHERE user_id = $1', [other.userId])).rowCount,
      );
      expect(seen).toBe(0);
      expect(await stored(other.userId)).toHaveLength(1);
    });
  });

  describe('rate limit', () => {
    it('the signal after the budget is RATE_LIMITED and writes nothing', async () => {
      const limited = file.harness({ RATE_LIMIT_SIGNALS_PER_MIN: '2' });
      await awayFromWindowEdge();
      dataOf(await record({ kind: 'VIEW', listingId }, viewer, limited));
      dataOf(await record({ kind: 'SEARCH', query: 'chair' }, viewer, limited));
      const { message, extensions } = expectErrorCode(
        await record({ kind: 'CLICK', listingId }, viewer, limited),
        'RATE_LIMITED',
      );
      expect(message).toMatch(/^too many signals; retry in \d+ s$/);
      expect(extensions).toMatchObject({ action: 'signal' });
      expect(await stored()).toHaveLength(2);
    });
  });
});
