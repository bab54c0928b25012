import type { Queryable } from '../queue/leaseQueue.js';
import { vectorLiteral } from '../validation/embedding.js';
import {
  CatalogRowError,
  type InterestRow,
  type ListingRow,
  type StatusChange,
  type UserRow,
} from './rows.js';
import {
  categoriesBySlugSql,
  enqueueCatalogDiscoverySql,
  handleHoldersSql,
  interestIdsSql,
  interestSlugHoldersSql,
  listingIdsSql,
  profilesByExternalIdSql,
  profilesByIdSql,
  setListingStatusesSql,
  upsertInterestsSql,
  upsertListingsSql,
  upsertUsersSql,
} from './sql.js';

/**
 * The catalogue writers, shared by the GraphQL catalogue mutations and the bulk importer. Each takes
 * rows already checked by rows.ts, resolves their references in one statement per kind (a missing one
 * is a CatalogRowError naming the row and field) and writes the batch in one statement. Callers run a
 * batch in one transaction, so a refused row leaves nothing of its batch behind.
 */

/** What happened to one row of a batch. */
export type RowOutcome = 'inserted' | 'updated' | 'unchanged';

export interface WrittenRow {
  externalId: string;
  id: number;
  outcome: RowOutcome;
}

export interface BatchResult {
  rows: WrittenRow[];
  /** Discovery items queued to refresh candidates (0 when nothing that feeds use changed). */
  discoveryQueued: number;
}

export interface WriteOptions {
  /** Queue candidate refresh for what changed (default true; the importer refreshes in bulk at the end). */
  enqueueFollowUps?: boolean;
}

async function categoryIds(
  client: Queryable,
  rows: readonly { categorySlug: string }[],
): Promise<Map<string, number>> {
  const slugs = [...new Set(rows.map((r) => r.categorySlug))];
  const { rows: found } = await client.query<{ id: number; slug: string }>(categoriesBySlugSql, [slugs]);
  const ids = new Map(found.map((c) => [c.slug, c.id]));
  const missing = rows.findIndex((r) => !ids.has(r.categorySlug));
  if (missing >= 0) {
    throw new CatalogRowError(missing, 'category', `names no category ("${rows[missing]?.categorySlug}")`);
  }
  return ids;
}

/** Each row's seller as a user id (null: none); an unknown seller is a CatalogRowError. */
async function sellerIds(
  client: Queryable,
  source: string,
  rows: readonly ListingRow[],
): Promise<(string | null)[]> {
  const externalIds = [
    ...new Set(rows.flatMap((r) => (r.seller && 'externalId' in r.seller ? [r.seller.externalId] : []))),
  ];
  const userIds = [
    ...new Set(rows.flatMap((r) => (r.seller && 'userId' in r.seller ? [r.seller.userId] : []))),
  ];
  const byExternal = new Map<string, string>();
  const known = new Set<string>();
  if (externalIds.length > 0) {
    const { rows: found } = await client.query<{ user_id: string; external_id: string }>(
      profilesByExternalIdSql,
      [source, externalIds],
    );
    for (const p of found) byExternal.set(p.external_id, p.user_id);
  }
  if (userIds.length > 0) {
    const { rows: found } = await client.query<{ user_id: string }>(profilesByIdSql, [userIds]);
    for (const p of found) known.add(p.user_id);
  }
  return rows.map((row, index) => {
    if (!row.seller) return null;
    if ('userId' in row.seller) {
      if (!known.has(row.seller.userId)) throw new CatalogRowError(index, 'sellerId', 'names no user');
      return row.seller.userId;
    }
    const userId = byExternal.get(row.seller.externalId);
    if (!userId) {
      throw new CatalogRowError(index, 'sellerExternalId', `names no user imported from source "${source}"`);
    }
    return userId;
  });
}

