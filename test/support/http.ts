import type { TestGateway } from './gateway.js';
import { sourceOf, type Operation } from './graphql.js';
import { insertCategory, insertListing, insertProfile, type Queryable } from './fixtures.js';

/** One error in a GraphQL-shaped JSON body. */
export interface GraphQLErrorJson {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/** A GraphQL-shaped JSON body (successful or not). */
export interface GraphQLBody<T> {
  data?: T | null;
  errors?: GraphQLErrorJson[];
}

export interface HttpResult<T> {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** The raw response text, for assertions about what must never leak. */
  raw: string;
  body: GraphQLBody<T>;
}

/** Parses a response body as JSON, failing the test with the raw text when it is not JSON. */
export function parseJson<T>(raw: string): T {
  try {
    return JSON.parse(raw) as T;
  } catch {
    throw new Error(`expected a JSON body, got: ${raw.slice(0, 300)}`);
  }
}

export interface PostOptions {
  variables?: Record<string, unknown>;
  operationName?: string;
  token?: string;
  /** Sent verbatim as the Authorization header (overrides `token`). */
  authorization?: string;
  headers?: Record<string, string>;
}

/** POSTs a GraphQL operation as JSON through the real Fastify app. */
export async function postGraphQL<T = Record<string, unknown>>(
  gateway: Pick<TestGateway, 'app'>,
  query: Operation<T>,
  options: PostOptions = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const payload: Record<string, unknown> = { query: sourceOf(query) };
  if (options.variables) payload.variables = options.variables;
  if (options.operationName) payload.operationName = options.operationName;
  const response = await gateway.app.inject({
    method: 'POST',
    url: '/graphql',
    headers,
    payload: JSON.stringify(payload),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    raw: response.body,
    body: parseJson<GraphQLBody<T>>(response.body),
  };
}

/** The extensions.code of the first error, or undefined. */
export function firstCode(body: GraphQLBody<unknown>): string | undefined {
  return body.errors?.[0]?.extensions?.code;
}

export interface HttpFixtures {
  categoryId: number;
  categorySlug: string;
  listingIds: number[];
  userId: string;
  userHandle: string;
  adminId: string;
  adminHandle: string;
}

/** A category, three active listings, one user and one admin profile. */
export async function seedHttpFixtures(q: Queryable, suffix: string): Promise<HttpFixtures> {
  const categorySlug = `cat-${suffix}`;
  const categoryId = await insertCategory(q, categorySlug);
  const listingIds = [
    await insertListing(q, { categoryId, title: 'First listing' }),
    await insertListing(q, { categoryId, title: 'Second listing' }),
    await insertListing(q, { categoryId, title: 'Third listing' }),
  ];
  const userHandle = `user_${suffix}`;
  const adminHandle = `admin_${suffix}`;
  const userId = await insertProfile(q, { handle: userHandle, role: 'user' });
  const adminId = await insertProfile(q, { handle: adminHandle, role: 'admin' });
  return { categoryId, categorySlug, listingIds, userId, userHandle, adminId, adminHandle };
}

/** Reads one sample of a Prometheus counter from the exposition text (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (Object.keys(labels).length === 0 && line.startsWith(`${name} `)) {
      return Number(line.slice(name.length + 1).trim());
    }
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf('}');
    const labelText = line.slice(name.length + 1, close);
    const found: Record<string, string> = {};
    for (const m of labelText.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (m[1] !== undefined && m[2] !== undefined) found[m[1]] = m[2];
    }
    const matches = Object.entries(labels).every(([key, value]) => found[key] === value);
    if (matches && Object.keys(found).length === Object.keys(labels).length) {
      return Number(line.slice(close + 1).trim());
    }
  }
  return 0;
}
