import { listingColumns, listingColumnsWithoutDescription } from '../catalog/listingRows.js';

/**
 * The most listings a process's kept candidates serve between two reads of a viewer's candidates
 * (src/feed/candidateMemory.ts, servedBetweenReads): the most any read looks ahead ($12). The COENGAGED
 * CTE reads this far beyond its pool whatever a read's own look-ahead, so a read with memory off (a page's
 * look-ahead) and one with memory on (the budget's) find the same co-engaged listings.
 */
export const MAX_SERVED_BETWEEN_READS = 160;

/**
 * What the rows need of a pool's listing, read where the pool reads it (so the rows do not look each
 * listing up once more): its category, popularity, age and distance from the viewer's profile embedding.
 */
const listingFeatures = (l: string) =>
  `${l}.category_id, ${l}.popularity, ${l}.created_at, ${l}.embedding <=> (SELECT embedding FROM viewer) AS distance`;

/**
 * The listing `id` with its features (listingFeatures) if it is eligible, else no row: as a LATERAL
 * subquery, checked row by row in the outer rows' order (LIMIT 1 keeps the planner from pulling it up into
 * a join it could run as a hash join over every outer row), so an outer LIMIT stops the lookups once
 * enough are found.
 */
const eligibleRow = (id: string) =>
  `SELECT ${listingFeatures('e')} FROM eligible e WHERE e.id = ${id} LIMIT 1`;

/**
 * The feed candidate statement's parts (see feedCandidatesSql): the viewer, exclusions, eligibility and
 * the viewer's cached personal candidates, then (in between) where SIMILAR comes from, then the other
 * pools and the rows. Composed twice below, so the two statements cannot drift apart.
 */
const candidatesHead = `
WITH viewer AS MATERIALIZED (
  SELECT embedding, embedding_updated_at FROM profiles WHERE user_id = $1::uuid
), recent_likes AS MATERIALIZED (
  SELECT k.listing_id, l.category_id FROM likes k JOIN marketplace_listings l ON l.id = k.listing_id
  WHERE k.user_id = $1::uuid ORDER BY k.created_at DESC LIMIT 100
), like_share AS MATERIALIZED (
  SELECT category_id, count(*)::float8 / sum(count(*)) OVER () AS share, (sum(count(*)) OVER ())::int AS likes
  FROM recent_likes GROUP BY category_id
), affinity AS MATERIALIZED (
  SELECT ic.category_id, max(ui.affinity)::float8 AS affinity
  FROM user_interests ui JOIN interest_catalog ic ON ic.id = ui.interest_id
  WHERE ui.user_id = $1::uuid AND ui.affinity > 0 GROUP BY ic.category_id
), excluded AS MATERIALIZED (
  -- Tested with NOT IN, which PostgreSQL runs as one hash lookup per row ("hashed SubPlan"); NOT EXISTS
  -- against this CTE was planned as a nested loop rescanning it for every row a pool looked at. No NULLs
  -- (NOT IN would then match nothing).
  SELECT listing_id FROM (
    SELECT listing_id FROM likes WHERE user_id = $1::uuid
    UNION SELECT listing_id FROM hidden_listings WHERE user_id = $1::uuid
    UNION SELECT recently_served_listings($1::uuid, $5::interval, $6::text)) x
  WHERE listing_id IS NOT NULL
), eligible AS NOT MATERIALIZED (
  SELECT l.* FROM marketplace_listings l
  WHERE l.status = 'active'
    AND ($2::int IS NULL OR l.category_id = $2::int)
    AND l.seller_id IS DISTINCT FROM $1::uuid
    AND l.id NOT IN (SELECT listing_id FROM excluded)
), cached AS MATERIALIZED (
  -- The viewer's personal candidates as an earlier request computed them (feed_viewer_candidates), when
  -- usable: caching on ($10 > 0), no category filter, younger than $10 seconds and newer than the
  -- profile embedding. Already without liked, hidden and own listings when stored.
  SELECT c.id, c.score, c.sources, c.rank, v.computed_at
  FROM feed_viewer_candidates v
  CROSS JOIN LATERAL unnest(v.listing_ids, v.scores, v.sources) WITH ORDINALITY AS c(id, score, sources, rank)
  WHERE v.user_id = $1::uuid AND $2::int IS NULL AND $10::int > 0
    AND v.computed_at > now() - make_interval(secs => $10::int)
    AND v.computed_at >= (SELECT coalesce(embedding_updated_at, '-infinity') FROM viewer)
  ORDER BY c.rank LIMIT $11::int
), cached_eligible AS MATERIALIZED (
  -- The best $3 + $12 still eligible: $3 for this page's SIMILAR pool, $12 (the page size) more to know
  -- whether the next page can be served from the cache too (this page takes at most $12 of them). Checked
  -- row by row in the cache's order (eligibleRow), so the lookups stop once enough are found; each row
  -- carries its listing's features, so neither the SIMILAR pool nor the rows below look it up again.
  SELECT c.id, c.score, c.sources, c.rank, e.* FROM cached c
  CROSS JOIN LATERAL (${eligibleRow('c.id')}) e
  LIMIT $3 + $12::int
`;

