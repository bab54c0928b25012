/**
 * The catalogue's statements: one per batch and step, arrays in, so a batch of a thousand rows is a
 * handful of round trips. They run as the caller's connection allows: the API on lodestar_app under a
 * service or admin identity (RLS and column grants apply), the importer as the owner.
 */

/** $1 slugs → the categories that exist. */
export const categoriesBySlugSql = `SELECT id, slug FROM categories WHERE slug = ANY($1::text[])`;

/** $1 source, $2 external ids → the people imported from that source under those ids. */
export const profilesByExternalIdSql = `
SELECT user_id::text, external_id FROM profiles WHERE source = $1 AND external_id = ANY($2::text[])`;

/** $1 user ids → those that exist. */
export const profilesByIdSql = `SELECT user_id::text FROM profiles WHERE user_id = ANY($1::uuid[])`;

/**
 * Listings upsert by (source, external_id). $1 source, then one array per column in row order. A row
 * whose stored values already equal the new ones is not touched (no updated_at bump, nothing queued):
 * a re-sent batch changes nothing. Returns the rows inserted or changed, with the category they had
 * before (NULL for new ones) so both the old and the new category's candidates get refreshed. created_at
 * is set once, on insert. A row without an embedding keeps the stored one (e.g. one derived by
 * `--embed interactions`), so re-sending a catalogue that has no model's vectors changes nothing.
 */
export const upsertListingsSql = `
WITH before AS (
  SELECT id, category_id FROM marketplace_listings WHERE source = $1 AND external_id = ANY($2::text[])
)
INSERT INTO marketplace_listings AS l
  (source, external_id, title, description, price, currency, category_id, seller_id, status, embedding, created_at)
SELECT $1, t.external_id, t.title, t.description, t.price::numeric(12, 2), t.currency, t.category_id,
       t.seller_id, t.status, t.embedding::vector, coalesce(t.created_at, now())
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::uuid[], $9::text[],
            $10::text[], $11::timestamptz[])
       AS t(external_id, title, description, price, currency, category_id, seller_id, status, embedding, created_at)
ON CONFLICT (source, external_id) DO UPDATE
  SET title = EXCLUDED.title, description = EXCLUDED.description, price = EXCLUDED.price,
      currency = EXCLUDED.currency, category_id = EXCLUDED.category_id, seller_id = EXCLUDED.seller_id,
      status = EXCLUDED.status, embedding = coalesce(EXCLUDED.embedding, l.embedding)
  WHERE (l.title, l.description, l.price, l.currency, l.category_id, l.seller_id, l.status)
          IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.description, EXCLUDED.price, EXCLUDED.currency,
                            EXCLUDED.category_id, EXCLUDED.seller_id, EXCLUDED.status)
     OR (EXCLUDED.embedding IS NOT NULL AND l.embedding IS DISTINCT FROM EXCLUDED.embedding)
RETURNING l.id, l.external_id, l.category_id, (SELECT b.category_id FROM before b WHERE b.id = l.id) AS old_category_id`;

/** $1 source, $2 external ids → their listing ids. */
export const listingIdsSql = `
SELECT id, external_id FROM marketplace_listings WHERE source = $1 AND external_id = ANY($2::text[])`;

/**
 * Status changes by (source, external_id): $1 source, $2 external ids, $3 statuses. Rows already in
 * that status are not touched. Returns the listings changed and their category.
 */
export const setListingStatusesSql = `
UPDATE marketplace_listings l SET status = t.status
FROM unnest($2::text[], $3::text[]) AS t(external_id, status)
WHERE l.source = $1 AND l.external_id = t.external_id AND l.status IS DISTINCT FROM t.status
RETURNING l.id, l.external_id, l.category_id`;

/**
 * Interests upsert by (source, external_id): $1 source, $2 external ids, $3 slugs, $4 names, $5 category
 * ids, $6 embeddings (text, NULL: none). The slug is fixed once created (clients link to it). Returns
 * the interests inserted or changed. As for listings, a row without an embedding keeps the stored one.
 */
export const upsertInterestsSql = `
INSERT INTO interest_catalog AS i (source, external_id, slug, name, category_id, embedding)
SELECT $1, t.external_id, t.slug, t.name, t.category_id, t.embedding::vector
FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[]) AS t(external_id, slug, name, category_id, embedding)
ON CONFLICT (source, external_id) DO UPDATE
  SET name = EXCLUDED.name, category_id = EXCLUDED.category_id,
      embedding = coalesce(EXCLUDED.embedding, i.embedding)
  WHERE (i.name, i.category_id) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.category_id)
     OR (EXCLUDED.embedding IS NOT NULL AND i.embedding IS DISTINCT FROM EXCLUDED.embedding)
RETURNING i.id, i.external_id, i.slug`;

/** $1 source, $2 external ids → their interest ids and slugs. */
export const interestIdsSql = `
SELECT id, external_id, slug FROM interest_catalog WHERE source = $1 AND external_id = ANY($2::text[])`;

/** $1 slugs → who holds them (a slug is unique across sources). */
export const interestSlugHoldersSql = `
SELECT slug, source, external_id FROM interest_catalog WHERE slug = ANY($1::text[])`;

/**
 * Candidate refresh after a catalogue change: discovery for every interest (with an embedding) of the
 * given categories ($1), and for the given interests ($2). An interest with an item still queued is
 * skipped: that item has not run yet, so it will see this change. Each new item's key is fresh
 * (`discovery:catalog:<interest>:<category>:<uuid>`), so later changes can queue it again.
 */
export const enqueueCatalogDiscoverySql = `
INSERT INTO marketplace_discovery_queue (interest_id, category_id, reason, idempotency_key)
SELECT ic.id, ic.category_id, 'catalog',
       'discovery:catalog:' || ic.id || ':' || ic.category_id || ':' || gen_random_uuid()
FROM interest_catalog ic
WHERE (ic.category_id = ANY($1::int[]) OR ic.id = ANY($2::int[]))
  AND ic.embedding IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM marketplace_discovery_queue q
                   WHERE q.interest_id = ic.id AND q.category_id = ic.category_id AND q.status = 'queued')
ORDER BY ic.id
RETURNING id`;

/**
 * People upsert by (source, external_id), for the importer (as the owner): $1 source, $2 external ids,
 * $3 handles, $4 display names, $5 created_at (NULL: now). The handle is fixed once created. Returns
 * the people inserted or changed.
 */
export const upsertUsersSql = `
INSERT INTO profiles AS p (source, external_id, handle, display_name, created_at)
SELECT $1, t.external_id, t.handle, t.display_name, coalesce(t.created_at, now())
FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS t(external_id, handle, display_name, created_at)
ON CONFLICT (source, external_id) DO UPDATE SET display_name = EXCLUDED.display_name
  WHERE p.display_name IS DISTINCT FROM EXCLUDED.display_name
RETURNING p.user_id::text, p.external_id`;

/** $1 handles → who holds them. */
export const handleHoldersSql = `SELECT handle, source, external_id FROM profiles WHERE handle = ANY($1::text[])`;
