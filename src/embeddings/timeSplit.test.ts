import { describe, expect, it } from 'vitest';
import { splitByTime } from './timeSplit.js';

describe('splitByTime', () => {
  it('holds out the last 20 % of each user’s positives by time and skips users with fewer than 5', () => {
    // User 0: 10 positives given out of time order (item i at time 100 - i); user 1: 4 positives.
    const user: number[] = [];
    const item: number[] = [];
    const time: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      user.push(0);
      item.push(i);
      time.push(100 - i);
    }
    for (let i = 0; i < 4; i += 1) {
      user.push(1);
      item.push(20 + i);
      time.push(i);
    }
    // A repeat of (0, 9) later counts once, at its first time.
    user.push(0);
    item.push(9);
    time.push(500);
    const split = splitByTime({
      userIndex: Uint32Array.from(user),
      itemIndex: Uint32Array.from(item),
      time: Float64Array.from(time),
      nUsers: 3,
      nItems: 30,
    });
    // Items 1 and 0 are user 0's latest (times 99 and 100).
    expect([...split.test[0]!].sort()).toEqual([0, 1]);
    expect(Array.from(split.trainItems[0]!)).toEqual([9, 8, 7, 6, 5, 4, 3, 2]);
    expect(split.test[1]).toBeNull();
    expect(Array.from(split.trainItems[1]!)).toEqual([20, 21, 22, 23]);
    expect(split.test[2]).toBeNull();
    expect(split.scoredUsers).toBe(1);
    expect(split.train.userIndex).toHaveLength(12);
    expect(split.train.nItems).toBe(30);
  });

  it('keeps at least one test item and validates its options', () => {
    const split = splitByTime(
      {
        userIndex: new Uint32Array(5),
        itemIndex: Uint32Array.from([0, 1, 2, 3, 4]),
        time: Float64Array.from([1, 2, 3, 4, 5]),
        nUsers: 1,
        nItems: 5,
      },
      { testFraction: 0.05, minPositives: 5 },
    );
    expect([...split.test[0]!]).toEqual([4]);
    const empty = {
      userIndex: new Uint32Array(0),
      itemIndex: new Uint32Array(0),
      time: new Float64Array(0),
      nUsers: 0,
      nItems: 0,
    };
    expect(() => splitByTime(empty, { testFraction: 1, minPositives: 5 })).toThrow(
      'testFraction must be between 0 and 1, got 1',
    );
    expect(() => splitByTime(empty, { testFraction: 0.2, minPositives: 1 })).toThrow(
      'minPositives must be a whole number >= 2, got 1',
    );
  });
});