/**
 * The SIMILAR pool from the cache: its first $3 eligible, then the $12 after them (cached_eligible, with
 * their features; the cache's order is (score DESC, id), as similar_ids holds them), where `condition`
 * holds. A page ranks the first $3; a process keeping the viewer's candidates serves its next pages from
 * the rest (src/feed/candidateMemory.ts, pageCandidates).
 */
const similarFromCache = (
  condition: string,
) => `(SELECT 'SIMILAR' AS pool, c.id, c.score, c.category_id, c.popularity, c.created_at, c.distance
    FROM cached_eligible c WHERE ${condition} ORDER BY c.score DESC, c.id LIMIT $3 + $12::int)`;

/** Seconds since the cache that served this page was computed (it expires $10 s after that). */
const cacheAgeOf = `(SELECT extract(epoch FROM now() - computed_at) FROM cached LIMIT 1)`;

const candidatesTail = (similarPool: string, cacheSize: string, cacheLeft: string, cacheAge: string) => `
), coengaged AS MATERIALIZED (
  -- The best 2 × $9 + MAX_SERVED_BETWEEN_READS before the eligibility checks, best first: the pool and
  -- the longest look-ahead (as SIMILAR's), with room for the viewer's own and excluded listings (a
  -- session's served ones among them). Summed in float8 (score is real), so every plan orders them alike.
  -- n: the rank.
  SELECT t.id, t.score, row_number() OVER (ORDER BY t.score DESC, t.id) AS n
  FROM (
    SELECT c.neighbour_id AS id, sum(c.score::float8) AS score
    FROM (SELECT listing_id FROM recent_likes LIMIT 50) r
    JOIN listing_coengagement c ON c.listing_id = r.listing_id
    WHERE $9::int > 0
    GROUP BY c.neighbour_id
    ORDER BY 2 DESC, 1 LIMIT 2 * $9::int + ${MAX_SERVED_BETWEEN_READS}) t
  ORDER BY t.score DESC, t.id
), top_categories AS (
  SELECT category_id FROM (
    SELECT coalesce(s.category_id, a.category_id) AS category_id,
           coalesce(s.share, 0) + coalesce(a.affinity, 0) / 4 AS weight
    FROM like_share s FULL JOIN affinity a ON a.category_id = s.category_id) w
  WHERE $2::int IS NULL OR w.category_id = $2::int
  ORDER BY weight DESC, category_id LIMIT 3
), pools AS (
  -- Every pool's rows: pool, id, score, then the listing's features (listingFeatures).
  ${similarPool}
  UNION ALL
  -- In the CTE's order (best first), looked up row by row until $9 + $12 are eligible (as cached_eligible):
  -- a page ranks the first $9, a process keeping the viewer's candidates serves its next pages from the
  -- rest (src/feed/candidateMemory.ts, pageCandidates).
  (SELECT 'COENGAGED', c.id, c.score, e.* FROM coengaged c CROSS JOIN LATERAL (${eligibleRow('c.id')}) e
   WHERE $9::int > 0 LIMIT $9::int + $12::int)
  UNION ALL
  (SELECT 'CATEGORY', p.* FROM top_categories t CROSS JOIN LATERAL (
     SELECT e.id, e.popularity AS score, ${listingFeatures('e')} FROM eligible e WHERE e.category_id = t.category_id
     ORDER BY e.popularity DESC, e.id DESC LIMIT ($4 + 1) / 2) p)
  UNION ALL
  (SELECT 'POPULAR', e.id, e.popularity, ${listingFeatures('e')} FROM eligible e
   ORDER BY e.popularity DESC, e.id DESC LIMIT $4)
  UNION ALL
  (SELECT 'RECENT', e.id, extract(epoch FROM e.created_at), ${listingFeatures('e')} FROM eligible e
   ORDER BY e.created_at DESC, e.id DESC LIMIT $4)
  UNION ALL
  -- The process's exploration sample in the order the session's seed gave it, looked up row by row
  -- until $4 are eligible (as cached_eligible).
  (SELECT 'EXPLORE', x.id, 0, e.* FROM unnest($7::int[]) AS x(id) CROSS JOIN LATERAL (${eligibleRow('x.id')}) e
   LIMIT $4)
  UNION ALL
  (SELECT 'GLOBAL', g.id, g.popularity, g.category_id, g.popularity, g.created_at, g.distance FROM (
     SELECT l.id, ${listingFeatures('l')},
            row_number() OVER (PARTITION BY l.category_id ORDER BY l.popularity DESC, l.id DESC) AS rank_in_category
     FROM marketplace_listings l
     WHERE $2::int IS NOT NULL AND l.status = 'active' AND l.seller_id IS DISTINCT FROM $1::uuid
       AND l.id NOT IN (SELECT listing_id FROM excluded)) g
   WHERE g.rank_in_category <= $8
   ORDER BY g.popularity DESC, g.id DESC LIMIT $4)
)
SELECT p.pool, p.score::float8 AS score, (SELECT embedding IS NOT NULL FROM viewer) AS has_embedding,
       p.id, p.category_id, p.popularity, (extract(epoch FROM p.created_at) * 1000)::float8 AS created_ms,
       coalesce(1 - p.distance, 0)::float8 AS similarity,
       -- Both from the best 2 × $9 only, however far a read looks ahead: a page ranks the same whether or
       -- not the process keeps candidates, and a kept page as a read would.
       CASE WHEN c.n <= 2 * $9::int THEN c.score ELSE 0 END AS coengagement,
       coalesce(c.n <= 2 * $9::int, false) AS from_coengaged,
       coalesce(a.affinity, 0) AS category_affinity,
       coalesce(s.share, 0) AS category_share,
       -- How many likes category_share counts (the viewer's latest, at most 100); 0 beyond their categories.
       coalesce(s.likes, 0) AS recent_likes,
       -- Hashed subplans: one hash lookup per row (a join with similar_ids, estimated at one row in the
       -- generic plan, ran as a nested loop over all of it for every row).
       p.id IN (SELECT si.id FROM similar_ids si WHERE si.ann) AS from_similar,
       p.id IN (SELECT si.id FROM similar_ids si WHERE si.interest) AS from_interests,
       (${cacheSize})::int AS cache_size,
       greatest(0, ${cacheLeft})::int AS cache_left,
       coalesce(${cacheAge}, 0)::float8 AS cache_age
FROM pools p
LEFT JOIN coengaged c ON c.id = p.id
LEFT JOIN affinity a ON a.category_id = p.category_id
LEFT JOIN like_share s ON s.category_id = p.category_id`;

