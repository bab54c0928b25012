import { embeddingProblem } from '../validation/embedding.js';
import { hasControlCharacters } from '../validation/hasControlCharacters.js';
import { isUuid } from '../validation/isUuid.js';
import { isStorableText, unstorableReason } from '../validation/storableText.js';

/**
 * The catalogue's rows, checked once for both ways in: the GraphQL catalogue mutations and the bulk
 * importer (NDJSON objects or CSV records). A row arrives as a plain object with unknown values; a
 * check either returns the typed row or the first problem, naming the field. Nothing here touches the
 * database: references (category slugs, sellers) are resolved by the writers in one statement each.
 */

export const LISTING_STATUSES = ['active', 'sold', 'inactive', 'removed'] as const;
export type ListingStatus = (typeof LISTING_STATUSES)[number];

/** One upstream system's short name: lower case, starts with a letter, up to 32 characters. */
export const SOURCE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
const SLUG_PATTERN = /^[a-z0-9-]{1,64}$/;
const HANDLE_PATTERN = /^[a-z0-9_]{3,30}$/;
const CURRENCY_PATTERN = /^[A-Z]{3}$/;
/** numeric(12,2): up to 10 digits before the point, 2 after. */
const PRICE_PATTERN = /^\d{1,10}(\.\d{1,2})?$/;
const EXTERNAL_ID_MAX = 200;
const TITLE_MAX = 200;
const DESCRIPTION_MAX = 5000;
const NAME_MAX = 200;
const DISPLAY_NAME_MAX = 80;
/** Timestamps before this are a unit mistake (seconds read as milliseconds), not history. */
const EARLIEST_TIMESTAMP = Date.UTC(1995, 0, 1);
/** Clock skew tolerated on a timestamp from the future. */
const FUTURE_SLACK_MS = 5 * 60_000;

export interface RowProblem {
  field: string;
  message: string;
}

/** A batch refused because of one row: its position in the batch (0-based) and what is wrong. */
export class CatalogRowError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`row ${index}: ${field} ${problem}`);
    this.name = 'CatalogRowError';
  }
}

export interface ListingRow {
  externalId: string;
  title: string;
  description: string;
  /** Decimal text with at most two decimals, as numeric(12,2) stores it. */
  price: string;
  currency: string;
  categorySlug: string;
  /** The seller by the same source's external id for them, or by Lodestar user id; neither: no seller. */
  seller: { externalId: string } | { userId: string } | null;
  status: ListingStatus;
  /** Validated: EMBEDDING_DIMENSIONS finite numbers, norm > 0. Null: the listing has none (yet). */
  embedding: number[] | null;
  createdAt: Date | null;
}

export interface InterestRow {
  externalId: string;
  slug: string;
  name: string;
  categorySlug: string;
  embedding: number[] | null;
}

export interface UserRow {
  externalId: string;
  handle: string;
  displayName: string;
  createdAt: Date | null;
}

export interface StatusChange {
  externalId: string;
  status: ListingStatus;
}

export type Checked<T> = { ok: true; row: T } | { ok: false; problem: RowProblem };

type Input = Readonly<Record<string, unknown>>;

/** A field's check: the value, or a problem (just the message; the caller adds the field). */
type FieldResult<T> = { value: T } | { problem: string };

const isBlank = (value: unknown): boolean => value === undefined || value === null || value === '';

function text(
  value: unknown,
  { min, max, singleLine }: { min: number; max: number; singleLine: boolean },
): FieldResult<string> {
  if (typeof value !== 'string') return { problem: 'must be text' };
  const length = [...value].length;
  if (length < min)
    return { problem: min === 1 ? 'must not be empty' : `must have at least ${min} characters` };
  if (length > max) return { problem: `must have at most ${max} characters, got ${length}` };
  if (!isStorableText(value)) return { problem: `contains ${unstorableReason(value)}` };
  if (hasControlCharacters(value, { singleLine })) return { problem: 'contains a control character' };
  return { value };
}

function pattern(value: unknown, re: RegExp, what: string): FieldResult<string> {
  if (typeof value !== 'string' || !re.test(value)) return { problem: `must be ${what}` };
  return { value };
}

function price(value: unknown): FieldResult<string> {
  const shown = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof shown !== 'string' || !PRICE_PATTERN.test(shown.trim())) {
    return {
      problem: 'must be a non-negative amount with at most 10 digits and 2 decimals, such as "19.99"',
    };
  }
  return { value: shown.trim() };
}

function timestamp(value: unknown, now: number): FieldResult<Date | null> {
  if (isBlank(value)) return { value: null };
  const date =
    value instanceof Date
      ? value
      : typeof value === 'string'
        ? new Date(value)
        : typeof value === 'number'
          ? new Date(value)
          : null;
  if (!date || Number.isNaN(date.getTime())) return { problem: 'must be an ISO 8601 timestamp' };
  if (date.getTime() < EARLIEST_TIMESTAMP)
    return { problem: 'is before 1995 (seconds given as milliseconds?)' };
  if (date.getTime() > now + FUTURE_SLACK_MS) return { problem: 'is in the future' };
  return { value: date };
}

/** An embedding as a list, or as its JSON text (a CSV cell); blank: none. */
function embedding(value: unknown): FieldResult<number[] | null> {
  if (isBlank(value)) return { value: null };
  let list = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value) as unknown;
    } catch {
      return { problem: 'must be a list of numbers (in CSV: a JSON array such as "[0.1,0.2,…]")' };
    }
  }
  const problem = embeddingProblem(list);
  return problem ? { problem } : { value: list as number[] };
}

