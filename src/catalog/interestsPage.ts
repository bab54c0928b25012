import type pg from 'pg';
import type { Category, Interest } from '../generated/prisma/client.js';
import { categoriesOf, type CategoryColumns } from './listingRows.js';

/**
 * interests page: one page of the interest catalogue, most popular first (ties by id), with each
 * interest's category, in one statement (the Interest type's `category` is then served from the primed
 * category loader). Keyset-paged on (popularity, id). interest_catalog and categories are public (the
 * read policy is `USING (true)`), so no identity is set: one round trip, no transaction.
 *   $1 the ILIKE pattern's inner text (LIKE wildcards already escaped) or NULL for every interest
 *   $2 the cursor's popularity or NULL   $3 the cursor's id   $4 rows to read
 */
function interestsPageSql(direction: 'forward' | 'backward'): string {
  const [after, order] =
    direction === 'forward'
      ? [
          'i.popularity < $2::float8 OR (i.popularity = $2::float8 AND i.id > $3::int)',
          'i.popularity DESC, i.id ASC',
        ]
      : [
          'i.popularity > $2::float8 OR (i.popularity = $2::float8 AND i.id < $3::int)',
          'i.popularity ASC, i.id DESC',
        ];
  return `
SELECT i.id, i.slug, i.name, i.category_id, i.popularity, i.created_at, i.source, i.external_id,
       cat.slug AS category_slug, cat.name AS category_name, cat.created_at AS category_created_at
FROM interest_catalog i
JOIN categories cat ON cat.id = i.category_id
WHERE ($1::text IS NULL OR i.name ILIKE '%' || $1::text || '%')
  AND ($2::float8 IS NULL OR ${after})
ORDER BY ${order}
LIMIT $4`;
}

// Unnamed (planned per call): the optional search and cursor conditions are only index-friendly in a
// plan made for the actual parameters.
const forwardSql = interestsPageSql('forward');
const backwardSql = interestsPageSql('backward');

interface InterestSqlRow extends CategoryColumns {
  id: number;
  slug: string;
  name: string;
  category_id: number;
  popularity: number;
  created_at: Date;
  source: string | null;
  external_id: string | null;
}

export interface InterestsPageQuery {
  /** Matched anywhere in the name, case-insensitively; LIKE wildcards in it are matched literally. */
  search: string | null;
  /** forward: most popular first, after the cursor; backward: least popular first, before it. */
  direction: 'forward' | 'backward';
  cursor: readonly [popularity: number, id: number] | null;
  take: number;
}

export interface InterestsPage {
  /** As Prisma returns an Interest (its vector column is never read by the API). */
  interests: Interest[];
  categories: Category[];
}

/** A search text as the inner part of an ILIKE pattern: `\`, `%` and `_` match themselves. */
export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

export async function readInterestsPage(pool: pg.Pool, query: InterestsPageQuery): Promise<InterestsPage> {
  const { rows } = await pool.query<InterestSqlRow>(
    query.direction === 'forward' ? forwardSql : backwardSql,
    [
      query.search === null ? null : likeEscape(query.search),
      query.cursor?.[0] ?? null,
      query.cursor?.[1] ?? null,
      query.take,
    ],
  );
  const interests = rows.map((row): Interest => ({
    id: row.id,
    slug: row.slug,
    name: row.name,
    categoryId: row.category_id,
    popularity: row.popularity,
    createdAt: row.created_at,
    source: row.source,
    externalId: row.external_id,
  }));
  return { interests, categories: categoriesOf(rows) };
}
