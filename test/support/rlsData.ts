import type { Queryable } from './fixtures.js';
import {
  insertCategory,
  insertInterest,
  insertLearningEvent,
  insertListing,
  insertProfile,
} from './fixtures.js';

/** Three users with rows in every user-data table, for row-level security tests. */
export interface RlsData {
  alice: string;
  bob: string;
  carol: string;
  dave: string;
  interests: [number, number];
  aliceListing: number;
  bobListing: number;
  /** carol's listing, which nobody has liked or commented on. */
  spareListing: number;
}

/**
 * alice (A) and bob (B) each own a row in every user-data table. Follows: bob→carol (A not involved),
 * alice→carol, bob→alice (visible to alice as the followee). dave has no rows at all.
 */
export async function seedRlsData(q: Queryable): Promise<RlsData> {
  const categoryId = await insertCategory(q);
  const interests: [number, number] = [
    await insertInterest(q, { categoryId }),
    await insertInterest(q, { categoryId }),
  ];
  const alice = await insertProfile(q, { handle: 'alice_a', displayName: 'Alice' });
  const bob = await insertProfile(q, { handle: 'bob_b', displayName: 'Bob' });
  const carol = await insertProfile(q, { handle: 'carol_c', displayName: 'Carol' });
  const dave = await insertProfile(q, { handle: 'dave_d', displayName: 'Dave' });
  const aliceListing = await insertListing(q, { categoryId, sellerId: alice, title: 'Alice sells' });
  const bobListing = await insertListing(q, { categoryId, sellerId: bob, title: 'Bob sells' });
  const spareListing = await insertListing(q, { categoryId, sellerId: carol, title: 'Carol sells' });

  for (const [user, other] of [
    [alice, bobListing],
    [bob, aliceListing],
  ] as const) {
    await q.query('INSERT INTO user_interests (user_id, interest_id, affinity) VALUES ($1, $2, 0.5)', [
      user,
      interests[0],
    ]);
    await q.query('INSERT INTO likes (user_id, listing_id) VALUES ($1, $2)', [user, other]);
    await q.query(`INSERT INTO comments (listing_id, user_id, body) VALUES ($1, $2, 'hello')`, [other, user]);
    await q.query(`INSERT INTO intent_signals (user_id, kind, listing_id) VALUES ($1, 'view', $2)`, [
      user,
      other,
    ]);
    await insertLearningEvent(q, { userId: user, listingId: other });
  }
  for (const [follower, followee] of [
    [bob, carol],
    [alice, carol],
    [bob, alice],
  ] as const) {
    await q.query('INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)', [follower, followee]);
  }
  return { alice, bob, carol, dave, interests, aliceListing, bobListing, spareListing };
}

/** The user-data tables and the column naming the row's owner. */
export const userTables = [
  { table: 'profiles', owner: 'user_id' },
  { table: 'user_interests', owner: 'user_id' },
  { table: 'likes', owner: 'user_id' },
  { table: 'comments', owner: 'user_id' },
  { table: 'follows', owner: 'follower_id' },
  { table: 'intent_signals', owner: 'user_id' },
] as const;
