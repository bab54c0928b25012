import { PermanentJobError } from './leaseQueue.js';

/**
 * The events_queue payload of each event kind: what the social writes enqueue (`WriteTx.enqueue`) and
 * what the worker's handlers read. The JSON stored is exactly this object.
 */
export interface EventPayloads {
  'profile.recompute': { userId: string };
  'like.created': { userId: string; listingId: number; sellerId: string };
  'like.deleted': { userId: string; listingId: number; sellerId: string };
  'comment.created': { commentId: string; listingId: number; userId: string; sellerId: string };
  'comment.deleted': { commentId: string; listingId: number; userId: string };
  'interests.changed': { userId: string; added: number[]; removed: number[]; reweighted: number[] };
  'follow.created': { followerId: string; followeeId: string };
  'follow.deleted': { followerId: string; followeeId: string };
  'signal.recorded': { signalId: string; userId: string; kind: string; listingId: number | null };
}

export type EventKind = keyof EventPayloads;

/** How a stored field is read back: an id as text, an integer, a list of integers. */
type FieldReader = 'text' | 'int' | 'ints';
type ReaderFor<T> = T extends string
  ? 'text'
  : T extends number
    ? 'int'
    : T extends number[]
      ? 'ints'
      : never;
type ValueOf<R> = R extends 'text' ? string : R extends 'int' ? number : R extends 'ints' ? number[] : never;

/**
 * The fields each handler reads, and how. Only these are checked: rows written before a field existed,
 * and tests, carry just what the handler needs. The `satisfies` ties every entry to `EventPayloads`.
 */
const HANDLER_READS = {
  'profile.recompute': { userId: 'text' },
  'like.created': { userId: 'text', listingId: 'int' },
  'like.deleted': { listingId: 'int', userId: 'text' },
  'comment.created': { listingId: 'int' },
  'comment.deleted': { listingId: 'int' },
  'interests.changed': { added: 'ints' },
  'follow.created': {},
  'follow.deleted': {},
  'signal.recorded': {},
} as const satisfies { [K in EventKind]: { [F in keyof EventPayloads[K]]?: ReaderFor<EventPayloads[K][F]> } };

/** What the handler of kind K gets: the fields it reads, checked and typed as in `EventPayloads`. */
export type HandlerPayload<K extends EventKind> = {
  -readonly [F in keyof (typeof HANDLER_READS)[K]]: ValueOf<(typeof HANDLER_READS)[K][F]>;
};

export function isEventKind(kind: string): kind is EventKind {
  return Object.hasOwn(HANDLER_READS, kind);
}

const isInteger = (value: unknown): boolean =>
  (typeof value === 'number' || (typeof value === 'string' && value.trim() !== '')) &&
  Number.isInteger(Number(value));

/** Reads one stored field; ids written as numbers or strings (older rows) are both accepted. */
function readField(
  payload: Record<string, unknown>,
  key: string,
  reader: FieldReader,
): string | number | number[] {
  const value = payload[key];
  if (reader === 'ints') {
    if (!Array.isArray(value)) throw new PermanentJobError(`payload.${key} is missing`);
    if (!value.every(isInteger)) throw new PermanentJobError(`payload.${key} must be a list of integer ids`);
    return value.map(Number);
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new PermanentJobError(`payload.${key} is missing`);
  }
  if (reader === 'text') return String(value);
  if (!isInteger(value)) throw new PermanentJobError(`payload.${key} must be an integer id`);
  return Number(value);
}

/**
 * Checks a stored payload (any row, old or new) against what kind K's handler reads; a payload that
 * does not fit is a PermanentJobError naming the field (`payload.listingId is missing`).
 */
export function readEventPayload<K extends EventKind>(kind: K, stored: unknown): HandlerPayload<K> {
  const payload =
    stored !== null && typeof stored === 'object' && !Array.isArray(stored)
      ? (stored as Record<string, unknown>)
      : {};
  const reads: Record<string, FieldReader> = HANDLER_READS[kind];
  const out: Record<string, unknown> = {};
  for (const [key, reader] of Object.entries(reads)) out[key] = readField(payload, key, reader);
  // Every field of HandlerPayload<K> was read above with its reader, so the object has that type.
  return out as HandlerPayload<K>;
}