/**
 * feed candidates: in ONE statement, everything one feed page can be built from, as rows tagged with
 * the pool they come from, each with the ranking features of its listing (src/feed/ranking.ts):
 *   SIMILAR    nearest active listings to the viewer's profile embedding (ivfflat index), blended with the
 *              discovery worker's per-interest candidates (affinity × candidate score)
 *   COENGAGED  listings liked together with the viewer's latest likes (listing_coengagement)
 *   CATEGORY   the most popular active listings of the viewer's top 3 categories (their likes and interests),
 *              half the pool limit each
 *   POPULAR    most popular active listings      RECENT  newest active listings
 *   EXPLORE    listings of the process's random sample (src/feed/explorationSample.ts), in the order the
 *              session's seed gives them ($7), the first $4 still eligible
 *   GLOBAL     most popular active listings in any category (fallback when a category filter runs dry)
 * Every pool leaves out the viewer's own listings, liked and hidden listings, and listings served to the
 * viewer in this feed session or in the last `served_window`. Runs as lodestar_service.
 *
 * Feature columns (0 when they do not apply): similarity = cosine to the profile embedding; coengagement =
 * Σ liked-together score with the viewer's latest likes; category_affinity = the viewer's highest interest
 * affinity in the listing's category; category_share = share of the viewer's latest likes in that category,
 * recent_likes = how many likes that share counts (the latest, at most 100; 0 beside a share of 0);
 * from_similar / from_interests = whether the nearest-neighbour search / the interests' discovery candidates
 * found it (the pools a listing appears in say the rest).
 *
 * $1 viewer uuid (NULL = anonymous: no personal pools, no exclusions)   $2 category id or NULL
 * $3 SIMILAR limit   $4 limit of each other pool   $5 served window (interval)   $6 feed session id
 * $7 exploration candidates (int[], best first)   $8 most GLOBAL items per category (the page's category cap)
 * $9 COENGAGED limit (0 = none)   $10 seconds a viewer's cached personal candidates stay usable (0 = no
 * cache: search every time)   $11 personal candidates kept in the cache (feed_viewer_candidates)
 * $12 the look-ahead (a page, or what a process's kept candidates serve between reads): a cache is
 * refilled while it still holds $3 + $12 eligible, so the next read never finds it short (cache_left: how
 * many eligible candidates that read will find in it at least); SIMILAR returns up to $3 + $12, the
 * first $3 this page's pool, and COENGAGED up to $9 + $12, the first $9 this page's pool
 * (src/feed/candidateMemory.ts, pageCandidates; at most MAX_SERVED_BETWEEN_READS)
 *
 * A row carries only what ranking needs of its listing (id, category_id, popularity, created_ms = created_at
 * in epoch milliseconds): a page serves a tenth of the rows, and their listing columns come back with the
 * page's impressions (insertImpressionsSql), so the gateway no longer parses and throws away a whole
 * listing per candidate.
 */
