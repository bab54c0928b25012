import type pg from 'pg';
import { withClient, withTransaction } from '../db/checkout.js';
import {
  interactionEmbeddings,
  type InteractionEmbeddingOptions,
  type InteractionEmbeddings,
} from '../embeddings/interactionEmbeddings.js';
import { interestEmbeddings } from '../embeddings/interestEmbeddings.js';
import { vectorLiteral } from '../validation/embedding.js';

/**
 * `npm run import -- --embed interactions` (issue 15, item 4): item embeddings for a source's listings
 * derived from the interaction history already in the database, then interest embeddings as the mean
 * of their category's derived listings. Runs after the files and before refreshDerived, which then
 * computes profiles, candidates and vector indexes from these vectors.
 *
 * - History: every like on the source's listings, and the intent signals on them inside the importer's
 *   retention window (older ones were skipped by the import, or will be collected by the gc).
 * - Written only where it fills a gap: a listing without an embedding gets its derived vector; one with
 *   another vector (its own model's) keeps it, unless `overwrite`. Listings without interactions stay
 *   NULL (never a zero vector). Interests likewise: only those without an embedding, unless `overwrite`.
 * - Deterministic (seeded fit, users and listings indexed in id order) and idempotent: every UPDATE
 *   compares before writing, so a re-run over the same history rewrites no row.
 */

/*
 * Weight of one event in the user × item matrix (summed per pair, then log(1 + sum)): the SQL function
 * engagement_weight (prisma/migrations/20261204010000_behaviour_profiles), the one place the numbers
 * live, shared with the behaviour profile (profile_embedding_of). The signal's own `weight` column is
 * not used: its unit differs by kind and client (dwell seconds, 1), and the log weighting already damps
 * repeats.
 */

/** Listings (interests) per UPDATE: 500 × 384 floats as text is ~2.5 MB a statement. */
const WRITE_BATCH = 500;

export interface EmbedFromInteractionsOptions {
  /** The source whose listings and interests are embedded; null: every listing and interest (the evaluation harness). */
  source: string | null;
  /** Intent signals before this are not read (the importer's retention cutoff). */
  retentionCutoff: Date;
  /** 64..128; default the library's (64). */
  rank?: number;
  /** Replace the source's listings' and interests' vectors even when they have one. */
  overwrite?: boolean;
  seed?: number;
  /** How the SVD weighs and scales (the evaluation harness's `--weighting` …); default the library's. */
  fit?: EmbeddingFit;
}

/** The SVD options a caller may change from the library's defaults: weighting and scaling only. */
export type EmbeddingFit = Pick<
  InteractionEmbeddingOptions,
  'weighting' | 'factorScaling' | 'popularityDamping'
>;

/**
 * The source's history, one row per (user, listing) with the summed event weight, in (user, listing)
 * order: $1 source, $2 retention cutoff. Read as the owner (no RLS).
 */
const historySql = `
WITH items AS (SELECT id FROM marketplace_listings WHERE $1::text IS NULL OR source = $1),
events AS (
  SELECT k.user_id, k.listing_id, engagement_weight('like') AS w FROM likes k JOIN items i ON i.id = k.listing_id
  UNION ALL
  SELECT s.user_id, s.listing_id, engagement_weight(s.kind)
  FROM intent_signals s JOIN items i ON i.id = s.listing_id
  WHERE s.created_at >= $2::timestamptz)
SELECT user_id::text, listing_id, sum(w)::float8 AS w FROM events
GROUP BY user_id, listing_id HAVING sum(w) > 0 ORDER BY user_id, listing_id`;

/** The source's listings and their categories: $1 source (NULL: every listing). */
const listingCategoriesSql = `SELECT id, category_id FROM marketplace_listings WHERE $1::text IS NULL OR source = $1`;

/**
 * One batch of derived listing vectors: $1 ids, $2 vectors (text), $3 source, $4 overwrite. Writes a
 * listing without an embedding (or, with overwrite, one whose vector differs); returns each listing of
 * the batch that now holds the derived vector, and whether this statement wrote it.
 */
const writeListingsSql = `
WITH t AS (SELECT id, e::vector AS e FROM unnest($1::int[], $2::text[]) AS t(id, e)),
written AS (
  UPDATE marketplace_listings l SET embedding = t.e FROM t
  WHERE l.id = t.id AND ($3::text IS NULL OR l.source = $3)
    AND (l.embedding IS NULL OR ($4::boolean AND l.embedding <> t.e))
  RETURNING l.id)
SELECT l.id, (l.id IN (SELECT id FROM written)) AS written
FROM marketplace_listings l JOIN t ON t.id = l.id
WHERE ($3::text IS NULL OR l.source = $3) AND (l.id IN (SELECT id FROM written) OR l.embedding = t.e)`;

