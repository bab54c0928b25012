import type { SeedPlan } from './buildSeedPlan.js';
import type { StatementQueue } from './createStatementQueue.js';
import { inBatches, isoSlice, ROW_BATCH } from './inBatches.js';
import { isoTimestamp } from './timeSpans.js';

/*
 * Likes, comments and follows go in while their counter triggers are disabled: the listings and
 * profiles were inserted with the exact totals already, and a per-row counter UPDATE would
 * rewrite a 1.6 KB listing row (and stamp updated_at with the wall clock) for every like.
 */

export function loadLikes(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { likes, users } = plan;
  return inBatches(
    queue,
    `INSERT INTO likes (user_id, listing_id, created_at)
     SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[])`,
    likes.userIndex.length,
    ROW_BATCH,
    (start, end) => [
      likes.userIndex.slice(start, end).map((u) => users.userIds[u]),
      likes.listingIndex.slice(start, end).map((l) => l + 1),
      isoSlice(likes.createdAt, start, end),
    ],
  );
}

export function loadComments(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { comments, users } = plan;
  return inBatches(
    queue,
    `INSERT INTO comments (id, listing_id, user_id, body, created_at, updated_at, deleted_at)
     SELECT * FROM unnest($1::bigint[], $2::int[], $3::uuid[], $4::text[], $5::timestamptz[], $6::timestamptz[],
       $7::timestamptz[])`,
    comments.userIndex.length,
    ROW_BATCH,
    (start, end) => {
      const ids: number[] = [];
      for (let i = start; i < end; i += 1) ids.push(i + 1);
      return [
        ids,
        comments.listingIndex.slice(start, end).map((l) => l + 1),
        comments.userIndex.slice(start, end).map((u) => users.userIds[u]),
        comments.bodies.slice(start, end),
        isoSlice(comments.createdAt, start, end),
        isoSlice(comments.updatedAt, start, end),
        comments.deletedAt.slice(start, end).map((at) => (at === null ? null : isoTimestamp(at))),
      ];
    },
  );
}

export function loadFollows(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { follows, users } = plan;
  return inBatches(
    queue,
    `INSERT INTO follows (follower_id, followee_id, created_at)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[])`,
    follows.followerIndex.length,
    ROW_BATCH,
    (start, end) => [
      follows.followerIndex.slice(start, end).map((u) => users.userIds[u]),
      follows.followeeIndex.slice(start, end).map((u) => users.userIds[u]),
      isoSlice(follows.createdAt, start, end),
    ],
  );
}

export function loadIntentSignals(queue: StatementQueue, plan: SeedPlan): Promise<number> {
  const { intentSignals: signals, users } = plan;
  return inBatches(
    queue,
    `INSERT INTO intent_signals (id, user_id, kind, listing_id, query, weight, created_at)
     SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::real[], $7::timestamptz[])`,
    signals.userIndex.length,
    ROW_BATCH,
    (start, end) => {
      const ids: number[] = [];
      for (let i = start; i < end; i += 1) ids.push(i + 1);
      return [
        ids,
        signals.userIndex.slice(start, end).map((u) => users.userIds[u]),
        signals.kinds.slice(start, end),
        signals.listingIndex.slice(start, end).map((l) => (l < 0 ? null : l + 1)),
        signals.queries.slice(start, end),
        signals.weights.slice(start, end),
        isoSlice(signals.createdAt, start, end),
      ];
    },
  );
}