export const feedCandidatesSql = `${candidatesHead}), live AS MATERIALIZED (
  -- search: run the vector search (no usable cache, or too few of it left eligible, e.g. deep in a
  -- session or after an hour of scrolling); store: keep its result for the next requests, replacing a
  -- cache that ran short (see stored: only when the new one is not short too).
  SELECT ($3 > 0 AND x.eligible < $3 + $12::int) AS search, x.cached AS had_cache,
         (x.eligible < $3 + $12::int AND $2::int IS NULL AND $10::int > 0 AND $3 > 0) AS store
  FROM (SELECT (SELECT count(*) FROM cached_eligible) AS eligible, EXISTS (SELECT 1 FROM cached) AS cached) x
), nearest AS (
  SELECT l.id, 1 - (l.embedding <=> (SELECT embedding FROM viewer)) AS score
  FROM marketplace_listings l
  WHERE (SELECT search FROM live)
    AND (SELECT embedding FROM viewer) IS NOT NULL
    AND l.embedding IS NOT NULL
    AND l.status = 'active'
    AND ($2::int IS NULL OR l.category_id = $2::int)
    AND l.seller_id IS DISTINCT FROM $1::uuid
    AND l.id NOT IN (SELECT listing_id FROM excluded)
  ORDER BY l.embedding <=> (SELECT embedding FROM viewer)
  LIMIT CASE WHEN (SELECT store FROM live) THEN greatest($3, $11::int) ELSE $3 END
), from_interests AS (
  SELECT c.listing_id AS id, max(ui.affinity * c.score) AS score
  FROM user_interests ui
  JOIN interest_listing_candidates c ON c.interest_id = ui.interest_id
  WHERE ui.user_id = $1::uuid AND (SELECT search FROM live)
  GROUP BY c.listing_id
  ORDER BY 2 DESC
  LIMIT CASE WHEN (SELECT store FROM live) THEN greatest($3, $11::int) ELSE $3 END
), searched AS MATERIALIZED (
  SELECT s.id, max(s.score) AS score, bit_or(s.source)::smallint AS sources
  FROM (SELECT id, score, 1 AS source FROM nearest UNION ALL SELECT id, score, 2 FROM from_interests) s
  GROUP BY s.id
), stored AS (
  -- A data-modifying CTE runs whether or not anything reads it: the next request finds the cache.
  INSERT INTO feed_viewer_candidates AS v (user_id, listing_ids, scores, sources, computed_at)
  SELECT $1::uuid, array_agg(t.id ORDER BY t.score DESC, t.id), array_agg(t.score ORDER BY t.score DESC, t.id),
         array_agg(t.sources ORDER BY t.score DESC, t.id), now()
  FROM (SELECT s.id, s.score, s.sources FROM searched s JOIN eligible e ON e.id = s.id
        ORDER BY s.score DESC, s.id LIMIT $11::int) t
  WHERE (SELECT store FROM live)
  -- A cache that ran short is replaced only by one that is not: in a catalogue too small to fill the
  -- SIMILAR pool, every request searches anyway, and rewriting the row each time would gain nothing.
  HAVING count(*) >= greatest(1, CASE WHEN (SELECT had_cache FROM live) THEN $3 + $12::int ELSE 1 END)
  ON CONFLICT (user_id) DO UPDATE
    SET listing_ids = excluded.listing_ids, scores = excluded.scores, sources = excluded.sources,
        computed_at = excluded.computed_at
  RETURNING cardinality(v.listing_ids) AS size
), searched_similar AS MATERIALIZED (
  -- What the search found for the SIMILAR pool: its first $3 eligible, then the $12 after them.
  SELECT s.id, s.score, s.sources, ${listingFeatures('e')} FROM searched s JOIN eligible e ON e.id = s.id
  ORDER BY s.score DESC, s.id LIMIT $3 + $12::int
), similar_ids AS (
  -- The SIMILAR pool and its look-ahead, whichever way they were found: the same $3 + $12 eligible rows
  -- as the cached read of the candidates this statement stores, so from_similar and from_interests mean
  -- the same on either path (not every listing the search looked at).
  SELECT s.id, s.score, (s.sources & 1) <> 0 AS ann, (s.sources & 2) <> 0 AS interest
  FROM ((SELECT id, score, sources FROM cached_eligible WHERE NOT (SELECT search FROM live)
         ORDER BY rank LIMIT $3 + $12::int)
        UNION ALL SELECT id, score, sources FROM searched_similar) s
${candidatesTail(
  // From the cache (its rows already checked, with their features), or searched and checked here.
  `${similarFromCache('NOT (SELECT search FROM live)')}
  UNION ALL
  (SELECT 'SIMILAR', id, score, category_id, popularity, created_at, distance FROM searched_similar
   ORDER BY score DESC, id)`,
  // The candidates in the viewer's cache if it is usable now (it served this page, or this statement
  // stored a new one), else 0.
  `CASE WHEN NOT (SELECT search FROM live) THEN (SELECT count(*) FROM cached)
        ELSE coalesce((SELECT size FROM stored), 0) END`,
  // Eligible candidates the next page finds in the cache at least: this page takes at most $12.
  `CASE WHEN NOT (SELECT search FROM live) THEN (SELECT count(*) FROM cached_eligible)
        ELSE coalesce((SELECT size FROM stored), 0) END - $12::int`,
  `CASE WHEN NOT (SELECT search FROM live) THEN ${cacheAgeOf} ELSE 0 END`,
)}`;