function status(value: unknown): FieldResult<ListingStatus> {
  if (isBlank(value)) return { value: 'active' };
  const lower = typeof value === 'string' ? value.toLowerCase() : value;
  return (LISTING_STATUSES as readonly unknown[]).includes(lower)
    ? { value: lower as ListingStatus }
    : { problem: `must be one of ${LISTING_STATUSES.join(', ')}` };
}

/**
 * Runs field checks in order and stops at the first problem. Each entry: the field's name as the
 * caller spelled it and its check.
 */
function collect<T extends object>(checks: {
  [K in keyof T]: [string, () => FieldResult<T[K]>];
}): Checked<T> {
  const row: Record<string, unknown> = {};
  const entries: [string, [string, () => FieldResult<unknown>]][] = Object.entries(checks);
  for (const [key, [field, check]] of entries) {
    const result = check();
    if ('problem' in result) return { ok: false, problem: { field, message: result.problem } };
    row[key] = result.value;
  }
  return { ok: true, row: row as T };
}

const externalIdCheck = (input: Input) => (): FieldResult<string> =>
  text(input.externalId, { min: 1, max: EXTERNAL_ID_MAX, singleLine: true });

function sellerOf(input: Input): FieldResult<ListingRow['seller']> {
  const byExternal = !isBlank(input.sellerExternalId);
  const byId = !isBlank(input.sellerId);
  if (byExternal && byId) return { problem: 'give sellerExternalId or sellerId, not both' };
  if (byId) {
    return typeof input.sellerId === 'string' && isUuid(input.sellerId)
      ? { value: { userId: input.sellerId.toLowerCase() } }
      : { problem: 'must be a user id (uuid)' };
  }
  if (!byExternal) return { value: null };
  const checked = text(input.sellerExternalId, { min: 1, max: EXTERNAL_ID_MAX, singleLine: true });
  return 'problem' in checked ? checked : { value: { externalId: checked.value } };
}

export function checkListing(input: Input, now = Date.now()): Checked<ListingRow> {
  return collect<ListingRow>({
    externalId: ['externalId', externalIdCheck(input)],
    title: ['title', () => text(input.title, { min: 1, max: TITLE_MAX, singleLine: true })],
    description: [
      'description',
      () =>
        isBlank(input.description)
          ? { value: '' }
          : text(input.description, { min: 0, max: DESCRIPTION_MAX, singleLine: false }),
    ],
    price: ['price', () => price(input.price)],
    currency: [
      'currency',
      () =>
        isBlank(input.currency)
          ? { value: 'USD' }
          : pattern(input.currency, CURRENCY_PATTERN, 'an ISO 4217 code such as "USD"'),
    ],
    categorySlug: ['category', () => pattern(input.category, SLUG_PATTERN, 'a category slug (a-z, 0-9, -)')],
    seller: [isBlank(input.sellerId) ? 'sellerExternalId' : 'sellerId', () => sellerOf(input)],
    status: ['status', () => status(input.status)],
    embedding: ['embedding', () => embedding(input.embedding)],
    createdAt: ['createdAt', () => timestamp(input.createdAt, now)],
  });
}

export function checkInterest(input: Input): Checked<InterestRow> {
  return collect<InterestRow>({
    externalId: ['externalId', externalIdCheck(input)],
    slug: ['slug', () => pattern(input.slug, SLUG_PATTERN, 'a slug of 1–64 characters a-z, 0-9 and -')],
    name: ['name', () => text(input.name, { min: 1, max: NAME_MAX, singleLine: true })],
    categorySlug: ['category', () => pattern(input.category, SLUG_PATTERN, 'a category slug (a-z, 0-9, -)')],
    embedding: ['embedding', () => embedding(input.embedding)],
  });
}

export function checkUser(input: Input, now = Date.now()): Checked<UserRow> {
  return collect<UserRow>({
    externalId: ['externalId', externalIdCheck(input)],
    handle: [
      'handle',
      () => pattern(input.handle, HANDLE_PATTERN, 'a handle of 3–30 characters a-z, 0-9 and _'),
    ],
    displayName: [
      'displayName',
      () =>
        isBlank(input.displayName)
          ? { value: String(input.handle) }
          : text(input.displayName, { min: 1, max: DISPLAY_NAME_MAX, singleLine: true }),
    ],
    createdAt: ['createdAt', () => timestamp(input.createdAt, now)],
  });
}

export function checkStatusChange(input: Input): Checked<StatusChange> {
  return collect<StatusChange>({
    externalId: ['externalId', externalIdCheck(input)],
    status: ['status', () => (isBlank(input.status) ? { problem: 'is required' } : status(input.status))],
  });
}

/** A source name's problem, or null. */
export const sourceProblem = (source: unknown): string | null =>
  typeof source === 'string' && SOURCE_PATTERN.test(source)
    ? null
    : 'must be a short lower-case name of the upstream system (a letter, then up to 31 of a-z, 0-9, _ and -)';

/**
 * Checks a whole batch; throws CatalogRowError for the first bad row (nothing of the batch is written)
 * and for an external id given twice (the second would silently win).
 */
export function checkBatch<T extends { externalId: string }>(
  inputs: readonly Input[],
  check: (input: Input) => Checked<T>,
): T[] {
  const rows: T[] = [];
  const seen = new Map<string, number>();
  for (let index = 0; index < inputs.length; index += 1) {
    const checked = check(inputs[index] ?? {});
    if (!checked.ok) throw new CatalogRowError(index, checked.problem.field, checked.problem.message);
    const first = seen.get(checked.row.externalId);
    if (first !== undefined) throw new CatalogRowError(index, 'externalId', `repeats row ${first}'s`);
    seen.set(checked.row.externalId, index);
    rows.push(checked.row);
  }
  return rows;
}
