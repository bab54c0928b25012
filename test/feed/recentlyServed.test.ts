import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asIdentity, createTestDatabase, type TestDatabase } from '../support/db.js';
import { insertCategory, insertListing, insertProfile } from '../support/fixtures.js';

/**
 * recently_served_listings (the feed's "served" exclusion): a listing counts as served to a viewer when
 * an impression of it is inside the window or belongs to the feed session asking; anonymous feeds only
 * by their session. Each kind is read through its own index range (migration 20261207010000), so old
 * impressions outside both are never returned, whatever the history's length.
 */
describe('recently_served_listings', () => {
  let db: TestDatabase;
  let viewer: string;
  let other: string;
  const ids: Record<string, number> = {};

  const served = async (
    identity: { userId?: string; role: 'user' | 'service' },
    args: [string | null, string | null, string | null],
  ): Promise<number[]> =>
    asIdentity(db, identity, async (client) => {
      await client.query('SET LOCAL ROLE lodestar_service');
      const { rows } = await client.query<{ id: number }>(
        `SELECT id FROM recently_served_listings($1::uuid, $2::interval, $3::text) AS id ORDER BY id`,
        args,
      );
      return rows.map((r) => r.id);
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    const categoryId = await insertCategory(db.pool);
    viewer = await insertProfile(db.pool);
    other = await insertProfile(db.pool);
    for (const name of ['inWindow', 'oldThisSession', 'oldOtherSession', 'otherViewer', 'anonA', 'anonB'])
      ids[name] = await insertListing(db.pool, { categoryId });
    const event = (user: string | null, listing: number, session: string, age: string) =>
      db.pool.query(
        `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, context, created_at)
         VALUES ($1, $2, 'epsilon_greedy', 'SIMILAR', 1, 0, jsonb_build_object('session', $3::text), now() - $4::interval)`,
        [user, listing, session, age],
      );
    await event(viewer, ids.inWindow!, 'earlier', '10 minutes');
    await event(viewer, ids.oldThisSession!, 'now', '3 days');
    await event(viewer, ids.oldOtherSession!, 'earlier', '3 days');
    // A long history outside the window and the session: never part of the answer.
    await db.pool.query(
      `INSERT INTO learning_events (user_id, listing_id, policy, source, propensity, position, context, created_at)
       SELECT $1, $2, 'epsilon_greedy', 'SIMILAR', 1, 0, jsonb_build_object('session', 'old-' || g), now() - interval '5 days'
       FROM generate_series(1, 500) g`,
      [viewer, ids.oldOtherSession],
    );
    await event(other, ids.otherViewer!, 'now', '1 minute');
    await event(null, ids.anonA!, 'anon-a', '1 minute');
    await event(null, ids.anonB!, 'anon-b', '1 minute');
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('returns the viewer’s impressions in the window and in the asking session, nothing older or other', async () => {
    expect(await served({ role: 'service' }, [viewer, '60 minutes', 'now'])).toEqual(
      [ids.inWindow, ids.oldThisSession].sort((a, b) => a! - b!),
    );
    // No session: the window alone; no window: the session alone.
    expect(await served({ role: 'service' }, [viewer, '60 minutes', null])).toEqual([ids.inWindow]);
    expect(await served({ role: 'service' }, [viewer, null, 'now'])).toEqual([ids.oldThisSession]);
    expect(await served({ role: 'service' }, [viewer, '0 minutes', 'none'])).toEqual([]);
  });

  it('answers a viewer for their own id only; the service for anyone', async () => {
    expect(await served({ userId: viewer, role: 'user' }, [viewer, '60 minutes', null])).toEqual([
      ids.inWindow,
    ]);
    expect(await served({ userId: other, role: 'user' }, [viewer, '60 minutes', 'now'])).toEqual([]);
    expect(await served({ role: 'service' }, [other, '60 minutes', null])).toEqual([ids.otherViewer]);
  });

  it('gives an anonymous feed what its own session served, and only to the service', async () => {
    expect(await served({ role: 'service' }, [null, '60 minutes', 'anon-a'])).toEqual([ids.anonA]);
    expect(await served({ role: 'service' }, [null, '60 minutes', null])).toEqual([]);
    expect(await served({ userId: viewer, role: 'user' }, [null, '60 minutes', 'anon-a'])).toEqual([]);
  });
});
