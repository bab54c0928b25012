import { BENCH_KEY_PREFIX, type LikerUser } from './likesData.js';
import type { Task } from '../shared/load.js';

/**
 * What the likes phase sends: `likeListing` with or without an idempotency key, each worker as a user
 * of its own liking listings nobody else likes meanwhile.
 */

/** full: key + rate limits; no-key: rate limits only; bare: neither (RATE_LIMITS_ENABLED=false). */
export type LikeMode = 'full' | 'no-key' | 'bare';

export const LIKE_MODES: readonly { mode: LikeMode; key: boolean; limits: boolean }[] = [
  { mode: 'full', key: true, limits: true },
  { mode: 'no-key', key: false, limits: true },
  { mode: 'bare', key: false, limits: false },
];

/** The two gateways' environments: rate limits on (full, no-key) and off (bare). */
export type LikesEnvs = { limitsOn: Record<string, string>; limitsOff: Record<string, string> };

export const likeMutation =
  'mutation Like($listingId: ID!, $idempotencyKey: String) { likeListing(listingId: $listingId, ' +
  'idempotencyKey: $idempotencyKey) { liked changed likeCount } }';

/** One user and the listings it will like, in order. */
export interface Liker {
  userId: string;
  token: string;
  listings: number[];
  next: number;
}

export function createLiker(user: LikerUser, token: string, listings: readonly number[]): Liker {
  return { userId: user.userId, token, listings: listings.filter((id) => !user.liked.has(id)), next: 0 };
}

/**
 * `parts` disjoint ranges of the listings. Concurrent workers then never like the same listing, so
 * they never queue on one listing row's lock (the likes_count trigger updates the row per like): that
 * would measure contention on a hot listing, not the write.
 */
export function partition(listings: readonly number[], parts: number): number[][] {
  const size = Math.floor(listings.length / parts);
  return Array.from({ length: parts }, (_, i) => listings.slice(i * size, (i + 1) * size));
}

/**
 * A load task: worker w likes the next listing of `likers[w]`. A request fails on GraphQL `errors`
 * or unless the like is new (`"changed":true`); `made` counts the ones that succeeded. The key is
 * unique per like and per run, so a key left by an interrupted run can never turn a request into a
 * replay.
 */
export function likeTask(
  post: (body: string, token: string) => Promise<string>,
  likers: readonly Liker[],
  options: { withKey: boolean; runTag: string; made: { likes: number } },
): Task {
  const { withKey, runTag, made } = options;
  return async (_index, worker) => {
    const liker = likers[worker];
    if (!liker) throw new Error(`no user for worker ${worker}`);
    const listingId = liker.listings[liker.next];
    if (listingId === undefined) throw new Error(`user ${liker.userId} has no listings left to like`);
    liker.next += 1;
    const variables = {
      listingId: String(listingId),
      ...(withKey ? { idempotencyKey: `${BENCH_KEY_PREFIX}${runTag}:${listingId}` } : {}),
    };
    const text = await post(JSON.stringify({ query: likeMutation, variables }), liker.token);
    if (text.includes('"errors"')) throw new Error(`GraphQL errors: ${text.slice(0, 300)}`);
    if (!text.includes('"changed":true'))
      throw new Error(`expected a new like (changed: true): ${text.slice(0, 200)}`);
    made.likes += 1;
  };
}