/** The source's interests that may receive a derived vector: $1 source, $2 overwrite. */
const interestsToEmbedSql = `
SELECT id, category_id FROM interest_catalog
WHERE ($1::text IS NULL OR source = $1) AND ($2::boolean OR embedding IS NULL) ORDER BY id`;

/** One batch of interest vectors: $1 ids, $2 vectors (text), $3 overwrite. */
const writeInterestsSql = `
UPDATE interest_catalog i SET embedding = t.e::vector
FROM unnest($1::int[], $2::text[]) AS t(id, e)
WHERE i.id = t.id AND (i.embedding IS NULL OR ($3::boolean AND i.embedding <> t.e::vector))`;

export interface EmbedCounts {
  /** (user, listing) pairs read. */
  pairs: number;
  users: number;
  /** Listings with interactions (the matrix's columns). */
  listings: number;
  /** Listings that got a vector from the fit. */
  embedded: number;
  /** Listings whose vector this run wrote. */
  listingsWritten: number;
  /** Listings that already held the same derived vector. */
  listingsUnchanged: number;
  /** Listings with a vector of their own, kept. */
  listingsKept: number;
  /** The source's listings without interactions: no vector (NULL stays NULL). */
  listingsCold: number;
  interestsWritten: number;
  /** Interests none of whose category's listings has a derived vector. */
  interestsWithout: number;
  fitMs: number;
  /** The whole step: read, fit and writes. */
  elapsedMs: number;
}

interface History {
  users: number;
  listingIds: number[];
  userIndex: Uint32Array;
  itemIndex: Uint32Array;
  weight: Float32Array;
}

async function readHistory(client: pg.PoolClient, options: EmbedFromInteractionsOptions): Promise<History> {
  const { rows } = await client.query<[string, number, number]>({
    text: historySql,
    values: [options.source, options.retentionCutoff],
    rowMode: 'array',
  });
  // Users are indexed in user_id order (the rows' order), listings in id order: the same history
  // gives the same matrix, so the seeded fit gives the same vectors.
  const listingIds = [...new Set(rows.map((r) => r[1]))].sort((a, b) => a - b);
  const itemOf = new Map(listingIds.map((id, index) => [id, index]));
  const userIndex = new Uint32Array(rows.length);
  const itemIndex = new Uint32Array(rows.length);
  const weight = new Float32Array(rows.length);
  let users = 0;
  let lastUser: string | null = null;
  for (const [e, [user, listing, value]] of rows.entries()) {
    if (user !== lastUser) {
      if (lastUser !== null) users += 1;
      lastUser = user;
    }
    userIndex[e] = users;
    itemIndex[e] = itemOf.get(listing)!;
    weight[e] = value;
  }
  return { users: lastUser === null ? 0 : users + 1, listingIds, userIndex, itemIndex, weight };
}

/** Writes the derived vectors in batches; returns the item indexes whose stored vector is now the derived one. */
async function writeListings(
  pool: pg.Pool,
  options: EmbedFromInteractionsOptions,
  fit: InteractionEmbeddings,
  listingIds: readonly number[],
  counts: EmbedCounts,
): Promise<Set<number>> {
  const derived = new Set<number>();
  const itemOf = new Map(listingIds.map((id, index) => [id, index]));
  const embedded = listingIds.flatMap((_, item) => (fit.hasEmbedding(item) ? [item] : []));
  for (let start = 0; start < embedded.length; start += WRITE_BATCH) {
    const batch = embedded.slice(start, start + WRITE_BATCH);
    const { rows } = await withTransaction(pool, (client) =>
      client.query<{ id: number; written: boolean }>(writeListingsSql, [
        batch.map((item) => listingIds[item]),
        batch.map((item) => vectorLiteral(fit.vectorOf(item)!)),
        options.source,
        options.overwrite === true,
      ]),
    );
    for (const row of rows) {
      derived.add(itemOf.get(row.id)!);
      if (row.written) counts.listingsWritten += 1;
      else counts.listingsUnchanged += 1;
    }
    counts.listingsKept += batch.length - rows.length;
  }
  return derived;
}

