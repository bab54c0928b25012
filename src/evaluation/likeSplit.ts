import { splitByTime, type SplitOptions, type TimeSplit } from '../embeddings/timeSplit.js';

/**
 * Issue #16's per-user time split applied to the likes of a database: the rows are indexed (users in
 * the order given, listings by id), split with embeddings/timeSplit.ts, and the held-out likes named
 * by (user id, listing id) so the harness can delete them. Pure and linear in the rows.
 */

export interface LikeRow {
  userId: string;
  listingId: number;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface LikeSplit {
  /** User index → user id (first appearance order of the rows). */
  userIds: readonly string[];
  /** Item index → listing id (ascending). */
  listingIds: readonly number[];
  itemOf: ReadonlyMap<number, number>;
  split: TimeSplit;
  /** Every held-out like of every user with enough positives. */
  test: { userIds: string[]; listingIds: number[] };
  /** The scored users (index), capped at `maxUsers` in user order. */
  scored: number[];
}

export function splitLikes(
  rows: readonly LikeRow[],
  options: SplitOptions & { maxUsers?: number | null },
): LikeSplit {
  const userIds: string[] = [];
  const userOf = new Map<string, number>();
  for (const row of rows) {
    if (!userOf.has(row.userId)) {
      userOf.set(row.userId, userIds.length);
      userIds.push(row.userId);
    }
  }
  const listingIds = [...new Set(rows.map((r) => r.listingId))].sort((a, b) => a - b);
  const itemOf = new Map(listingIds.map((id, index) => [id, index]));
  const split = splitByTime(
    {
      userIndex: Uint32Array.from(rows, (r) => userOf.get(r.userId)!),
      itemIndex: Uint32Array.from(rows, (r) => itemOf.get(r.listingId)!),
      time: Float64Array.from(rows, (r) => r.at),
      nUsers: userIds.length,
      nItems: listingIds.length,
    },
    options,
  );
  const test = { userIds: [] as string[], listingIds: [] as number[] };
  const scored: number[] = [];
  const cap = options.maxUsers ?? Infinity;
  split.test.forEach((items, user) => {
    if (items === null) return;
    if (scored.length < cap) scored.push(user);
    for (const item of items) {
      test.userIds.push(userIds[user]!);
      test.listingIds.push(listingIds[item]!);
    }
  });
  return { userIds, listingIds, itemOf, split, test, scored };
}

/**
 * Declared interests from train: per user, the share of each category among the categories of their
 * train positives (an item in several categories counts once in each). Shares sum to 1 per user;
 * users without train positives get none.
 */
export function interestsFromTrain(
  trainItems: ReadonlyArray<ArrayLike<number>>,
  categoriesOf: (item: number) => readonly number[],
): Map<number, number>[] {
  return trainItems.map((items) => {
    const counts = new Map<number, number>();
    let total = 0;
    for (let i = 0; i < items.length; i += 1) {
      for (const category of categoriesOf(items[i]!)) {
        counts.set(category, (counts.get(category) ?? 0) + 1);
        total += 1;
      }
    }
    for (const [category, n] of counts) counts.set(category, n / total);
    return counts;
  });
}
