import pg from 'pg';
import type { Task } from './load.js';

export interface StatementCount {
  first: number;
  requests: number;
  /** Statements per request, BEGIN/COMMIT/ROLLBACK left out (the target counts these). */
  perRequest: { min: number; max: number; mean: number };
  /** Every pg query() call per request, transaction control included. */
  withTransactionControl: { min: number; max: number; mean: number };
  /** What the statements were, summed over the requests: first line of the SQL → count. */
  breakdown: Record<string, number>;
}

const transactionControl = /^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b/i;

function textOf(arg: unknown): string {
  if (typeof arg === 'string') return arg;
  // QueryConfig objects and submittables (Prisma's adapter passes { text, values, rowMode }).
  if (arg && typeof arg === 'object' && 'text' in arg && typeof arg.text === 'string') return arg.text;
  return '(unknown)';
}

/** A short label for a statement: its first non-empty line, whitespace squeezed. */
function labelOf(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.trim().replace(/\s+/g, ' ').slice(0, 90);
}

const stats = (xs: number[]) => ({
  min: Math.min(...xs),
  max: Math.max(...xs),
  mean: Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100,
});

/**
 * Counts the SQL statements the gateway sends per request by wrapping pg.Client.prototype.query,
 * which every path goes through (Prisma's pg adapter, pool.query, the service pool). The wrapper is
 * installed only while `fn` runs and the caller must make sure nothing else queries meanwhile (the
 * bench runs this phase alone, on its own gateway instance, before the load runs start).
 */
export async function withStatementCounter<T>(
  fn: (counter: { take: () => string[] }) => Promise<T>,
): Promise<T> {
  type Query = (this: pg.Client, ...args: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: Query };
  const original = proto.query;
  let seen: string[] = [];
  proto.query = function (this: pg.Client, ...args: unknown[]) {
    seen.push(textOf(args[0]));
    return original.apply(this, args);
  };
  try {
    return await fn({
      take: () => {
        const taken = seen;
        seen = [];
        return taken;
      },
    });
  } finally {
    proto.query = original;
  }
}

/** Runs `requests` requests one at a time and counts each one's statements. */
export async function countPerRequest(
  counter: { take: () => string[] },
  task: Task,
  first: number,
  requests: number,
): Promise<StatementCount> {
  const plain: number[] = [];
  const all: number[] = [];
  const breakdown: Record<string, number> = {};
  await task(requests); // one unmeasured request first: first-use work (connecting, Prisma) is not per-request
  counter.take();
  for (let i = 0; i < requests; i += 1) {
    await task(i);
    const texts = counter.take();
    all.push(texts.length);
    const statements = texts.filter((t) => !transactionControl.test(t));
    plain.push(statements.length);
    for (const t of texts) breakdown[labelOf(t)] = (breakdown[labelOf(t)] ?? 0) + 1;
  }
  return { first, requests, perRequest: stats(plain), withTransactionControl: stats(all), breakdown };
}
