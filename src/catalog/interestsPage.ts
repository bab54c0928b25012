import type pg from 'pg';
import type { Category, Interest } from '../generated/prisma/client.js';
import { namedStatement, statementConfig, type NamedStatement } from '../platform/pool.js';
import { categoriesOf, type CategoryColumns } from './listingRows.js';

/**
 * interests page: one page of the interest catalogue, most popular first (ties by id), with each
 * interest's category, in one statement (the Interest type's `category` is then served from the primed
 * category loader). Keyset-paged on (popularity, id). interest_catalog and categories are public (the
 * read policy is `USING (true)`), so no identity is set: one round trip, no transaction.
 *
 * A named statement per shape (direction × search × cursor), each holding only the conditions it
 * needs, so every one has a plan that fits any parameter values and the server keeps a generic plan
 * after five executions. One statement with optional conditions (`$1 IS NULL OR …`) had to be planned
 * per call instead: parse and bind were 0.17 ms of the page's 0.4 ms in PostgreSQL. Parameters, in
 * this order, only those of the shape: the ILIKE pattern's inner text (LIKE wildcards already
 * escaped), the cursor's popularity and id, then the rows to read.
 */
function interestsPageSql(direction: 'forward' | 'backward', search: boolean, cursor: boolean): string {
  const conditions: string[] = [];
  const parameters: string[] = [];
  const parameter = (type: string) => `$${parameters.push(type)}::${type}`;
  if (search) conditions.push(`i.name ILIKE '%' || ${parameter('text')} || '%'`);
  if (cursor) {
    const [popularity, id] = [parameter('float8'), parameter('int')];
    conditions.push(
      direction === 'forward'
        ? `(i.popularity < ${popularity} OR (i.popularity = ${popularity} AND i.id > ${id}))`
        : `(i.popularity > ${popularity} OR (i.popularity = ${popularity} AND i.id < ${id}))`,
    );
  }
  const order = direction === 'forward' ? 'i.popularity DESC, i.id ASC' : 'i.popularity ASC, i.id DESC';
  return `
SELECT i.id, i.slug, i.name, i.category_id, i.popularity, i.created_at, i.source, i.external_id,
       cat.slug AS category_slug, cat.name AS category_name, cat.created_at AS category_created_at
FROM interest_catalog i
JOIN categories cat ON cat.id = i.category_id${conditions.length ? `\nWHERE ${conditions.join(' AND ')}` : ''}
ORDER BY ${order}
LIMIT ${parameter('int')}`;
}

/** The statement of each shape, by `direction:search:cursor`. */
const interestsPageStatements = new Map(
  (['forward', 'backward'] as const).flatMap((direction) =>
    [false, true].flatMap((search) =>
      [false, true].map((cursor) => {
        const name = `interests_page_${direction}${search ? '_search' : ''}${cursor ? '_after' : ''}`;
        return [
          `${direction}:${search}:${cursor}`,
          namedStatement(name, interestsPageSql(direction, search, cursor)),
        ] as const;
      }),
    ),
  ),
);

/** The statement for a page of this shape (exported for the plan tests). */
export function interestsPageStatement(
  direction: 'forward' | 'backward',
  search: boolean,
  cursor: boolean,
): NamedStatement {
  const statement = interestsPageStatements.get(`${direction}:${search}:${cursor}`);
  if (!statement) throw new Error(`no interests page statement for ${direction}`);
  return statement;
}

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
  const values: unknown[] = [];
  if (query.search !== null) values.push(likeEscape(query.search));
  if (query.cursor !== null) values.push(query.cursor[0], query.cursor[1]);
  values.push(query.take);
  const statement = interestsPageStatement(query.direction, query.search !== null, query.cursor !== null);
  const { rows } = await pool.query<InterestSqlRow>(statementConfig(pool, statement, values));
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