/** Ids of all rows in batch order; outcome from the rows the write returned. */
async function outcomesOf(
  client: Queryable,
  sql: string,
  source: string,
  externalIds: readonly string[],
  written: ReadonlyMap<string, 'inserted' | 'updated'>,
): Promise<WrittenRow[]> {
  const { rows } = await client.query<{ id: number; external_id: string }>(sql, [source, externalIds]);
  const ids = new Map(rows.map((r) => [r.external_id, Number(r.id)]));
  return externalIds.map((externalId) => ({
    externalId,
    id: ids.get(externalId) ?? -1,
    outcome: written.get(externalId) ?? 'unchanged',
  }));
}

async function enqueueDiscovery(
  client: Queryable,
  categoryIds: Iterable<number>,
  interestIds: Iterable<number>,
  options: WriteOptions,
): Promise<number> {
  if (options.enqueueFollowUps === false) return 0;
  const categories = [...new Set(categoryIds)];
  const interests = [...new Set(interestIds)];
  if (categories.length === 0 && interests.length === 0) return 0;
  const { rowCount } = await client.query(enqueueCatalogDiscoverySql, [categories, interests]);
  return rowCount ?? 0;
}

export async function upsertListings(
  client: Queryable,
  source: string,
  rows: readonly ListingRow[],
  options: WriteOptions = {},
): Promise<BatchResult> {
  if (rows.length === 0) return { rows: [], discoveryQueued: 0 };
  const categories = await categoryIds(client, rows);
  const sellers = await sellerIds(client, source, rows);
  const { rows: written } = await client.query<{
    id: number;
    external_id: string;
    category_id: number;
    old_category_id: number | null;
  }>(upsertListingsSql, [
    source,
    rows.map((r) => r.externalId),
    rows.map((r) => r.title),
    rows.map((r) => r.description),
    rows.map((r) => r.price),
    rows.map((r) => r.currency),
    rows.map((r) => categories.get(r.categorySlug)),
    sellers,
    rows.map((r) => r.status),
    rows.map((r) => (r.embedding ? vectorLiteral(r.embedding) : null)),
    rows.map((r) => r.createdAt),
  ]);
  const outcome = new Map(
    written.map((w) => [w.external_id, w.old_category_id === null ? 'inserted' : 'updated'] as const),
  );
  const touched = written.flatMap((w) =>
    w.old_category_id === null ? [w.category_id] : [w.category_id, w.old_category_id],
  );
  return {
    rows: await outcomesOf(
      client,
      listingIdsSql,
      source,
      rows.map((r) => r.externalId),
      outcome,
    ),
    discoveryQueued: await enqueueDiscovery(client, touched, [], options),
  };
}

/** Status changes; a listing that does not exist is a CatalogRowError. Sold, inactive and removed leave feeds at once. */
export async function setListingStatuses(
  client: Queryable,
  source: string,
  changes: readonly StatusChange[],
  options: WriteOptions = {},
): Promise<BatchResult> {
  if (changes.length === 0) return { rows: [], discoveryQueued: 0 };
  const externalIds = changes.map((c) => c.externalId);
  const { rows: existing } = await client.query<{ id: number; external_id: string }>(listingIdsSql, [
    source,
    externalIds,
  ]);
  const known = new Set(existing.map((r) => r.external_id));
  const missing = changes.findIndex((c) => !known.has(c.externalId));
  if (missing >= 0)
    throw new CatalogRowError(missing, 'externalId', `names no listing from source "${source}"`);
  const { rows: written } = await client.query<{ id: number; external_id: string; category_id: number }>(
    setListingStatusesSql,
    [source, externalIds, changes.map((c) => c.status)],
  );
  const outcome = new Map(written.map((w) => [w.external_id, 'updated'] as const));
  return {
    rows: await outcomesOf(client, listingIdsSql, source, externalIds, outcome),
    discoveryQueued: await enqueueDiscovery(
      client,
      written.map((w) => w.category_id),
      [],
      options,
    ),
  };
}

