import { describe, expect, it } from 'vitest';
import { interestsFromTrain, splitLikes, type LikeRow } from './likeSplit.js';

const day = 86_400_000;
const likes = (user: string, listings: number[]): LikeRow[] =>
  listings.map((listingId, i) => ({ userId: user, listingId, at: i * day }));

describe('splitLikes', () => {
  it('holds out the last share of each user by time, names the pairs and skips users with too few likes', () => {
    const rows = [
      ...likes('a', [10, 11, 12, 13, 14]),
      ...likes('b', [20, 21, 22]),
      ...likes('c', [30, 31, 32, 33, 34, 35, 36, 37, 38, 39]),
    ];
    const s = splitLikes(rows, { testFraction: 0.2, minPositives: 5 });
    expect(s.userIds).toEqual(['a', 'b', 'c']);
    expect(s.scored).toEqual([0, 2]);
    // a: 5 likes → 1 held out (the last); b: unscored, nothing held out; c: 10 → 2.
    expect(s.test.userIds).toEqual(['a', 'c', 'c']);
    expect([...s.test.listingIds].sort((x, y) => x - y)).toEqual([14, 38, 39]);
    expect(Array.from(s.split.trainItems[1]!, (i) => s.listingIds[i])).toEqual([20, 21, 22]);
    expect(s.split.train.userIndex.length).toBe(rows.length - 3);
  });

  it('orders by time, not by row order, and caps the scored users without keeping their test likes', () => {
    const rows: LikeRow[] = [
      { userId: 'a', listingId: 5, at: 4 * day },
      ...likes('a', [1, 2, 3, 4]),
      ...likes('b', [6, 7, 8, 9, 10]),
    ];
    const s = splitLikes(rows, { testFraction: 0.2, minPositives: 5, maxUsers: 1 });
    expect(s.scored).toEqual([0]);
    expect(s.test.userIds).toEqual(['a', 'b']);
    expect(s.test.listingIds).toEqual([5, 10]);
  });
});

describe('interestsFromTrain', () => {
  it('weights each category by its share of the categories of the train items', () => {
    const categories: Record<number, number[]> = { 0: [1], 1: [1, 2], 2: [3] };
    const [first, empty] = interestsFromTrain(
      [Uint32Array.from([0, 1, 2]), new Uint32Array()],
      (i) => categories[i]!,
    );
    expect(Object.fromEntries(first!)).toEqual({ 1: 0.5, 2: 0.25, 3: 0.25 });
    expect(empty!.size).toBe(0);
  });
});
