import { setTimeout as sleep } from 'node:timers/promises';
import type { Task } from './load.js';

export interface StatementCount {
  first: number;
  requests: number;
  /** Statements per request, BEGIN/COMMIT/ROLLBACK left out (the target counts these). */
  perRequest: { min: number; max: number; mean: number };
  /** Every statement per request, transaction control included. */
  withTransactionControl: { min: number; max: number; mean: number };
  /** What the statements were, summed over the requests: first line of the SQL → count. */
  breakdown: Record<string, number>;
  /**
   * With `apart` (countPerRequest's option): the statements matching it per request (the feed's cached
   * role lookup), and the others, the request's data statements (transaction control left out).
   */
  apart?: { min: number; max: number; mean: number };
  data?: { min: number; max: number; mean: number };
}

/** A statement sent after the response (not awaited by the resolver) still counts for its request. */
const SETTLE_MS = 25;

export const transactionControl = /^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b/i;

/** A short label for a statement: its first non-empty line, whitespace squeezed. */
export function labelOf(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.trim().replace(/\s+/g, ' ').slice(0, 90);
}

/** min / max / mean (2 decimals) of per-request counts. */
export const stats = (xs: number[]) => ({
  min: Math.min(...xs),
  max: Math.max(...xs),
  mean: Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100,
});

/**
 * Runs `requests` requests one at a time and counts each one's statements, as `counter` (the wire
 * proxy in front of a gateway of its own) saw them. Nothing else may use that gateway meanwhile.
 */
export async function countPerRequest(
  counter: { take: () => string[] },
  task: Task,
  first: number,
  requests: number,
  options: { apart?: (sql: string) => boolean } = {},
): Promise<StatementCount> {
  const plain: number[] = [];
  const all: number[] = [];
  const apart: number[] = [];
  const breakdown: Record<string, number> = {};
  await task(requests, 0); // one unmeasured request first: first-use work (connecting, Prisma) is not per-request
  await sleep(SETTLE_MS);
  counter.take();
  for (let i = 0; i < requests; i += 1) {
    await task(i, 0);
    await sleep(SETTLE_MS);
    const texts = counter.take();
    all.push(texts.length);
    const statements = texts.filter((t) => !transactionControl.test(t));
    plain.push(statements.length);
    if (options.apart) apart.push(statements.filter(options.apart).length);
    for (const t of texts) breakdown[labelOf(t)] = (breakdown[labelOf(t)] ?? 0) + 1;
  }
  const counted = {
    first,
    requests,
    perRequest: stats(plain),
    withTransactionControl: stats(all),
    breakdown,
  };
  if (!options.apart) return counted;
  return { ...counted, apart: stats(apart), data: stats(plain.map((n, i) => n - (apart[i] ?? 0))) };
}