/**
 * feed cached candidates: feedCandidatesSql for a viewer whose cache (feed_viewer_candidates) is known to
 * be usable — the same parameters, pools and rows, with SIMILAR read from the cache only (no vector search,
 * no write). `cache_size` is 0 when the cache turned out short (fewer than $3 still eligible), stale
 * (older than $10 s or than the profile embedding) or missing: the caller then runs feedCandidatesSql,
 * which searches. With nothing left that depends on parameter values to plan well, it runs with a generic
 * plan (ServiceDb.queryGeneric), planned once per session: planning was half of the full statement's time.
 */
export const feedCachedCandidatesSql = `${candidatesHead}), similar_ids AS (
  SELECT s.id, s.score, (s.sources & 1) <> 0 AS ann, (s.sources & 2) <> 0 AS interest
  FROM (SELECT id, score, sources FROM cached_eligible ORDER BY rank LIMIT $3 + $12::int) s
${candidatesTail(
  similarFromCache('true'),
  'CASE WHEN (SELECT count(*) FROM cached_eligible) >= $3 THEN (SELECT count(*) FROM cached) ELSE 0 END',
  '(SELECT count(*) FROM cached_eligible) - $12::int',
  cacheAgeOf,
)}`;

/** The nearest-neighbour part alone, for EXPLAIN in tests: $1 vector literal, $2 limit. */
export const nearestListingsSql = `
SELECT l.id FROM marketplace_listings l
WHERE l.status = 'active'
ORDER BY l.embedding <=> $1::vector
LIMIT $2`;