async function writeInterests(
  pool: pg.Pool,
  options: EmbedFromInteractionsOptions,
  fit: InteractionEmbeddings,
  listingIds: readonly number[],
  derived: ReadonlySet<number>,
  counts: EmbedCounts,
): Promise<void> {
  const { rows: interests } = await pool.query<{ id: number; category_id: number }>(interestsToEmbedSql, [
    options.source,
    options.overwrite === true,
  ]);
  if (interests.length === 0) return;
  // Members: the category's listings that hold the derived vector (a listing keeping its own model's
  // vector is not averaged in: the two spaces are unrelated). The data model has no listing↔interest
  // tags, so the category is the only link.
  const { rows: categories } = await pool.query<{ id: number; category_id: number }>(listingCategoriesSql, [
    options.source,
  ]);
  const itemOf = new Map(listingIds.map((id, index) => [id, index]));
  const byCategory = new Map<number, number[]>();
  for (const { id, category_id } of categories) {
    const item = itemOf.get(id);
    if (item === undefined || !derived.has(item)) continue;
    const list = byCategory.get(category_id) ?? [];
    list.push(item);
    byCategory.set(category_id, list);
  }
  const means = interestEmbeddings(
    (item) => fit.vectorOf(item),
    new Map(interests.map((i) => [i.id, byCategory.get(i.category_id) ?? []])),
  );
  const ready = [...means].flatMap(([id, vector]) => (vector === null ? [] : [{ id, vector }]));
  counts.interestsWithout = interests.length - ready.length;
  for (let start = 0; start < ready.length; start += WRITE_BATCH) {
    const batch = ready.slice(start, start + WRITE_BATCH);
    const result = await pool.query(writeInterestsSql, [
      batch.map((r) => r.id),
      batch.map((r) => vectorLiteral(r.vector)),
      options.overwrite === true,
    ]);
    counts.interestsWritten += result.rowCount ?? 0;
  }
}

export async function embedFromInteractions(
  pool: pg.Pool,
  options: EmbedFromInteractionsOptions,
  log: (line: string) => void,
): Promise<EmbedCounts> {
  const counts: EmbedCounts = {
    pairs: 0,
    users: 0,
    listings: 0,
    embedded: 0,
    listingsWritten: 0,
    listingsUnchanged: 0,
    listingsKept: 0,
    listingsCold: 0,
    interestsWritten: 0,
    interestsWithout: 0,
    fitMs: 0,
    elapsedMs: 0,
  };
  const stepStarted = performance.now();
  const history = await withClient(pool, (client) => readHistory(client, options));
  const { rows: total } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM marketplace_listings WHERE $1::text IS NULL OR source = $1`,
    [options.source],
  );
  counts.pairs = history.weight.length;
  counts.users = history.users;
  counts.listings = history.listingIds.length;
  if (counts.pairs === 0) {
    counts.listingsCold = total[0]?.n ?? 0;
    log(
      `embed: no interactions with the listings of "${options.source ?? '(every source)'}"; nothing to embed`,
    );
    counts.elapsedMs = Math.round(performance.now() - stepStarted);
    return counts;
  }
  const started = performance.now();
  const fit = interactionEmbeddings(
    {
      userIndex: history.userIndex,
      itemIndex: history.itemIndex,
      weight: history.weight,
      nUsers: history.users,
      nItems: history.listingIds.length,
    },
    {
      ...options.fit,
      ...(options.rank === undefined ? {} : { rank: options.rank }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    },
  );
  counts.fitMs = Math.round(performance.now() - started);
  counts.embedded = fit.embeddedItems;
  counts.listingsCold = (total[0]?.n ?? 0) - fit.embeddedItems;
  log(
    `embed: ${counts.pairs} (user, listing) pairs from ${counts.users} users over ${counts.listings} listings; ` +
      `rank ${fit.rank} fit in ${counts.fitMs} ms; ${counts.embedded} listings embedded`,
  );
  const derived = await writeListings(pool, options, fit, history.listingIds, counts);
  await writeInterests(pool, options, fit, history.listingIds, derived, counts);
  counts.elapsedMs = Math.round(performance.now() - stepStarted);
  log(
    `embed: listings ${counts.listingsWritten} written, ${counts.listingsUnchanged} unchanged, ` +
      `${counts.listingsKept} kept their own vector, ${counts.listingsCold} without one (no interactions); ` +
      `interests ${counts.interestsWritten} written, ${counts.interestsWithout} without derived listings; ` +
      `${counts.elapsedMs} ms in all`,
  );
  return counts;
}
