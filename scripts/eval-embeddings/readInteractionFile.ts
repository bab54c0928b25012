/**
 * Reads `user,item,timestamp[,rating]` rows for the offline evaluation, streamed line by line: CSV (an
 * optional header row naming the columns, RFC 4180 quotes) or NDJSON (`{"user":…,"item":…,"timestamp":…,
 * "rating":…}`), chosen by the extension (.ndjson/.jsonl, anything else CSV). Ids are any strings, mapped
 * to dense indices in order of appearance; timestamps are epoch seconds, epoch milliseconds or ISO 8601
 * dates. With `minRating`, rows below it (or without a rating) are not positives and are dropped.
 *
 * A header names its columns in any order (ALIASES: user, item, timestamp, rating and their usual other
 * names); a column it does not name is read at its place in user,item,timestamp,rating. The importer's
 * interactions file (`user,type,target,createdAt`) is read as such: its likes (any case), target as the
 * item, every other type dropped; read by position it had given a report of nonsense. A first line that
 * is neither data nor a header naming any column is refused.
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

/** Header names each column goes by (lower case), e.g. MovieLens's userId,movieId,rating,timestamp. */
const ALIASES = {
  user: ['user', 'userid', 'user_id'],
  item: ['item', 'itemid', 'item_id', 'movieid', 'movie_id', 'listing', 'listingid', 'listing_id'],
  timestamp: ['timestamp', 'time', 'ts', 'date'],
  rating: ['rating', 'score'],
} as const;

/**
 * The columns a CSV header names (ALIASES), a column it does not name at its place in
 * user,item,timestamp,rating; or the importer's interactions file (user,type,target,createdAt). An Error
 * when the header names none of them, or leaves a column's place to another.
 */
function columnsOf(header: string[], path: string): Columns {
  const named = header.map((f) => f.toLowerCase());
  const at = (names: readonly string[]) => named.findIndex((n) => names.includes(n));
  if (at(ALIASES.item) < 0 && [at(['type']), at(['target']), at(['createdat'])].every((i) => i >= 0))
    return {
      user: at(ALIASES.user),
      item: at(['target']),
      timestamp: at(['createdat']),
      rating: -1,
      type: at(['type']),
    };
  const found = {
    user: at(ALIASES.user),
    item: at(ALIASES.item),
    timestamp: at(ALIASES.timestamp),
    rating: at(ALIASES.rating),
  };
  if (Object.values(found).every((i) => i < 0))
    throw new Error(
      `${path}:1: ${JSON.stringify(header[2] ?? '')} is not a time (epoch seconds, milliseconds or an ISO 8601 date), ` +
        `and as a header the line names no column: name them user, item, timestamp (rating optional), ` +
        "or give the importer's interactions file (user,type,target,createdAt)",
    );
  const taken = new Set(Object.values(found).filter((i) => i >= 0));
  const columns: Columns = { ...found, type: -1 };
  for (const [name, place] of [
    ['user', 0],
    ['item', 1],
    ['timestamp', 2],
  ] as const) {
    if (found[name] >= 0) continue;
    if (taken.has(place) || place >= header.length)
      throw new Error(`${path}:1: the header names no ${name} column (${ALIASES[name].join(', ')})`);
    columns[name] = place;
  }
  return columns;
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
      if (columns.type >= 0 && fields[columns.type]?.toLowerCase() !== 'like') {
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