/** similar listings: the active listings nearest to listing $1's embedding (ivfflat index), $2 of them. */
export const similarListingsSql = `
SELECT l.id, 1 - (l.embedding <=> (SELECT embedding FROM marketplace_listings WHERE id = $1)) AS score
FROM marketplace_listings l
WHERE l.status = 'active' AND l.id <> $1 AND l.embedding IS NOT NULL
  AND (SELECT embedding FROM marketplace_listings WHERE id = $1) IS NOT NULL
ORDER BY l.embedding <=> (SELECT embedding FROM marketplace_listings WHERE id = $1)
LIMIT $2`;

/** record feedback: $1 impression id (uuid), $2 reward (0..1); true when recorded (or the same reward again). */
export const recordLearningRewardSql = 'SELECT record_learning_reward($1::uuid, $2::float8) AS recorded';

/** hide listing: $1 listing id; the viewer (RLS identity) never sees it in the feed again. */
export const hideListingSql = 'SELECT hide_listing($1)';

/** learning policy report: IPS/SNIPS sums per policy, experiment arm and action since $1 (service path). */
export const policyReportSql = `
SELECT policy, experiment, arm, action, impressions::float8 AS impressions, rewarded::float8 AS rewarded,
       reward_sum, w_sum, wr_sum, w2_sum, w2r_sum, w2r2_sum
FROM learning_policy_report($1)`;

