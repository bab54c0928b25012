/**
 * The importer's own statements: one per batch and step, arrays in (INSERT ... SELECT FROM unnest), as
 * the owner. Triggers stay on (the database may be live); ON CONFLICT DO NOTHING makes a re-sent row a
 * no-op. The like and follow counters are deferred in history batches and recounted after the files.
 */

/**
 * For the rest of this transaction the likes_count and follows_count triggers leave the counters alone
 * (migration 20261203090000_defer_counters): honoured for the owner's session only, which the importer
 * is; a person's session that sets it still counts.
 */
export const deferCountersSql = `SELECT set_config('lodestar.defer_counters', 'on', true)`;

/** Categories upsert by slug: $1 slugs, $2 names. Returns the rows inserted or renamed (xmax = 0: inserted). */
export const upsertCategoriesSql = `
INSERT INTO categories AS c (slug, name)
SELECT t.slug, t.name FROM unnest($1::text[], $2::text[]) AS t(slug, name)
ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name WHERE c.name IS DISTINCT FROM EXCLUDED.name
RETURNING c.slug, (c.xmax = 0) AS inserted`;

/** $1 slugs → the interests holding them. */
export const interestsBySlugSql = `SELECT id, slug FROM interest_catalog WHERE slug = ANY($1::text[])`;

/**
 * Declared interests: $1 user ids, $2 interest ids, $3 affinities, $4 created_at (NULL: now). An
 * existing pair is left alone: its affinity has been learnt since, and a re-run must change nothing.
 * reinforced_at starts at the declaration, so weekly decay counts from then.
 */
export const insertUserInterestsSql = `
INSERT INTO user_interests (user_id, interest_id, affinity, reinforced_at, created_at)
SELECT t.user_id, t.interest_id, t.affinity, coalesce(t.created_at, now()), coalesce(t.created_at, now())
FROM unnest($1::uuid[], $2::int[], $3::real[], $4::timestamptz[]) AS t(user_id, interest_id, affinity, created_at)
ON CONFLICT (user_id, interest_id) DO NOTHING`;

/** Likes with their original time: $1 user ids, $2 listing ids, $3 created_at. */
export const insertLikesSql = `
INSERT INTO likes (user_id, listing_id, created_at)
SELECT t.user_id, t.listing_id, t.created_at
FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS t(user_id, listing_id, created_at)
ON CONFLICT (user_id, listing_id) DO NOTHING`;

/** Follows with their original time: $1 followers, $2 followees, $3 created_at. */
export const insertFollowsSql = `
INSERT INTO follows (follower_id, followee_id, created_at)
SELECT t.follower_id, t.followee_id, t.created_at
FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS t(follower_id, followee_id, created_at)
ON CONFLICT (follower_id, followee_id) DO NOTHING`;

/**
 * Views and other intent signals: $1 user ids, $2 kinds, $3 listing ids, $4 weights, $5 created_at.
 * intent_signals has no natural key, so a signal identical in user, kind, listing and time to one
 * already stored (or earlier in the batch) is the same event sent again and is skipped: a re-run adds
 * nothing. The lookup is an index probe on intent_signals_user_id_idx (user_id, created_at).
 */
export const insertSignalsSql = `
INSERT INTO intent_signals (user_id, kind, listing_id, weight, created_at)
SELECT DISTINCT ON (t.user_id, t.kind, t.listing_id, t.created_at)
       t.user_id, t.kind, t.listing_id, t.weight, t.created_at
FROM unnest($1::uuid[], $2::text[], $3::int[], $4::real[], $5::timestamptz[])
       AS t(user_id, kind, listing_id, weight, created_at)
WHERE NOT EXISTS (SELECT 1 FROM intent_signals s
                   WHERE s.user_id = t.user_id AND s.created_at = t.created_at
                     AND s.kind = t.kind AND s.listing_id = t.listing_id)`;

/** The checkpoint of one file: $1 source, $2 kind, $3 fingerprint. */
export const readCheckpointSql = `
SELECT rows_done, counts, finished FROM import_checkpoints WHERE source = $1 AND kind = $2 AND fingerprint = $3`;

export const startCheckpointSql = `
INSERT INTO import_checkpoints (source, kind, fingerprint) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`;

/** $4 rows done, $5 counts, $6 finished. */
export const saveCheckpointSql = `
UPDATE import_checkpoints SET rows_done = $4, counts = $5, finished = $6, updated_at = now()
WHERE source = $1 AND kind = $2 AND fingerprint = $3`;

/** How many of these files ($2 kinds, $3 fingerprints, pairwise) an interrupted run of $1 left checkpoints for. */
export const countCheckpointsSql = `
SELECT count(*) AS n FROM import_checkpoints c
JOIN unnest($2::text[], $3::text[]) AS t(kind, fingerprint) ON c.kind = t.kind AND c.fingerprint = t.fingerprint
WHERE c.source = $1`;

/** A finished run forgets its checkpoints: $1 source, $2 kinds, $3 fingerprints (pairwise). */
export const dropCheckpointsSql = `
DELETE FROM import_checkpoints c USING unnest($2::text[], $3::text[]) AS t(kind, fingerprint)
WHERE c.source = $1 AND c.kind = t.kind AND c.fingerprint = t.fingerprint`;

/** Is the session's user the owner of the tables the importer writes (or a member of the owner role)? */
export const ownerCheckSql = `
SELECT pg_has_role(current_user, c.relowner, 'USAGE') AS owner, current_user AS login
FROM pg_class c WHERE c.oid = 'public.marketplace_listings'::regclass`;
