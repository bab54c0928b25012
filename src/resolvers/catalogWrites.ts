import {
  parseInterests,
  parseListings,
  parseStatusChanges,
  writeInterests,
  writeListings,
  writeStatusChanges,
} from '../catalog/catalogBatch.js';
import type { Context } from '../context.js';
import { writeMutation } from './writeMutation.js';

/**
 * The catalogue mutations (service callers and admins): the whole batch is checked before the budget is
 * spent, then written in one transaction. Rows are idempotent by (source, externalId), so the
 * idempotency key is not used: a re-sent batch is all UNCHANGED.
 */

/** GraphQL input objects as rows.ts reads them (absent optional fields are null or missing). */
type Rows = readonly Readonly<Record<string, unknown>>[];

export const upsertListings = writeMutation('upsertListings', {
  parse: (args: { source: string; listings: Rows }) => parseListings(args.source, args.listings),
  run: (ctx: Context, batch) => writeListings(ctx, batch),
});

export const setListingStatus = writeMutation('setListingStatus', {
  parse: (args: { source: string; changes: Rows }) => parseStatusChanges(args.source, args.changes),
  run: (ctx: Context, batch) => writeStatusChanges(ctx, batch),
});

export const upsertInterests = writeMutation('upsertInterests', {
  parse: (args: { source: string; interests: Rows }) => parseInterests(args.source, args.interests),
  run: (ctx: Context, batch) => writeInterests(ctx, batch),
});
