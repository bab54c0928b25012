import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Config } from '../config/config.js';
import { createUnauthenticatedError } from '../errors/errors.js';
import { anonymousViewer, type Viewer } from './viewer.js';
import { isUuid } from '../validation/isUuid.js';

const ROLES = new Set(['user', 'admin', 'service']);

export type TokenVerifier = (authorization: string | undefined) => Promise<Viewer>;

type KeySource = { kind: 'secret'; key: Uint8Array } | { kind: 'jwks'; getKey: JWTVerifyGetKey };

function keySource(auth: Config['auth']): KeySource {
  if (auth.jwtSecret) return { kind: 'secret', key: new TextEncoder().encode(auth.jwtSecret) };
  if (auth.jwksUrl) return { kind: 'jwks', getKey: createRemoteJWKSet(new URL(auth.jwksUrl)) };
  throw new Error('JWT_SECRET or JWT_JWKS_URL must be set');
}

function reasonFor(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return `the token's ${error.claim} claim is not accepted`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'the token was signed with an unknown key';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) {
    return 'the token is malformed';
  }
  return 'the token could not be verified';
}

function viewerFrom(payload: JWTPayload): Viewer {
  const role = payload.role ?? 'user';
  if (typeof role !== 'string' || !ROLES.has(role)) {
    throw createUnauthenticatedError('invalid token: the role claim must be user, admin or service');
  }
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0) {
    throw createUnauthenticatedError('invalid token: the sub claim is missing');
  }
  if (role === 'service') return { role: 'service', userId: null, subject: sub };
  if (!isUuid(sub)) throw createUnauthenticatedError('invalid token: the sub claim must be a user id (uuid)');
  return { role: role as 'user' | 'admin', userId: sub.toLowerCase() };
}

/**
 * Verifies `Authorization: Bearer <JWT>`: signature (HS256 secret or a JWKS), issuer, audience,
 * expiry with bounded clock skew. No header → anonymous; anything wrong with a token that was sent
 * → UNAUTHENTICATED, never anonymous.
 */
export function createTokenVerifier(
  auth: Config['auth'],
  options: { jwks?: JWTVerifyGetKey } = {},
): TokenVerifier {
  const source: KeySource = options.jwks ? { kind: 'jwks', getKey: options.jwks } : keySource(auth);
  const verifyOptions = {
    issuer: auth.issuer,
    audience: auth.audience,
    clockTolerance: auth.clockToleranceSec,
    requiredClaims: ['exp', 'sub'],
    algorithms:
      source.kind === 'secret' ? ['HS256'] : ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'EdDSA'],
  };
  return async (authorization) => {
    if (authorization === undefined || authorization.trim() === '') return anonymousViewer;
    const match = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)\s*$/i.exec(authorization);
    if (!match?.[1]) {
      throw createUnauthenticatedError('invalid Authorization header: expected "Bearer <JWT>"');
    }
    let payload: JWTPayload;
    try {
      const result =
        source.kind === 'secret'
          ? await jwtVerify(match[1], source.key, verifyOptions)
          : await jwtVerify(match[1], source.getKey, verifyOptions);
      payload = result.payload;
    } catch (error) {
      throw createUnauthenticatedError(`invalid token: ${reasonFor(error)}`);
    }
    return viewerFrom(payload);
  };
}

/** For tests and tools: a JWKS held in memory. */
export const createLocalJwks = createLocalJWKSet;
