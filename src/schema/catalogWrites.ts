import { builder } from '../builder.js';
import { MAX_CATALOG_BATCH, type CatalogBatchResult } from '../catalog/catalogBatch.js';
import type { WrittenRow } from '../catalog/writeCatalog.js';
import * as catalogWrites from '../resolvers/catalogWrites.js';
import { EMBEDDING_DIMENSIONS } from '../validation/embedding.js';
import { ListingStatusEnum } from './catalog.js';

/** The catalogue API: a marketplace's own listings and interests, written by its backend (docs/api.md). */

const sourceDescription =
  'Short name of the upstream system (a-z, 0-9, _ and -, starting with a letter, at most 32): rows are idempotent by (source, externalId).';
const batchDescription = `At most ${MAX_CATALOG_BATCH} rows; a bad row refuses the whole batch (BAD_USER_INPUT with extensions.field and extensions.index). Send embeddings in variables.`;

const CatalogListingInputRef = builder.inputType('CatalogListingInput', {
  description: 'A listing of the upstream catalogue.',
  fields: (t) => ({
    externalId: t.string({ required: true, description: 'The upstream id, 1–200 characters.' }),
    title: t.string({ required: true, description: '1–200 characters, one line.' }),
    description: t.string({ description: 'Up to 5,000 characters; default empty.' }),
    price: t.field({ type: 'Decimal', required: true, description: 'At most 10 digits and 2 decimals.' }),
    currency: t.string({ description: 'ISO 4217 code; default USD.' }),
    category: t.string({ required: true, description: 'The category’s slug (it must exist).' }),
    sellerExternalId: t.string({ description: 'The seller by this source’s id for them (imported people).' }),
    sellerId: t.id({ description: 'The seller by Lodestar user id. Neither: no seller.' }),
    status: t.field({ type: ListingStatusEnum, description: 'Default ACTIVE.' }),
    embedding: t.floatList({
      description: `${EMBEDDING_DIMENSIONS} finite numbers with a norm > 0 (from your own model). Absent: the stored one is kept; a new listing has none and reaches feeds only through popularity and recency.`,
    }),
    createdAt: t.field({
      type: 'DateTime',
      description: 'When it was listed upstream; default now. Set on insert only.',
    }),
  }),
});

const ListingStatusChangeInputRef = builder.inputType('ListingStatusChangeInput', {
  fields: (t) => ({
    externalId: t.string({ required: true }),
    status: t.field({
      type: ListingStatusEnum,
      required: true,
      description: 'SOLD, INACTIVE and REMOVED take the listing out of feeds at once.',
    }),
  }),
});

const CatalogInterestInputRef = builder.inputType('CatalogInterestInput', {
  description: 'An interest of the upstream catalogue.',
  fields: (t) => ({
    externalId: t.string({ required: true }),
    slug: t.string({ required: true, description: '1–64 of a-z, 0-9 and -; unique; fixed once created.' }),
    name: t.string({ required: true, description: '1–200 characters.' }),
    category: t.string({ required: true, description: 'The category’s slug (it must exist).' }),
    embedding: t.floatList({
      description: `${EMBEDDING_DIMENSIONS} finite numbers, norm > 0. Absent: the stored one is kept; an interest without one gets no candidates.`,
    }),
  }),
});

const CatalogRowOutcomeEnum = builder.enumType('CatalogRowOutcome', {
  values: {
    INSERTED: { value: 'inserted' },
    UPDATED: { value: 'updated' },
    UNCHANGED: { value: 'unchanged', description: 'Already as sent: nothing written, nothing queued.' },
  } as const,
});

const CatalogRowResultRef = builder.objectRef<WrittenRow>('CatalogRowResult').implement({
  fields: (t) => ({
    externalId: t.exposeString('externalId'),
    id: t.id({ description: 'The listing’s or interest’s id.', resolve: (r) => String(r.id) }),
    outcome: t.field({ type: CatalogRowOutcomeEnum, resolve: (r) => r.outcome }),
  }),
});

const CatalogBatchPayloadRef = builder.objectRef<CatalogBatchResult>('CatalogBatchPayload').implement({
  description: 'What a catalogue batch did, row by row in input order.',
  fields: (t) => ({
    rows: t.field({ type: [CatalogRowResultRef], resolve: (r) => r.rows }),
    inserted: t.exposeInt('inserted'),
    updated: t.exposeInt('updated'),
    unchanged: t.exposeInt('unchanged'),
    discoveryQueued: t.exposeInt('discoveryQueued', {
      description: 'Candidate refreshes queued for the interests the batch affects (the worker runs them).',
    }),
  }),
});

const serviceOrAdmin = { service: true, admin: true };

builder.mutationFields((t) => ({
  upsertListings: t.authField({
    type: CatalogBatchPayloadRef,
    description: `Inserts or updates listings by (source, externalId), in one transaction. Service callers and admins only. ${batchDescription}`,
    authScopes: serviceOrAdmin,
    args: {
      source: t.arg.string({ required: true, description: sourceDescription }),
      listings: t.arg({ type: [CatalogListingInputRef], required: true }),
    },
    resolve: (_root, args, ctx) => catalogWrites.upsertListings(ctx, args),
  }),
  setListingStatus: t.authField({
    type: CatalogBatchPayloadRef,
    description: `Changes listings’ status by (source, externalId); an unknown listing refuses the batch. Service callers and admins only. ${batchDescription}`,
    authScopes: serviceOrAdmin,
    args: {
      source: t.arg.string({ required: true, description: sourceDescription }),
      changes: t.arg({ type: [ListingStatusChangeInputRef], required: true }),
    },
    resolve: (_root, args, ctx) => catalogWrites.setListingStatus(ctx, args),
  }),
  upsertInterests: t.authField({
    type: CatalogBatchPayloadRef,
    description: `Inserts or updates interests by (source, externalId), in one transaction. Service callers and admins only. ${batchDescription}`,
    authScopes: serviceOrAdmin,
    args: {
      source: t.arg.string({ required: true, description: sourceDescription }),
      interests: t.arg({ type: [CatalogInterestInputRef], required: true }),
    },
    resolve: (_root, args, ctx) => catalogWrites.upsertInterests(ctx, args),
  }),
}));