/**
 * The impressions insert (insertImpressionsSql) as CTEs, its rows' SELECT ending in `guard`. $1–$7 the
 * rows' columns as arrays (id, user_id, listing_id, policy, source, propensity, position), $8 their
 * contexts as one JSON array (row n's is element n − 1: one value to encode, where a jsonb[] needs each
 * JSON text quoted and escaped inside the array literal), $9 the viewer's id as text ('' for none).
 */
const identityAndInsert = (
  guard: string,
) => `identity AS MATERIALIZED (SELECT set_config('lodestar.user_id', $9, true)),
logged AS (
  INSERT INTO learning_events (id, user_id, listing_id, policy, source, propensity, position, context)
  SELECT u.id, u.user_id, u.listing_id, u.policy, u.source, u.propensity, u.position, $8::jsonb -> (u.n::int - 1)
  FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::float8[], $7::int[]) WITH ORDINALITY
         AS u(id, user_id, listing_id, policy, source, propensity, position, n),
       identity${guard}
)`;

/**
 * learning events: one batched insert per feed page, through the service role (insert-only; nobody
 * reads learning_events directly). Impression ids are made here, so no RETURNING (which would need
 * SELECT) is required. The statement first declares the viewer it writes for (transaction-local, and
 * the statement is its own transaction): the insert policy accepts only rows of that identity, never
 * with a reward. In the same statement it reads the served listings ($3) with their categories
 * (listingColumns): the candidate statement returns only what ranking needs, so a page's listings
 * cost no statement of their own. Only active ones: a listing taken down in the milliseconds since the
 * candidate statement checked it is left off the page (its impression is still logged).
 */
const insertImpressionsWith = (columns: string) => `
WITH ${identityAndInsert('')}
SELECT ${columns}
FROM marketplace_listings l JOIN categories cat ON cat.id = l.category_id
WHERE l.id = ANY($3::int[]) AND l.status = 'active'`;
export const insertImpressionsSql = insertImpressionsWith(listingColumns);

/**
 * kept candidates' exclusions: of the listings $10 (a viewer's candidates kept by the process,
 * src/feed/candidateMemory.ts), those the viewer may no longer be served — as the candidate statement
 * excludes them: no longer active (sold, deactivated, removed), liked or hidden by them, or served to them
 * in the last $11 or in this feed session $12 (by any gateway process; $11 reaches back to when they were
 * read, not the whole served window, which the read applied), or the viewer's own (a catalogue upsert
 * may change a listing's seller); and of the page's own listings $3, those gone. Status through
 * marketplace_listings_inactive_id_idx (a candidate still active is settled in that small index, with no
 * heap fetch: through the primary key the 240 lookups were most of the check), the viewer's own listings
 * through the seller index, the viewer's exclusions once ("hashed SubPlan"). The app never deletes a
 * listing (it changes status), so "gone" is checked for the page only (20 lookups): a page never serves
 * one. $9 the viewer's uuid as text.
 */
const keptExclusionsSql = `
SELECT k.id FROM unnest($10::int[]) AS k(id)
WHERE k.id IN (
     SELECT listing_id FROM likes WHERE user_id = $9::text::uuid
     UNION ALL SELECT listing_id FROM hidden_listings WHERE user_id = $9::text::uuid
     UNION ALL SELECT s.id FROM recently_served_listings($9::text::uuid, $11::interval, $12::text) AS s(id)
     UNION ALL SELECT l.id FROM marketplace_listings l WHERE l.id = ANY($10::int[]) AND l.status <> 'active'
     UNION ALL SELECT l.id FROM marketplace_listings l WHERE l.seller_id = $9::text::uuid)
UNION
SELECT p.id FROM unnest($3::int[]) AS p(id)
WHERE NOT EXISTS (SELECT 1 FROM marketplace_listings l WHERE l.id = p.id)`;

