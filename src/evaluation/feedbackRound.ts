import type pg from 'pg';
import { withTransaction } from '../db/checkout.js';
import { runRankerTraining, type RankerTrainingResult } from '../feed/rankerTask.js';
import { refreshDerived } from '../import/refreshDerived.js';
import { splitLikes, type LikeRow } from './likeSplit.js';
import type { ScoredUser } from './scoring.js';
import { serveVariant, variantConfig, type FeedServingOptions } from './serveFeed.js';
import { fixedRankerWeights } from '../feed/ranking.js';

/**
 * A round of logged feedback for the learned ranker, made from train data only, so the `+learned`
 * variant is judged on what a deployment would have learned before the test period:
 *
 * 1. the latest `share` of each scored user's train likes are taken out by the same per-user time split
 *    as the test set's (src/evaluation/likeSplit.ts; users with ≥ 5 of them), and everything derived is
 *    rebuilt without them;
 * 2. the feed as the logging policy (the fixed weights, FEED_RANKER_WEIGHTS' if the harness's environment
 *    sets them, with ε-greedy exploration) serves each scored user one page of `pageSize`, logging
 *    impressions with their features and propensities as usual;
 * 3. an impression is rewarded 1 when the user liked that listing in the held-back slice, 0 otherwise
 *    (the like the user "would" have given it);
 * 4. the likes come back, everything derived is rebuilt again, and the worker's own `ranker_training`
 *    (src/feed/rankerTask.ts) fits weights on the log; it stores them only when they beat those fixed
 *    weights on its time holdout, as in production. The log is then deleted so no later variant sees it.
 */
export interface FeedbackRoundOptions extends FeedServingOptions {
  /** Share of each user's train likes held back as the feedback to learn from. */
  share: number;
  /** Items per page in the logging round (one page per user). */
  pageSize: number;
  /** Labelled impressions needed to train (the worker's FEED_RANKER_MIN_EVENTS for this run). */
  minEvents: number;
  /**
   * Position bias of the simulated reactions: a held-back like at position p of the user's feed counts
   * with chance (1 + p)^−examination (people look less further down); 0, the default: every one counts.
   */
  examination?: number;
}

export interface FeedbackRoundResult {
  heldBackLikes: number;
  impressions: number;
  rewarded: number;
  training: RankerTrainingResult;
  ms: number;
}

/** The scored users' (train) likes, in the shape splitLikes reads: $1 user ids. */
const TRAIN_LIKES_SQL = `
SELECT user_id::text AS "userId", listing_id AS "listingId", (extract(epoch FROM created_at) * 1000)::float8 AS at
FROM likes WHERE user_id = ANY($1::uuid[]) ORDER BY user_id, created_at, listing_id`;

/** Users with fewer train likes hold none back. */
const MIN_TRAIN_LIKES = 5;

/** The held-back likes taken out, returned as they were so they can be put back: $1 users, $2 listings. */
const DELETE_LIKES_SQL = `
DELETE FROM likes k USING unnest($1::uuid[], $2::int[]) AS t(u, l) WHERE k.user_id = t.u AND k.listing_id = t.l
RETURNING k.user_id, k.listing_id, k.created_at`;

const RESTORE_LIKES_SQL = `
INSERT INTO likes (user_id, listing_id, created_at)
SELECT * FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) ON CONFLICT DO NOTHING`;

/**
 * Rewards of the round's impressions: 1 for a held-back like the user looked at, else 0. $1 since, $2
 * users, $3 listings, $4 examination η: an impression at position p is looked at with chance
 * (1 + p)^−η, drawn from a hash of its id (0: every one is).
 */
const LABEL_SQL = `
WITH held AS (SELECT * FROM unnest($2::uuid[], $3::int[]) AS t(u, l))
UPDATE learning_events e
   SET reward = CASE WHEN EXISTS (SELECT 1 FROM held h WHERE h.u = e.user_id AND h.l = e.listing_id)
                      AND ('x' || substr(md5(e.id::text), 1, 8))::bit(32)::bigint / 4294967296.0
                          < power(1 + e.position, -$4::float8)
                     THEN 1 ELSE 0 END,
       rewarded_at = now()
 WHERE e.created_at >= $1 AND e.user_id IS NOT NULL
RETURNING e.reward`;

export async function feedbackRound(
  scratchUrl: string,
  pool: pg.Pool,
  users: readonly ScoredUser[],
  options: FeedbackRoundOptions,
): Promise<FeedbackRoundResult> {
  const started = performance.now();
  const quiet = () => undefined;
  const { rows } = await pool.query<LikeRow>(TRAIN_LIKES_SQL, [users.map((u) => u.userId)]);
  const held = splitLikes(rows, { testFraction: options.share, minPositives: MIN_TRAIN_LIKES }).test;
  const heldUsers = held.userIds;
  const heldListings = held.listingIds;
  const { rows: removed } = await pool.query<{ user_id: string; listing_id: number; created_at: Date }>(
    DELETE_LIKES_SQL,
    [heldUsers, heldListings],
  );
  // Nothing runs the queues on a scratch database; the like events would only hold popularity back.
  await pool.query('DELETE FROM events_queue');
  await refreshDerived(pool, quiet);

  const { rows: clock } = await pool.query<{ t: Date }>('SELECT clock_timestamp() AS t');
  const logging = { name: 'logging', env: { FEED_RANKER: 'fixed' } };
  await serveVariant(scratchUrl, pool, logging, users, {
    ...options,
    k: options.pageSize,
    keepImpressions: true,
  });
  const { rows: labels } = await pool.query<{ reward: number }>(LABEL_SQL, [
    clock[0]!.t,
    heldUsers,
    heldListings,
    options.examination ?? 0,
  ]);

  await pool.query(RESTORE_LIKES_SQL, [
    removed.map((r) => r.user_id),
    removed.map((r) => r.listing_id),
    removed.map((r) => r.created_at),
  ]);
  await pool.query('DELETE FROM events_queue');
  await refreshDerived(pool, quiet);

  // As the worker runs it: the service identity, which ranker_training_rows requires.
  const training = await withTransaction(pool, async (tx) => {
    await tx.query(`SELECT set_config('lodestar.role', 'service', true)`);
    return runRankerTraining(tx, {
      minEvents: options.minEvents,
      attributionMinutes: 0,
      // The weights that logged the round (FEED_RANKER_WEIGHTS of the harness's environment, if set).
      training: {
        prior: fixedRankerWeights(variantConfig(scratchUrl, logging, options.env).feed.rankerWeights),
      },
    });
  });
  await pool.query('DELETE FROM learning_events WHERE created_at >= $1', [clock[0]!.t]);
  return {
    heldBackLikes: heldUsers.length,
    impressions: labels.length,
    rewarded: labels.filter((l) => l.reward > 0).length,
    training,
    ms: Math.round(performance.now() - started),
  };
}
