/**
 * The reads phase's operations: each read written twice, once for Lodestar's schema (schema.graphql)
 * and once for PostGraphile's generated one (pg-simplify-inflector names), asking for the same
 * columns, rows and order. A response counts only when it has no `errors` and the rows the operation
 * expects, so a failing query cannot look fast.
 */

export type Side = 'lodestar' | 'postgraphile';

/** What the operations rotate through, read from the bench database before the load. */
export interface ReadsInputs {
  /** Active listings (visible to anonymous viewers) with at least LISTING_COMMENTS visible comments. */
  listingIds: readonly number[];
  /** Handles of existing profiles. */
  handles: readonly string[];
  /** The interests search text and how many interests its page holds (min(page, matches)). */
  interestSearch: { text: string; pageRows: number };
  /** Rows of `categories`. */
  categories: number;
}

/** One side of an operation: the request body for the index-th request, and where its rows are. */
export interface SideRequest {
  query: string;
  variables: (index: number) => Record<string, unknown>;
  /** Path under `data` to the field whose rows are counted: an array counts its items, an object 1. */
  rowsAt: readonly string[];
}

export interface ReadOperation {
  name: string;
  /** What is read, in words, for the report. */
  description: string;
  expectedRows: number;
  sides: Record<Side, SideRequest>;
}

export const LISTINGS_PAGE = 20;
export const INTERESTS_PAGE = 20;
/** The latest comments "one listing" reads, with their authors' handles. */
export const LISTING_COMMENTS = 10;

const at = <T>(list: readonly T[], index: number): T => {
  const value = list[index % list.length];
  if (value === undefined) throw new Error('an operation rotates through an empty list');
  return value;
};

const none = () => ({});

export function readOperations(inputs: ReadsInputs): ReadOperation[] {
  const listingFields = 'id title price category { name } seller { handle }';
  const oneListingFields =
    'id title price likeCount commentCount createdAt category { name } seller { handle displayName }';
  const commentFields = 'id body createdAt author { handle }';
  const interestFields = 'id name slug popularity category { name }';
  const search = JSON.stringify(inputs.interestSearch.text);
  return [
    {
      name: 'listings page',
      description: `${LISTINGS_PAGE} active listings, newest first, with category name and seller handle`,
      expectedRows: LISTINGS_PAGE,
      sides: {
        lodestar: {
          query: `{ listings(first: ${LISTINGS_PAGE}) { edges { node { ${listingFields} } } } }`,
          variables: none,
          rowsAt: ['listings', 'edges'],
        },
        postgraphile: {
          query:
            `{ marketplaceListings(first: ${LISTINGS_PAGE}, orderBy: [ID_DESC], condition: { status: "active" }) ` +
            `{ nodes { ${listingFields} } } }`,
          variables: none,
          rowsAt: ['marketplaceListings', 'nodes'],
        },
      },
    },
    {
      name: 'one listing',
      description: `a listing by id with seller, category, like/comment counts and its ${LISTING_COMMENTS} latest comments with their authors`,
      // The comments are counted: a listing that is missing has none, so it fails too.
      expectedRows: LISTING_COMMENTS,
      sides: {
        lodestar: {
          query:
            `query ($id: ID!) { listing(id: $id) { ${oneListingFields} ` +
            `comments(first: ${LISTING_COMMENTS}) { ${commentFields} } } }`,
          variables: (i) => ({ id: String(at(inputs.listingIds, i)) }),
          rowsAt: ['listing', 'comments'],
        },
        postgraphile: {
          // The public_comments back-relation (smart tags in bench/peer/server.js), newest first.
          query:
            `query ($id: Int!) { marketplaceListing(id: $id) { ${oneListingFields} ` +
            `comments(first: ${LISTING_COMMENTS}, orderBy: [CREATED_AT_DESC, ID_DESC]) { nodes { ${commentFields} } } } }`,
          variables: (i) => ({ id: at(inputs.listingIds, i) }),
          rowsAt: ['marketplaceListing', 'comments', 'nodes'],
        },
      },
    },
    {
      name: 'profile',
      description: 'a public profile by handle with follower and following counts',
      expectedRows: 1,
      sides: {
        lodestar: {
          query:
            'query ($handle: String!) { profile(handle: $handle) ' +
            '{ handle displayName followerCount followingCount createdAt } }',
          variables: (i) => ({ handle: at(inputs.handles, i) }),
          rowsAt: ['profile'],
        },
        postgraphile: {
          query:
            'query ($handle: String!) { publicProfileByHandle(handle: $handle) ' +
            '{ handle displayName followerCount followingCount createdAt } }',
          variables: (i) => ({ handle: at(inputs.handles, i) }),
          rowsAt: ['publicProfileByHandle'],
        },
      },
    },
    {
      name: 'interests search',
      description: `${INTERESTS_PAGE} interests whose name contains ${search}, most popular first, with category`,
      expectedRows: inputs.interestSearch.pageRows,
      sides: {
        lodestar: {
          query: `{ interests(search: ${search}, first: ${INTERESTS_PAGE}) { edges { node { ${interestFields} } } } }`,
          variables: none,
          rowsAt: ['interests', 'edges'],
        },
        postgraphile: {
          query:
            `{ interestCatalogs(first: ${INTERESTS_PAGE}, orderBy: [POPULARITY_DESC, ID_ASC], ` +
            `condition: { nameContains: ${search} }) { nodes { ${interestFields} } } }`,
          variables: none,
          rowsAt: ['interestCatalogs', 'nodes'],
        },
      },
    },
    {
      name: 'categories',
      description: 'every category by name',
      expectedRows: inputs.categories,
      sides: {
        lodestar: { query: '{ categories { id name slug } }', variables: none, rowsAt: ['categories'] },
        postgraphile: {
          query: '{ categories(orderBy: [NAME_ASC]) { nodes { id name slug } } }',
          variables: none,
          rowsAt: ['categories', 'nodes'],
        },
      },
    },
  ];
}

/**
 * The rows of a GraphQL response at `rowsAt` under `data`: an array's length, 1 for an object, 0 for
 * null. Throws on `errors`, on a response without `data`, and on a path that is not there.
 */
export function countRows(text: string, rowsAt: readonly string[]): number {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`not JSON: ${text.slice(0, 200)}`);
  }
  if (typeof body !== 'object' || body === null)
    throw new Error(`not a GraphQL response: ${text.slice(0, 200)}`);
  const { data, errors } = body as { data?: unknown; errors?: unknown };
  if (errors !== undefined) throw new Error(`GraphQL errors: ${text.slice(0, 300)}`);
  let value: unknown = data;
  for (const key of rowsAt) {
    if (typeof value !== 'object' || value === null || !(key in value)) {
      throw new Error(`no ${rowsAt.join('.')} in the response: ${text.slice(0, 200)}`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  if (Array.isArray(value)) return value.length;
  return value === null ? 0 : 1;
}

/** Throws unless the response has exactly the rows the operation expects. */
export function checkRows(text: string, operation: ReadOperation, side: Side): void {
  const rows = countRows(text, operation.sides[side].rowsAt);
  if (rows !== operation.expectedRows) {
    throw new Error(
      `${operation.name} on ${side}: expected ${operation.expectedRows} row(s), got ${rows}: ${text.slice(0, 200)}`,
    );
  }
}