/**
 * checked impressions: a page ranked from kept candidates, logged only if none of them ($10) has become
 * ineligible since they were read (keptExclusionsSql) — the check and the insert in one statement, so
 * such a page is one round trip. `excluded` (on every row) is NULL when the page was logged; otherwise
 * the listings no longer eligible, and nothing was logged: the gateway ranks the page again without them
 * and logs it with insertImpressionsSql. Always at least one row (listing columns NULL when there are
 * none to return). Parameters as insertImpressionsSql's, then $10–$12 as keptExclusionsSql's.
 */
const insertCheckedImpressionsWith = (columns: string) => `
WITH excluded AS MATERIALIZED (${keptExclusionsSql}),
${identityAndInsert('\n  WHERE NOT EXISTS (SELECT 1 FROM excluded)')}
SELECT x.excluded, ${columns}
FROM (SELECT array_agg(id) AS excluded FROM excluded) x
LEFT JOIN (marketplace_listings l JOIN categories cat ON cat.id = l.category_id)
  ON x.excluded IS NULL AND l.id = ANY($3::int[]) AND l.status = 'active'`;
export const insertCheckedImpressionsSql = insertCheckedImpressionsWith(listingColumns);

/** A service-path statement and the name it is prepared under (ServiceDb.query's third argument). */
interface ServiceStatement {
  text: string;
  name: string;
}

/**
 * The impressions statements (insertImpressionsSql, insertCheckedImpressionsSql) by what they read of the
 * listings: `full` for a document that shows their descriptions, `brief` (descriptions NULL, as
 * listingColumnsWithoutDescription) for one that asks for none.
 */
export const impressionStatements: Record<
  'full' | 'brief',
  { insert: ServiceStatement; checked: ServiceStatement }
> = {
  full: {
    insert: { text: insertImpressionsSql, name: 'feed_impressions' },
    checked: { text: insertCheckedImpressionsSql, name: 'feed_impressions_checked' },
  },
  brief: {
    insert: { text: insertImpressionsWith(listingColumnsWithoutDescription), name: 'feed_impressions_brief' },
    checked: {
      text: insertCheckedImpressionsWith(listingColumnsWithoutDescription),
      name: 'feed_impressions_checked_brief',
    },
  },
};

/** experiment definition: the feed experiment's arms, read by the service path. */
export const experimentSql = `
SELECT key, description, arms, active, updated_at FROM experiments WHERE key = $1`;

/**
 * learning arm stats: rewards per source and category over the window (service path, aggregates only),
 * counting impressions shown at place $2 of their page or later (FEED_EXPLOIT_TOP_SLOTS: where the arms
 * compete).
 */
export const armStatsSql = `
SELECT source, category_id, sum(impressions)::float8 AS impressions, sum(rewards)::float8 AS rewards
FROM learning_arm_stats(now() - make_interval(days => $1), $2::int)
WHERE source IN ('SIMILAR', 'POPULAR', 'RECENT', 'EXPLORE')
GROUP BY source, category_id`;

/**
 * exploration sample: about $1 active listings drawn at random, for a process's EXPLORE pool
 * (src/feed/explorationSample.ts). TABLESAMPLE reads a share of the table's pages sized for four times $1
 * rows by the planner's estimate of the table, so the cost follows the sample, not the catalogue.
 */
export const explorationSampleSql = `
SELECT l.id FROM marketplace_listings l
  TABLESAMPLE SYSTEM ((SELECT least(100, 400.0 * $1 / greatest(1, reltuples))
                       FROM pg_class WHERE oid = 'marketplace_listings'::regclass))
WHERE l.status = 'active'
ORDER BY random() LIMIT $1`;

/**
 * category exploration sample: $2 active listings of category $1 at random, through the category's
 * index (its active listings only: a category is a small share of the table, which a page sample would
 * mostly miss).
 */
export const categoryExplorationSampleSql = `
SELECT l.id FROM marketplace_listings l
WHERE l.category_id = $1::int AND l.status = 'active'
ORDER BY random() LIMIT $2`;
