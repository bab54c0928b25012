import type pg from 'pg';

/**
 * Keeps a few statements queued on one connection so Postgres executes batch N while JavaScript
 * builds batch N+1. One connection keeps the whole load in one transaction and in FK order.
 */
export interface StatementQueue {
  /** Queues a statement; resolves once fewer than `depth` statements are outstanding. */
  push(text: string, values: unknown[]): Promise<void>;
  /** Waits for everything queued; rejects with the first failure. */
  drain(): Promise<void>;
}

export function createStatementQueue(client: pg.ClientBase, depth = 2): StatementQueue {
  const pending: Promise<unknown>[] = [];
  return {
    async push(text, values) {
      const result = client.query(text, values);
      // Awaited in order below; this only stops Node flagging a later failure as unhandled
      // while an earlier statement is still being awaited.
      result.catch(() => undefined);
      pending.push(result);
      while (pending.length >= depth) await pending.shift();
    },
    async drain() {
      while (pending.length > 0) await pending.shift();
    },
  };
}
