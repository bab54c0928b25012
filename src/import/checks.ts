import type { Checked } from '../catalog/rows.js';
import { hasControlCharacters } from '../validation/hasControlCharacters.js';
import { isStorableText, unstorableReason } from '../validation/storableText.js';

/**
 * Row checks for the importer's own files (categories, users' declared interests, interactions), in the
 * style of catalog/rows.ts: a plain object in (an NDJSON object or a CSV record, so every value may be
 * text), the typed row or the first problem naming the field out. References (people, listings,
 * interests) are resolved by the writers, a batch at a time.
 */

const SLUG_PATTERN = /^[a-z0-9-]{1,64}$/;
const EXTERNAL_ID_MAX = 200;
const NAME_MAX = 200;
/** Timestamps before this are a unit mistake (seconds read as milliseconds), not history. */
const EARLIEST_TIMESTAMP = Date.UTC(1995, 0, 1);
/** Clock skew tolerated on a timestamp from the future. */
const FUTURE_SLACK_MS = 5 * 60_000;
const WEIGHT_MAX = 1000;

/** The intent_signals kinds an interaction may carry (all but search, which targets a query, not a listing). */
export const SIGNAL_KINDS = ['view', 'click', 'dwell', 'share', 'save'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];
export const INTERACTION_TYPES = ['like', 'follow', ...SIGNAL_KINDS] as const;
export type InteractionType = (typeof INTERACTION_TYPES)[number];

export interface CategoryRow {
  slug: string;
  name: string;
}

export interface UserInterestRow {
  userExternalId: string;
  /** The interest by the same source's external id, or by its slug. */
  interest: { externalId: string } | { slug: string };
  affinity: number;
  createdAt: Date | null;
}

export interface InteractionRow {
  userExternalId: string;
  type: InteractionType;
  /** A listing's external id; for a follow, the followee's external id. */
  targetExternalId: string;
  createdAt: Date;
  /** Intent signals only (0..1000, default 1); likes and follows have none. */
  weight: number;
}

type Input = Readonly<Record<string, unknown>>;
type Field<T> = { value: T } | { problem: string };

const isBlank = (value: unknown): boolean => value === undefined || value === null || value === '';

function text(value: unknown, max: number): Field<string> {
  if (typeof value !== 'string' && typeof value !== 'number') return { problem: 'must be text' };
  const shown = String(value);
  if (shown.length === 0) return { problem: 'must not be empty' };
  const length = [...shown].length;
  if (length > max) return { problem: `must have at most ${max} characters, got ${length}` };
  if (!isStorableText(shown)) return { problem: `contains ${unstorableReason(shown)}` };
  if (hasControlCharacters(shown, { singleLine: true })) return { problem: 'contains a control character' };
  return { value: shown };
}

const externalId = (value: unknown): Field<string> => text(value, EXTERNAL_ID_MAX);

function numberIn(value: unknown, min: number, max: number, fallback: number): Field<number> {
  if (isBlank(value)) return { value: fallback };
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) return { problem: `must be a number from ${min} to ${max}` };
  return { value: n };
}

/** ISO 8601 text or epoch milliseconds; blank is null here, and required where the caller says so. */
export function timestampOf(value: unknown, now: number): Field<Date | null> {
  if (isBlank(value)) return { value: null };
  const raw = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  const date =
    typeof raw === 'string' || typeof raw === 'number' ? new Date(raw) : raw instanceof Date ? raw : null;
  if (!date || Number.isNaN(date.getTime()))
    return { problem: 'must be an ISO 8601 timestamp or epoch milliseconds' };
  if (date.getTime() < EARLIEST_TIMESTAMP)
    return { problem: 'is before 1995 (seconds given as milliseconds?)' };
  if (date.getTime() > now + FUTURE_SLACK_MS) return { problem: 'is in the future' };
  return { value: date };
}

/** The first failing field stops the check (one problem per row, like rows.ts). */
function first<T>(checks: [string, () => Field<unknown>][], build: (values: unknown[]) => T): Checked<T> {
  const values: unknown[] = [];
  for (const [field, check] of checks) {
    const result = check();
    if ('problem' in result) return { ok: false, problem: { field, message: result.problem } };
    values.push(result.value);
  }
  return { ok: true, row: build(values) };
}

export function checkCategory(input: Input): Checked<CategoryRow> {
  return first(
    [
      [
        'slug',
        () =>
          typeof input.slug === 'string' && SLUG_PATTERN.test(input.slug)
            ? { value: input.slug }
            : { problem: 'must be a slug of 1–64 characters a-z, 0-9 and -' },
      ],
      ['name', () => text(input.name, NAME_MAX)],
    ],
    ([slug, name]) => ({ slug: slug as string, name: name as string }),
  );
}

function interestRef(input: Input): Field<UserInterestRow['interest']> {
  const byId = !isBlank(input.interest);
  const bySlug = !isBlank(input.interestSlug);
  if (byId && bySlug) return { problem: 'give interest or interestSlug, not both' };
  if (bySlug) {
    return typeof input.interestSlug === 'string' && SLUG_PATTERN.test(input.interestSlug)
      ? { value: { slug: input.interestSlug } }
      : { problem: 'must be an interest slug (a-z, 0-9, -)' };
  }
  if (!byId) return { problem: 'is required (the interest external id, or interestSlug)' };
  const id = externalId(input.interest);
  return 'problem' in id ? id : { value: { externalId: id.value } };
}

export function checkUserInterest(input: Input, now = Date.now()): Checked<UserInterestRow> {
  return first(
    [
      ['user', () => externalId(input.user)],
      [
        isBlank(input.interest) && !isBlank(input.interestSlug) ? 'interestSlug' : 'interest',
        () => interestRef(input),
      ],
      ['affinity', () => numberIn(input.affinity, 0, 1, 0.5)],
      ['createdAt', () => timestampOf(input.createdAt, now)],
    ],
    ([user, interest, affinity, createdAt]) => ({
      userExternalId: user as string,
      interest: interest as UserInterestRow['interest'],
      affinity: affinity as number,
      createdAt: createdAt as Date | null,
    }),
  );
}

function interactionType(value: unknown): Field<InteractionType> {
  const lower = typeof value === 'string' ? value.trim().toLowerCase() : value;
  return (INTERACTION_TYPES as readonly unknown[]).includes(lower)
    ? { value: lower as InteractionType }
    : { problem: `must be one of ${INTERACTION_TYPES.join(', ')}` };
}

/** An interaction needs its timestamp: it is history (and what makes a re-sent view recognisable). */
export function checkInteraction(input: Input, now = Date.now()): Checked<InteractionRow> {
  return first(
    [
      ['user', () => externalId(input.user)],
      ['type', () => interactionType(input.type)],
      ['target', () => externalId(input.target)],
      [
        'createdAt',
        () => {
          const checked = timestampOf(input.createdAt, now);
          return 'value' in checked && checked.value === null ? { problem: 'is required' } : checked;
        },
      ],
      ['weight', () => numberIn(input.weight, 0, WEIGHT_MAX, 1)],
    ],
    ([user, type, target, createdAt, weight]) => ({
      userExternalId: user as string,
      type: type as InteractionType,
      targetExternalId: target as string,
      createdAt: createdAt as Date,
      weight: weight as number,
    }),
  );
}

export const isSignalKind = (type: InteractionType): type is SignalKind =>
  (SIGNAL_KINDS as readonly string[]).includes(type);
