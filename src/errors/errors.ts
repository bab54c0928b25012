import { GraphQLError } from 'graphql';

/** Stable `extensions.code` values clients may branch on (docs/architecture.md#errors). */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'TIMEOUT'
  | 'UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'QUERY_TOO_COMPLEX'
  | 'PAYLOAD_TOO_LARGE'
  | 'BAD_REQUEST'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_PROGRESS'
  // Trusted-documents mode (GRAPHQL_TRUSTED_DOCUMENTS): an id not in the manifest; a document sent as text.
  | 'TRUSTED_DOCUMENT_NOT_FOUND'
  | 'TRUSTED_DOCUMENTS_ONLY';

/** Codes whose message was written for the client; anything else is masked. */
export const publicErrorCodes: ReadonlySet<string> = new Set<ErrorCode>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'RATE_LIMITED',
  'TIMEOUT',
  'UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'QUERY_TOO_COMPLEX',
  'PAYLOAD_TOO_LARGE',
  'BAD_REQUEST',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_KEY_IN_PROGRESS',
  'TRUSTED_DOCUMENT_NOT_FOUND',
  'TRUSTED_DOCUMENTS_ONLY',
]);

/**
 * HTTP status for errors that reject a whole request before execution (Apollo reads extensions.http).
 * Errors of single fields keep the GraphQL convention of 200 with partial data.
 */
const httpStatus: Partial<Record<ErrorCode, number>> = {
  PAYLOAD_TOO_LARGE: 413,
  BAD_REQUEST: 400,
  QUERY_TOO_COMPLEX: 400,
  TRUSTED_DOCUMENT_NOT_FOUND: 400,
  TRUSTED_DOCUMENTS_ONLY: 400,
};

export function createError(
  code: ErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
): GraphQLError {
  const status = httpStatus[code];
  return new GraphQLError(message, {
    extensions: { code, ...extensions, ...(status ? { http: { status } } : {}) },
  });
}

export const createUnauthenticatedError = (message = 'a valid bearer token is required'): GraphQLError =>
  createError('UNAUTHENTICATED', message);

export const createForbiddenError = (message = 'you are not allowed to do this'): GraphQLError =>
  createError('FORBIDDEN', message);

export const createBadUserInputError = (message: string, field?: string): GraphQLError =>
  createError('BAD_USER_INPUT', message, field ? { field } : {});

export const createNotFoundError = (what: string, id: string | number): GraphQLError =>
  createError('NOT_FOUND', `${what} ${String(id)} was not found`);

/** How a refusal names a budget whose plural is not `${action}s`. */
const rateLimitNouns: Record<string, string> = {
  account: 'account deletion requests',
  admin: 'admin operations',
  catalog: 'catalogue batches',
  // addComment, deleteComment and reportProblem share it (src/social/budgets.ts).
  comment: 'comments or problem reports',
  feed: 'feed pages',
  feedback: 'feedback calls',
  read: 'requests',
};

/** 429 with Retry-After (whole seconds, at least 1), as well as `extensions.retryAfterMs`. */
export const createRateLimitedError = (retryAfterMs: number, action?: string): GraphQLError => {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const noun = action ? (rateLimitNouns[action] ?? `${action}s`) : 'requests';
  return new GraphQLError(`too many ${noun}; retry in ${seconds} s`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfterMs,
      ...(action ? { action } : {}),
      http: { status: 429, headers: new Map([['retry-after', String(seconds)]]) },
    },
  });
};

/** The key was used before with a different input (the IETF Idempotency-Key draft's 422). */
export const createIdempotencyKeyReusedError = (): GraphQLError =>
  new GraphQLError(
    'this idempotency key was already used with a different input; use a new key for a new request',
    {
      extensions: { code: 'IDEMPOTENCY_KEY_REUSED', http: { status: 422 } },
    },
  );

/** Another request with the same key is still running (the draft's 409). */
export const createIdempotencyKeyInProgressError = (): GraphQLError =>
  new GraphQLError('a request with this idempotency key is still in progress; retry shortly', {
    extensions: { code: 'IDEMPOTENCY_KEY_IN_PROGRESS', http: { status: 409 } },
  });

export const createTimeoutError = (message = 'the operation took too long and was cancelled'): GraphQLError =>
  createError('TIMEOUT', message);

/** How long a client should wait before retrying after UNAVAILABLE (the Retry-After header, in seconds). */
export const UNAVAILABLE_RETRY_AFTER_SEC = 2;

/**
 * A backing service (Postgres) is away: `extensions.retryAfterMs`; the HTTP layer adds `Retry-After`
 * (and answers 503 when nothing was served), see the Apollo plugin in src/server/apollo.ts.
 */
export const createUnavailableError = (
  message = 'a backing service is unavailable; try again shortly',
): GraphQLError => createError('UNAVAILABLE', message, { retryAfterMs: UNAVAILABLE_RETRY_AFTER_SEC * 1000 });

/** `catch (e)` gives `unknown`; coerce it once. */
export function coerceError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new Error(typeof error === 'string' ? error : JSON.stringify(error));
}
