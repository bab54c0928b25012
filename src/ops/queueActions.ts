import { createBadUserInputError, createNotFoundError } from '../errors/errors.js';
import { enqueueDiscoveryPairs } from '../queue/discovery.js';
import { createLeaseQueue, type QueueName } from '../queue/leaseQueue.js';
import { repeatUntilShort } from './batches.js';
import { inAdminTx, type OpsRunner } from './opsRunner.js';

/** Rows one requeue statement touches, so each stays well inside the statement timeout. */
const REQUEUE_BATCH = 10_000;

/** Runbook "Discovery Queue Backlog": failed items below the threshold, a bounded batch per statement. */
const requeueErrorsSql = `
UPDATE marketplace_discovery_queue SET status = 'queued', attempts = 0, last_error = NULL, run_after = now()
 WHERE id IN (SELECT id FROM marketplace_discovery_queue WHERE status = 'error' AND attempts < $2 LIMIT $1)
   AND status = 'error'`;

/** The worker's own requeue of expired leases, in bounded batches, each its own admin transaction. */
const requeueExpired = (runner: OpsRunner, queue: QueueName): Promise<number> =>
  repeatUntilShort(REQUEUE_BATCH, () =>
    inAdminTx(runner, (client) => createLeaseQueue(queue).reclaimExpired(client, REQUEUE_BATCH)),
  );

/** Runbook "Worker Stuck": expired events leases back to queued. */
export async function requeueStuckEvents(runner: OpsRunner): Promise<{ requeued: number }> {
  return { requeued: await requeueExpired(runner, 'events') };
}

/** Expired discovery leases (status processing) back to queued. */
export async function requeueStuckDiscovery(runner: OpsRunner): Promise<{ requeued: number }> {
  return { requeued: await requeueExpired(runner, 'discovery') };
}

/**
 * Runbook "Discovery Queue Backlog": failed items with attempts below `maxAttempts` (the runbook's 5)
 * back to queued with attempts reset. Raise it to bring back items that exhausted their retries.
 */
export async function requeueDiscoveryErrors(
  runner: OpsRunner,
  args: { maxAttempts: number },
): Promise<{ requeued: number; maxAttempts: number }> {
  const requeued = await repeatUntilShort(REQUEUE_BATCH, () =>
    inAdminTx(
      runner,
      async (client) =>
        (await client.query(requeueErrorsSql, [REQUEUE_BATCH, args.maxAttempts])).rowCount ?? 0,
    ),
  );
  return { requeued, maxAttempts: args.maxAttempts };
}

/** enqueue discovery: the interest's own category unless one is given; both must exist. */
const interestSql = `
SELECT i.category_id, (SELECT c.id FROM categories c WHERE c.id = $2) AS asked_category
FROM interest_catalog i WHERE i.id = $1`;
const pendingSql = `
SELECT id::text FROM marketplace_discovery_queue
WHERE interest_id = $1 AND category_id = $2 AND status IN ('queued', 'processing') LIMIT 1`;

/**
 * Queues discovery for one (interest, category). An item for the pair that is still waiting or
 * running is returned instead of a second one.
 */
export async function enqueueDiscovery(
  runner: OpsRunner,
  args: { interestId: number; categoryId?: number | undefined },
): Promise<{ enqueued: boolean; itemId: string; interestId: number; categoryId: number }> {
  return inAdminTx(runner, async (client) => {
    const { rows } = await client.query<{ category_id: number; asked_category: number | null }>(interestSql, [
      args.interestId,
      args.categoryId ?? null,
    ]);
    const interest = rows[0];
    if (!interest) throw createNotFoundError('interest', args.interestId);
    if (args.categoryId !== undefined && interest.asked_category === null) {
      throw createBadUserInputError(`category ${args.categoryId} was not found`, 'categoryId');
    }
    const categoryId = args.categoryId ?? interest.category_id;
    // Two calls for the same pair at once: the second waits here, then finds the first one's item.
    await client.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [args.interestId, categoryId]);
    const pending = (await client.query<{ id: string }>(pendingSql, [args.interestId, categoryId])).rows[0];
    if (pending) return { enqueued: false, itemId: pending.id, interestId: args.interestId, categoryId };
    // A fresh key each call (the `ops` recipe): the pending check above is this action's dedup.
    const [itemId = ''] = await enqueueDiscoveryPairs(client, 'ops', [
      { interestId: args.interestId, categoryId },
    ]);
    return { enqueued: true, itemId, interestId: args.interestId, categoryId };
  });
}
