import type { StatementQueue } from './createStatementQueue.js';
import { isoTimestamp } from './timeSpans.js';

/*
 * Every loader sends one INSERT ... SELECT FROM unnest(array parameters) per batch: a handful of
 * round trips for 100k rows, and no SQL built from data. Vectors travel as pgvector text
 * literals in a vector[] parameter and are normalised server-side (see directionLiteral).
 */

/** Rows per statement for narrow tables: big enough that round trips vanish, small enough to stream. */
export const ROW_BATCH = 20_000;

/** The bound parameters for rows [start, end). */
type Columns = (start: number, end: number) => unknown[];

/** Queues one statement per batch of `size` rows; returns the row total. */
export async function inBatches(
  queue: StatementQueue,
  sql: string,
  total: number,
  size: number,
  columns: Columns,
): Promise<number> {
  for (let start = 0; start < total; start += size) {
    await queue.push(sql, columns(start, Math.min(total, start + size)));
  }
  return total;
}

export const isoSlice = (values: readonly number[], start: number, end: number): string[] =>
  values.slice(start, end).map(isoTimestamp);

// Typed arrays are not arrays to node-postgres (it would JSON-encode them): copy to plain ones.
export const intSlice = (values: Int32Array, start: number, end: number): number[] =>
  Array.from(values.subarray(start, end));
