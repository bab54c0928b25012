/**
 * Reads `user,item,timestamp[,rating]` rows for the offline evaluation, streamed line by line: CSV (an
 * optional header row naming the columns, RFC 4180 quotes) or NDJSON (`{"user":…,"item":…,"timestamp":…,
 * "rating":…}`), chosen by the extension (.ndjson/.jsonl, anything else CSV). Ids are any strings, mapped
 * to dense indices in order of appearance; timestamps are epoch seconds, epoch milliseconds or ISO 8601.
 * With `minRating`, rows below it (or without a rating) are not positives and are dropped.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { TimedInteractions } from '../../src/embeddings/timeSplit.js';

export interface FileDataset extends TimedInteractions {
  readonly rowsRead: number;
  readonly rowsDropped: number;
}

function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

/** Epoch seconds (below 1e11), epoch milliseconds, or a date string; NaN when none of those. */
export function parseTimestamp(raw: unknown): number {
  if (typeof raw === 'number') return raw < 1e11 ? raw * 1000 : raw;
  if (typeof raw !== 'string' || raw === '') return NaN;
  if (/^\d+(\.\d+)?$/.test(raw)) return parseTimestamp(Number(raw));
  return Date.parse(raw);
}

export async function readInteractionFile(path: string, minRating?: number): Promise<FileDataset> {
  const ndjson = /\.(ndjson|jsonl)$/i.test(path);
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  const user: number[] = [];
  const item: number[] = [];
  const time: number[] = [];
  let columns = { user: 0, item: 1, timestamp: 2, rating: 3 };
  let rowsRead = 0;
  let rowsDropped = 0;
  let lineNumber = 0;
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    let u: unknown;
    let i: unknown;
    let t: unknown;
    let r: unknown;
    if (ndjson) {
      const row = JSON.parse(line) as Record<string, unknown>;
      ({ user: u, item: i, timestamp: t, rating: r } = row);
    } else {
      const fields = splitCsvLine(line);
      if (lineNumber === 1 && Number.isNaN(parseTimestamp(fields[2]))) {
        const named = fields.map((f) => f.toLowerCase());
        const at = (name: string, fallback: number): number =>
          named.indexOf(name) >= 0 ? named.indexOf(name) : fallback;
        columns = {
          user: at('user', 0),
          item: at('item', 1),
          timestamp: at('timestamp', 2),
          rating: at('rating', 3),
        };
        continue;
      }
      [u, i, t, r] = [
        fields[columns.user],
        fields[columns.item],
        fields[columns.timestamp],
        fields[columns.rating],
      ];
    }
    rowsRead += 1;
    const ms = parseTimestamp(t);
    if ((typeof u !== 'string' && typeof u !== 'number') || (typeof i !== 'string' && typeof i !== 'number'))
      throw new Error(`${path}:${lineNumber}: user and item are required`);
    if (!Number.isFinite(ms)) throw new Error(`${path}:${lineNumber}: timestamp ${String(t)} is not a time`);
    // Every item is in the catalogue (coverage counts it), positive or not.
    const userKey = String(u);
    const itemKey = String(i);
    if (!users.has(userKey)) users.set(userKey, users.size);
    if (!items.has(itemKey)) items.set(itemKey, items.size);
    if (minRating !== undefined) {
      const rating = typeof r === 'number' ? r : Number(r);
      if (r === undefined || r === '' || !(rating >= minRating)) {
        rowsDropped += 1;
        continue;
      }
    }
    user.push(users.get(userKey)!);
    item.push(items.get(itemKey)!);
    time.push(ms);
  }
  return {
    userIndex: Uint32Array.from(user),
    itemIndex: Uint32Array.from(item),
    time: Float64Array.from(time),
    nUsers: users.size,
    nItems: items.size,
    rowsRead,
    rowsDropped,
  };
}
