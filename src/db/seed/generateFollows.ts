import type { UserPlan } from './generateUsers.js';
import { createRng } from './createRng.js';
import { instantBetween } from './timeSpans.js';

export interface FollowPlan {
  followerIndex: number[];
  followeeIndex: number[];
  createdAt: number[];
  /** Exact per-user totals, inserted as profiles.follower_count / following_count. */
  followerCount: Int32Array;
  followingCount: Int32Array;
}

const MAX_FOLLOWS_PER_USER = 60;
// Most follows go to the popular accounts; the rest to whoever, so small accounts are not all empty.
const POPULAR_SHARE = 0.7;

export function generateFollows(users: UserPlan, seed: number, asOfMs: number): FollowPlan {
  const rng = createRng(seed, 'follows');
  const plan: FollowPlan = {
    followerIndex: [],
    followeeIndex: [],
    createdAt: [],
    followerCount: new Int32Array(users.count),
    followingCount: new Int32Array(users.count),
  };
  const followed = new Set<number>();
  for (let follower = 0; follower < users.count; follower += 1) {
    // Cubed draw: most people follow a few accounts, a few follow dozens.
    const draw = rng.next();
    const want = Math.min(users.count - 1, Math.floor(draw * draw * draw * MAX_FOLLOWS_PER_USER));
    followed.clear();
    for (let attempts = 0; followed.size < want && attempts < want * 10; attempts += 1) {
      const followee = rng.chance(POPULAR_SHARE)
        ? users.popularitySampler.sample(rng)
        : rng.int(0, users.count - 1);
      if (followee === follower || followed.has(followee)) continue;
      followed.add(followee);
      const since = Math.max(users.createdAt[follower] ?? asOfMs, users.createdAt[followee] ?? asOfMs);
      plan.followerIndex.push(follower);
      plan.followeeIndex.push(followee);
      plan.createdAt.push(instantBetween(since, asOfMs, rng.next()));
      plan.followingCount[follower] = (plan.followingCount[follower] ?? 0) + 1;
      plan.followerCount[followee] = (plan.followerCount[followee] ?? 0) + 1;
    }
  }
  return plan;
}
