import type pg from 'pg';
import { rollbackQuietly, withClient } from '../db/checkout.js';
import { coerceError } from '../errors/errors.js';
import type { Logger } from '../platform/logger.js';
import { failSpan, inSpan, SpanKind, type Span } from '../platform/tracing.js';
import type { LeasedItem, LeaseQueue } from '../queue/leaseQueue.js';

/**
 * Does one item's work inside the transaction that also completes it; may return what to do once that
 * transaction has committed (e.g. drop cached features), which never undoes the item.
 */
export type JobHandler = (item: LeasedItem, tx: pg.PoolClient) => Promise<void | (() => Promise<void>)>;

export interface ConsumerOptions {
  queue: LeaseQueue;
  handler: JobHandler;
  pool: pg.Pool;
  logger: Logger;
  /** Items worked on at once. @default 4 */
  concurrency?: number;
  /** Lease length; heartbeats extend it every third of it. @default 30000 */
  leaseMs?: number;
  /** Poll interval when no notification arrives (the fallback). @default 1000 */
  pollMs?: number;
  onOutcome?: (
    outcome: 'claimed' | 'succeeded' | 'failed' | 'lost' | 'released',
    item: LeasedItem,
    ms?: number,
  ) => void;
}

export interface Consumer {
  start(): Promise<void>;
  /** Stops claiming, waits for in-flight items up to `deadlineMs`, then releases the rest. */
  stop(deadlineMs: number): Promise<void>;
  /** Wakes the loop now (LISTEN notifications call this). */
  wake(): void;
}

/**
 * A lease-based consumer: claims with SKIP LOCKED (any number of workers share a queue), runs each
 * item's handler in a transaction that completes the item only while this worker still holds the lease
 * — so an expired worker's late result is rolled back, never written — and records failures with
 * backoff. Sleeps until a NOTIFY or the poll interval.
 */
export function createConsumer(options: ConsumerOptions): Consumer {
  const { queue, handler, pool, logger, concurrency = 4, leaseMs = 30_000, pollMs = 1000 } = options;
  const inflight = new Map<string, { item: LeasedItem; done: Promise<void> }>();
  let running = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  // A wake-up that came while the loop was busy (claiming): the next sleep returns at once.
  let wakePending = false;
  let lastReclaim = 0;
  // Expired leases are rare: look for them every so often, not before every claim.
  const reclaimEveryMs = Math.min(5000, leaseMs / 2);

  const sleep = () =>
    new Promise<void>((resolve) => {
      if (wakePending) {
        wakePending = false;
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        wakeUp = undefined;
        resolve();
      }, pollMs);
      wakeUp = () => {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      };
    });
  const wake = () => {
    if (wakeUp) wakeUp();
    else wakePending = true;
  };

  /** One item, in a trace of its own (`queue events`): its SQL and Redis spans nest under it. */
  function work(item: LeasedItem): Promise<void> {
    const kind = item.row.kind;
    return inSpan(
      `queue ${queue.name}`,
      {
        'lodestar.queue': queue.name,
        'lodestar.item_id': item.id,
        'lodestar.attempt': item.attempts + 1,
        ...(typeof kind === 'string' ? { 'lodestar.item_kind': kind } : {}),
      },
      (span) => workItem(item, span),
      { root: true, kind: SpanKind.CONSUMER },
    );
  }

  async function workItem(item: LeasedItem, span: Span): Promise<void> {
    const started = performance.now();
    const log = logger.child({ queue: queue.name, itemId: item.id, attempt: item.attempts + 1 });
    const beat = setInterval(() => {
      queue
        .heartbeat(pool, item, leaseMs)
        .catch((error: unknown) => log.warn({ err: coerceError(error) }, 'lease heartbeat failed'));
    }, leaseMs / 3);
    try {
      // withClient: a connection that dies mid-item (Postgres restarting) is an error of this item,
      // never an unhandled 'error' event, and the broken client is destroyed, not pooled.
      const outcome = await withClient(pool, async (client) => {
        await client.query('BEGIN');
        try {
          const after = await handler(item, client);
          if (!(await queue.complete(client, item))) {
            await client.query('ROLLBACK');
            return { lost: true as const };
          }
          await client.query('COMMIT');
          return { lost: false as const, afterCommit: after };
        } catch (error) {
          await rollbackQuietly(client);
          throw error;
        }
      });
      if (outcome.lost) {
        log.warn('lease lost before completion; the work was rolled back');
        span.setAttribute('lodestar.outcome', 'lost');
        options.onOutcome?.('lost', item, performance.now() - started);
        return;
      }
      const { afterCommit } = outcome;
      if (afterCommit) {
        await afterCommit().catch((error: unknown) =>
          log.warn({ err: coerceError(error) }, 'after-commit step failed'),
        );
      }
      span.setAttribute('lodestar.outcome', 'succeeded');
      options.onOutcome?.('succeeded', item, performance.now() - started);
    } catch (caught) {
      const error = coerceError(caught);
      const recorded = await queue.fail(pool, item, error).catch(() => false);
      log.warn({ err: error, recorded }, 'job failed');
      span.setAttribute('lodestar.outcome', 'failed');
      failSpan(span, error);
      options.onOutcome?.('failed', item, performance.now() - started);
    } finally {
      clearInterval(beat);
    }
  }

  async function run(): Promise<void> {
    while (running) {
      const free = concurrency - inflight.size;
      let claimed: LeasedItem[] = [];
      if (free > 0) {
        try {
          if (Date.now() - lastReclaim >= reclaimEveryMs) {
            lastReclaim = Date.now();
            await queue.reclaimExpired(pool);
          }
          wakePending = false;
          claimed = await queue.claim(pool, free, leaseMs);
        } catch (error) {
          logger.error(
            { err: coerceError(error), queue: queue.name },
            'claiming failed; retrying after the poll interval',
          );
        }
      }
      for (const item of claimed) {
        options.onOutcome?.('claimed', item);
        // Keyed by lease: this consumer may re-claim its own item after a lease ran out mid-run.
        const done = work(item).finally(() => {
          inflight.delete(item.leaseToken);
          wake();
        });
        inflight.set(item.leaseToken, { item, done });
      }
      // A full batch suggests more is waiting: claim again at once while there is room.
      if (running && (claimed.length === 0 || inflight.size >= concurrency)) await sleep();
    }
  }

  return {
    async start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop(deadlineMs) {
      running = false;
      wake();
      await loop;
      const all = Promise.all([...inflight.values()].map((f) => f.done));
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), deadlineMs).unref()),
      ]);
      if (timedOut) {
        for (const { item } of inflight.values()) {
          if (await queue.release(pool, item).catch(() => false)) options.onOutcome?.('released', item);
        }
        logger.warn(
          { queue: queue.name, released: inflight.size },
          'shutdown deadline passed: released unfinished leases',
        );
      }
    },
    wake,
  };
}
