import type { FastifyReply } from 'fastify';
import type { GraphQLError } from 'graphql';
import {
  createError,
  publicErrorCodes,
  UNAVAILABLE_RETRY_AFTER_SEC,
  type ErrorCode,
} from '../errors/errors.js';

/** Errors outside GraphQL execution still get a GraphQL-shaped JSON body, never HTML. */
export function sendGraphQLError(
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
): FastifyReply {
  const error = createError(code, message);
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send({ errors: [{ message: error.message, extensions: { code, ...extensions } }] });
}

/** The HTTP status of a public error answered outside GraphQL execution, when the error names none. */
const statusOfCode: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  TIMEOUT: 504,
  UNAVAILABLE: 503,
};

/**
 * Sends an error of the errors module (src/errors/errors.ts) as a whole response: its code and
 * extensions, its HTTP status and headers (`extensions.http`, e.g. 429 with Retry-After), UNAVAILABLE
 * as 503 with Retry-After. Codes outside the public set are answered as an internal error.
 */
export function sendPublicError(reply: FastifyReply, error: GraphQLError): FastifyReply {
  const { code, http, ...extensions } = error.extensions;
  const known = typeof code === 'string' && publicErrorCodes.has(code);
  if (!known) return sendGraphQLError(reply, 500, 'INTERNAL_SERVER_ERROR', 'internal server error');
  const publicCode = code as ErrorCode;
  const answer = (http ?? {}) as { status?: number; headers?: Map<string, string> };
  for (const [name, value] of answer.headers ?? []) void reply.header(name, value);
  if (publicCode === 'UNAVAILABLE') void reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SEC));
  const status = answer.status ?? statusOfCode[publicCode] ?? 400;
  return sendGraphQLError(reply, status, publicCode, error.message, extensions);
}
