import { webcrypto } from 'node:crypto';
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
import { anonymousViewer, type AnonymousViewer, type ServiceViewer } from './viewer.js';
import { isUuid } from '../validation/isUuid.js';
import { setBounded } from '../platform/boundedMap.js';

/** Most distinct verified tokens a process remembers, and for how long at most (see createTokenVerifier). */
const VERIFIED_MAX = 10_000;
const VERIFIED_TTL_MS = 60_000;

/**
 * What a verified token says about its bearer, before the database is asked. A person's role is NOT
 * here: the token's role claim is ignored and the effective role comes from profiles.role
 * (src/auth/effectiveRole.ts). A service caller is a token issued for the service audience.
 */
export type TokenIdentity = AnonymousViewer | ServiceViewer | PersonClaim;

/** A token for the user audience: a person whose role is still to be read from the database. */
export interface PersonClaim {
  role: 'person';
  userId: string;
}

export type TokenVerifier = (authorization: string | undefined) => Promise<TokenIdentity>;

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

/** Role claims a token may carry; well-formed or refused, but never what decides a person's role. */
const ROLE_CLAIMS = new Set(['user', 'admin', 'service']);

function audiencesOf(payload: JWTPayload): string[] {
  if (typeof payload.aud === 'string') return [payload.aud];
  return Array.isArray(payload.aud) ? payload.aud : [];
}

function identityFrom(payload: JWTPayload, auth: Config['auth']): TokenIdentity {
  const sub = payload.sub;
  if (typeof sub !== 'string' || sub.length === 0) {
    throw createUnauthenticatedError('invalid token: the sub claim is missing');
  }
  if (payload.role !== undefined && (typeof payload.role !== 'string' || !ROLE_CLAIMS.has(payload.role))) {
    throw createUnauthenticatedError('invalid token: the role claim must be user, admin or service');
  }
  const audiences = audiencesOf(payload);
  const forService = audiences.includes(auth.serviceAudience);
  if (forService && audiences.includes(auth.audience)) {
    throw createUnauthenticatedError('invalid token: a token is for people or for services, not both');
  }
  if (forService) {
    // The service audience is what makes a service caller; a role claim, if any, must agree.
    if (payload.role !== undefined && payload.role !== 'service') {
      throw createUnauthenticatedError('invalid token: a service token cannot carry a person role');
    }
    return { role: 'service', userId: null, subject: sub };
  }
  // A token for people: its role claim (user, admin, even service) grants nothing.
  if (!isUuid(sub)) {
    throw createUnauthenticatedError(
      'invalid token: the sub claim must be a user id (uuid); service callers need a service-audience token',
    );
  }
  return { role: 'person', userId: sub.toLowerCase() };
}

/**
 * Verifies `Authorization: Bearer <JWT>`: signature (HS256 secret or a JWKS), issuer, audience (the
 * user audience or the service audience), expiry with bounded clock skew. No header → anonymous; anything wrong with a token that was sent
 * → UNAUTHENTICATED, never anonymous.
 */
export function createTokenVerifier(
  auth: Config['auth'],
  options: { jwks?: JWTVerifyGetKey } = {},
): TokenVerifier {
  const source: KeySource = options.jwks ? { kind: 'jwks', getKey: options.jwks } : keySource(auth);
  const verifyOptions = {
    issuer: auth.issuer,
    audience: [auth.audience, auth.serviceAudience],
    clockTolerance: auth.clockToleranceSec,
    requiredClaims: ['exp', 'sub'],
    algorithms:
      source.kind === 'secret' ? ['HS256'] : ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'EdDSA'],
  };
  // The HS256 secret imported once (jose would import a raw key again for every token).
  let secretKey: Promise<webcrypto.CryptoKey> | undefined;
  const hmacKey = (raw: Uint8Array) =>
    (secretKey ??= webcrypto.subtle
      .importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
      .catch((error: unknown) => {
        secretKey = undefined; // tried again by the next token, not failed for good
        throw error;
      }));
  // A client sends the same token with every request: one that verified is trusted again, by its exact
  // text, until it expires (exp + the clock tolerance) or for VERIFIED_TTL_MS at most, so a JWKS key
  // withdrawn mid-life stops its tokens within that time. Refusals are not remembered.
  const verified = new Map<string, { identity: TokenIdentity; untilMs: number }>();
  return async (authorization) => {
    if (authorization === undefined || authorization.trim() === '') return anonymousViewer;
    const match = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)\s*$/i.exec(authorization);
    const token = match?.[1];
    if (!token) {
      throw createUnauthenticatedError('invalid Authorization header: expected "Bearer <JWT>"');
    }
    const nowMs = Date.now();
    const known = verified.get(token);
    if (known !== undefined && known.untilMs > nowMs) return known.identity;
    let payload: JWTPayload;
    try {
      const result =
        source.kind === 'secret'
          ? await jwtVerify(token, await hmacKey(source.key), verifyOptions)
          : await jwtVerify(token, source.getKey, verifyOptions);
      payload = result.payload;
    } catch (error) {
      throw createUnauthenticatedError(`invalid token: ${reasonFor(error)}`);
    }
    // Frozen: a remembered identity is the same object in every request that sends the token.
    const identity = Object.freeze(identityFrom(payload, auth));
    // exp is a required claim, so jwtVerify has checked it is a number.
    const expiresMs = ((payload.exp ?? 0) + auth.clockToleranceSec) * 1000;
    setBounded(
      verified,
      token,
      { identity, untilMs: Math.min(expiresMs, nowMs + VERIFIED_TTL_MS) },
      VERIFIED_MAX,
    );
    return identity;
  };
}

/** For tests and tools: a JWKS held in memory. */
export const createLocalJwks = createLocalJWKSet;