export async function upsertInterests(
  client: Queryable,
  source: string,
  rows: readonly InterestRow[],
  options: WriteOptions = {},
): Promise<BatchResult> {
  if (rows.length === 0) return { rows: [], discoveryQueued: 0 };
  const categories = await categoryIds(client, rows);
  const slugs = [...new Set(rows.map((r) => r.slug))];
  const { rows: holders } = await client.query<{
    slug: string;
    source: string | null;
    external_id: string | null;
  }>(interestSlugHoldersSql, [slugs]);
  const holderOf = new Map(holders.map((h) => [h.slug, h]));
  const externalIds = rows.map((r) => r.externalId);
  const { rows: existing } = await client.query<{ id: number; external_id: string; slug: string }>(
    interestIdsSql,
    [source, externalIds],
  );
  const slugOf = new Map(existing.map((e) => [e.external_id, e.slug]));
  rows.forEach((row, index) => {
    const current = slugOf.get(row.externalId);
    if (current !== undefined && current !== row.slug) {
      throw new CatalogRowError(index, 'slug', `cannot change once created (it is "${current}")`);
    }
    const holder = holderOf.get(row.slug);
    if (holder && (holder.source !== source || holder.external_id !== row.externalId)) {
      throw new CatalogRowError(index, 'slug', `"${row.slug}" is taken by another interest`);
    }
  });
  const seenSlugs = new Map<string, number>();
  rows.forEach((row, index) => {
    const first = seenSlugs.get(row.slug);
    if (first !== undefined) throw new CatalogRowError(index, 'slug', `repeats row ${first}'s`);
    seenSlugs.set(row.slug, index);
  });
  const { rows: written } = await client.query<{ id: number; external_id: string }>(upsertInterestsSql, [
    source,
    externalIds,
    rows.map((r) => r.slug),
    rows.map((r) => r.name),
    rows.map((r) => categories.get(r.categorySlug)),
    rows.map((r) => (r.embedding ? vectorLiteral(r.embedding) : null)),
  ]);
  const outcome = new Map(
    written.map((w) => [w.external_id, slugOf.has(w.external_id) ? 'updated' : 'inserted'] as const),
  );
  return {
    rows: await outcomesOf(client, interestIdsSql, source, externalIds, outcome),
    discoveryQueued: await enqueueDiscovery(
      client,
      [],
      written.map((w) => Number(w.id)),
      options,
    ),
  };
}

/** People, for the importer (the API has no way to create accounts: they come from the identity provider). */
export async function upsertUsers(
  client: Queryable,
  source: string,
  rows: readonly UserRow[],
): Promise<{ rows: { externalId: string; userId: string; outcome: RowOutcome }[] }> {
  if (rows.length === 0) return { rows: [] };
  const { rows: holders } = await client.query<{
    handle: string;
    source: string | null;
    external_id: string | null;
  }>(handleHoldersSql, [rows.map((r) => r.handle)]);
  const holderOf = new Map(holders.map((h) => [h.handle, h]));
  const seen = new Map<string, number>();
  rows.forEach((row, index) => {
    const holder = holderOf.get(row.handle);
    if (holder && (holder.source !== source || holder.external_id !== row.externalId)) {
      throw new CatalogRowError(index, 'handle', `"${row.handle}" is taken by someone else`);
    }
    const first = seen.get(row.handle);
    if (first !== undefined) throw new CatalogRowError(index, 'handle', `repeats row ${first}'s`);
    seen.set(row.handle, index);
  });
  const externalIds = rows.map((r) => r.externalId);
  const { rows: before } = await client.query<{ user_id: string; external_id: string }>(
    profilesByExternalIdSql,
    [source, externalIds],
  );
  const existed = new Set(before.map((b) => b.external_id));
  const { rows: written } = await client.query<{ user_id: string; external_id: string }>(upsertUsersSql, [
    source,
    externalIds,
    rows.map((r) => r.handle),
    rows.map((r) => r.displayName),
    rows.map((r) => r.createdAt),
  ]);
  const changed = new Set(written.map((w) => w.external_id));
  const ids = new Map([...before, ...written].map((r) => [r.external_id, r.user_id]));
  return {
    rows: rows.map((r) => ({
      externalId: r.externalId,
      userId: ids.get(r.externalId) ?? '',
      outcome: changed.has(r.externalId) ? (existed.has(r.externalId) ? 'updated' : 'inserted') : 'unchanged',
    })),
  };
}
