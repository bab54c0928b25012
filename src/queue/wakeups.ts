import type { QueueName } from './leaseQueue.js';

/**
 * An in-memory "something was enqueued" signal inside one process. On a real Postgres the queue
 * tables' triggers NOTIFY and a worker LISTENs; the embedded database has no second session to LISTEN
 * on, so the gateway's own writes tell the in-process worker's consumers directly, after their commit,
 * instead of leaving them to find the item at their next poll (WORKER_POLL_MS).
 */
export interface QueueWakeups {
  /** Items were committed to `queue`: wakes whoever subscribed to it (nothing, when nobody did). */
  enqueued: (queue: QueueName) => void;
  /** Calls `wake` after every `enqueued(queue)`; returns the unsubscribe. */
  subscribe: (queue: QueueName, wake: () => void) => () => void;
}

export function createQueueWakeups(): QueueWakeups {
  const subscribers = new Map<QueueName, Set<() => void>>();
  return {
    enqueued: (queue) => {
      for (const wake of subscribers.get(queue) ?? []) wake();
    },
    subscribe: (queue, wake) => {
      const set = subscribers.get(queue) ?? new Set<() => void>();
      subscribers.set(queue, set);
      // A fresh function per subscription, so subscribing one callback twice unsubscribes each once.
      const entry = () => wake();
      set.add(entry);
      return () => set.delete(entry);
    },
  };
}
