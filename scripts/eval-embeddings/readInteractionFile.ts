/**
 * Reads `user,item,timestamp[,rating]` rows for the offline evaluation, streamed line by line: CSV (an
 * optional header row naming the columns, RFC 4180 quotes) or NDJSON (`{"user":…,"item":…,"timestamp":…,
 * "rating":…}`), chosen by the extension (.ndjson/.jsonl, anything else CSV). Ids are any strings, mapped
 * to dense indices in order of appearance; timestamps are epoch seconds, epoch milliseconds or ISO 8601
 * dates. With `minRating`, rows below it (or without a rating) are not positives and are dropped.
 *
 * A header must name user, item and timestamp (rating optional), in any order; or be the importer's
 * interactions file (`user,type,target,createdAt`: its likes are read, target as the item, and every
 * other type is dropped). Any other header is refused: read by position, a file of another shape gave a
 * report of nonsense.
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
  // ISO 8601 only: Date.parse alone reads "l-0001659" as the year 1659.
  return /^\d{4}-\d{2}-\d{2}([T ]|$)/.test(raw) ? Date.parse(raw) : NaN;
}

interface Columns {
  user: number;
  item: number;
  timestamp: number;
  rating: number;
  /** The importer's interactions file: the type column, only whose likes are read. */
  type: number;
}

/** The columns a CSV header names, or an Error that says what a header must name. */
function columnsOf(header: string[], path: string): Columns {
  const named = header.map((f) => f.toLowerCase());
  const at = (name: string) => named.indexOf(name);
  if (at('user') >= 0 && at('item') >= 0 && at('timestamp') >= 0)
    return { user: at('user'), item: at('item'), timestamp: at('timestamp'), rating: at('rating'), type: -1 };
  if (at('user') >= 0 && at('type') >= 0 && at('target') >= 0 && at('createdat') >= 0)
    return { user: at('user'), item: at('target'), timestamp: at('createdat'), rating: -1, type: at('type') };
  throw new Error(
    `${path}:1: the header names ${JSON.stringify(header.join(','))}; it must name user, item and timestamp ` +
      "(rating optional) or be the importer's interactions header (user,type,target,createdAt)",
  );
}

export async function readInteractionFile(path: string, minRating?: number): Promise<FileDataset> {
  const ndjson = /\.(ndjson|jsonl)$/i.test(path);
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  const user: number[] = [];
  const item: number[] = [];
  const time: number[] = [];
  let columns: Columns = { user: 0, item: 1, timestamp: 2, rating: 3, type: -1 };
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
        columns = columnsOf(fields, path);
        if (columns.type >= 0 && minRating !== undefined)
          throw new Error(
            `${path}: the importer's interactions have no ratings (its likes are the positives): leave out --min-rating`,
          );
        continue;
      }
      if (columns.type >= 0 && fields[columns.type] !== 'like') {
        rowsRead += 1;
        rowsDropped += 1;
        continue;
      }
      [u, i, t, r] = [
        fields[columns.user],
        fields[columns.item],
        fields[columns.timestamp],
        columns.rating >= 0 ? fields[columns.rating] : undefined,
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
