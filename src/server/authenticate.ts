import type { FastifyReply, FastifyRequest } from 'fastify';
import { roleErrorStatus, type RoleResolver } from '../auth/effectiveRole.js';
import type { TokenIdentity, TokenVerifier } from '../auth/verifyToken.js';
import type { Viewer } from '../auth/viewer.js';
import { UNAVAILABLE_RETRY_AFTER_SEC } from '../errors/errors.js';
import type { Telemetry } from '../ops/telemetry.js';
import { sendGraphQLError } from './errorReply.js';

/**
 * Who sent a request: the viewer, or null once the refusal has been sent (return the reply then). No
 * Authorization header is the anonymous viewer; a token that does not verify is 401, never anonymous.
 */
export type Authenticate = (request: FastifyRequest, reply: FastifyReply) => Promise<Viewer | null>;

/**
 * The bearer token check every authenticated route shares (/graphql, /privacy/export): the token's
 * signature and claims, then the person's effective role from profiles.role (docs/security.md). A
 * token for no (or a deleted) profile is 401; a role that cannot be read is 503 with Retry-After.
 */
export function createAuthenticate(deps: {
  verifyToken: TokenVerifier;
  roles: Pick<RoleResolver, 'effectiveViewer'>;
  telemetry: Pick<Telemetry, 'recordKernel'>;
}): Authenticate {
  const { verifyToken, roles, telemetry } = deps;
  return async (request, reply) => {
    const started = performance.now();
    const hasToken = request.headers.authorization !== undefined;
    let ok = true;
    try {
      let identity: TokenIdentity;
      try {
        identity = await verifyToken(request.headers.authorization);
      } catch (error) {
        const message = error instanceof Error ? error.message : 'invalid token';
        sendGraphQLError(reply.header('www-authenticate', 'Bearer'), 401, 'UNAUTHENTICATED', message);
        return null;
      }
      try {
        return await roles.effectiveViewer(identity);
      } catch (error) {
        const refusal = roleErrorStatus(error);
        if (refusal?.code === 'UNAUTHENTICATED') {
          const message = error instanceof Error ? error.message : 'invalid token';
          sendGraphQLError(reply.header('www-authenticate', 'Bearer'), 401, refusal.code, message);
          return null;
        }
        ok = false;
        if (refusal?.code === 'UNAVAILABLE') {
          sendGraphQLError(
            reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SEC)),
            503,
            refusal.code,
            error instanceof Error ? error.message : 'the database is unavailable; try again shortly',
            { retryAfterMs: UNAVAILABLE_RETRY_AFTER_SEC * 1000 },
          );
          return null;
        }
        request.log.error({ err: error, reqId: request.id }, 'role lookup failed');
        sendGraphQLError(reply, 500, 'INTERNAL_SERVER_ERROR', 'internal server error');
        return null;
      }
    } finally {
      // A refused token is the caller's problem, not a failure of the auth kernel; a failed role
      // lookup is the kernel's.
      if (hasToken) telemetry.recordKernel('auth', performance.now() - started, ok);
    }
  };
}
