import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLocalJwks, createTokenVerifier, type TokenVerifier } from '../../src/auth/verifyToken.js';
import type { Config } from '../../src/config/config.js';

const secret = 'verify-token-test-secret-0123456789-abcdef';
const otherSecret = 'another-secret-another-secret-0123456789';

const hsAuth: Config['auth'] = {
  jwtSecret: secret,
  jwksUrl: undefined,
  issuer: 'lodestar',
  audience: 'lodestar',
  serviceAudience: 'lodestar-service',
  clockToleranceSec: 30,
  roleCacheMs: 2000,
};

const now = (): number => Math.floor(Date.now() / 1000);

interface Craft {
  sub?: string;
  role?: unknown;
  issuer?: string;
  audience?: string;
  /** Absolute expiry (epoch seconds); one hour ahead by default. */
  exp?: number;
  alg?: string;
  key?: Uint8Array | CryptoKey;
  kid?: string;
}

/** Signs a token with every claim the verifier checks, each one overridable. */
async function craft(options: Craft = {}): Promise<string> {
  const payload: JWTPayload = {};
  if (options.role !== undefined) payload.role = options.role;
  const jwt = new SignJWT(payload)
    .setProtectedHeader({
      alg: options.alg ?? 'HS256',
      typ: 'JWT',
      ...(options.kid ? { kid: options.kid } : {}),
    })
    .setIssuer(options.issuer ?? 'lodestar')
    .setAudience(options.audience ?? 'lodestar')
    .setIssuedAt(now() - 120)
    .setExpirationTime(options.exp ?? now() + 3600);
  if (options.sub !== undefined) jwt.setSubject(options.sub);
  return jwt.sign(options.key ?? new TextEncoder().encode(secret));
}

/** Asserts that verification fails with a coded UNAUTHENTICATED GraphQLError; returns its message. */
async function rejection(verify: TokenVerifier, authorization: string): Promise<string> {
  let caught: unknown;
  try {
    await verify(authorization);
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected "${authorization.slice(0, 40)}" to be rejected`).toBeInstanceOf(GraphQLError);
  const error = caught as GraphQLError;
  expect(error.extensions.code).toBe('UNAUTHENTICATED');
  return error.message;
}

describe('createTokenVerifier with an HS256 secret', () => {
  const verify = createTokenVerifier(hsAuth);

  it('treats a request without an Authorization header as anonymous', async () => {
    expect(await verify(undefined)).toEqual({ role: 'anonymous', userId: null });
    expect(await verify('')).toEqual({ role: 'anonymous', userId: null });
  });

  it('accepts a valid user token and returns the user id from sub', async () => {
    const userId = randomUUID();
    const token = await craft({ sub: userId, role: 'user' });
    expect(await verify(`Bearer ${token}`)).toEqual({ role: 'person', userId });
  });

  it('lower-cases an upper-case uuid sub', async () => {
    const userId = randomUUID();
    const token = await craft({ sub: userId.toUpperCase(), role: 'user' });
    expect(await verify(`Bearer ${token}`)).toEqual({ role: 'person', userId });
  });

  it('ignores the role claim of a person token: admin is decided by profiles.role, not the token', async () => {
    const userId = randomUUID();
    const token = await craft({ sub: userId, role: 'admin' });
    expect(await verify(`Bearer ${token}`)).toEqual({ role: 'person', userId });
  });

  it('accepts a service-audience token with a non-uuid subject as a service caller', async () => {
    const token = await craft({ sub: 'worker-1', role: 'service', audience: 'lodestar-service' });
    expect(await verify(`Bearer ${token}`)).toEqual({ role: 'service', userId: null, subject: 'worker-1' });
    const noRole = await craft({ sub: 'worker-2', audience: 'lodestar-service' });
    expect(await verify(`Bearer ${noRole}`)).toEqual({ role: 'service', userId: null, subject: 'worker-2' });
  });

  it('never makes a service caller of a person-audience token with role "service"', async () => {
    const userId = randomUUID();
    const asPerson = await craft({ sub: userId, role: 'service' });
    expect(await verify(`Bearer ${asPerson}`)).toEqual({ role: 'person', userId });
    const oldStyle = await craft({ sub: 'worker-1', role: 'service' });
    expect(await rejection(verify, `Bearer ${oldStyle}`)).toMatch(/service-audience/);
  });

  it('refuses a service-audience token with a person role, or a token for both audiences', async () => {
    const admin = await craft({ sub: 'worker-1', role: 'admin', audience: 'lodestar-service' });
    expect(await rejection(verify, `Bearer ${admin}`)).toMatch(/service token/);
    const both = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(randomUUID())
      .setIssuer('lodestar')
      .setAudience(['lodestar', 'lodestar-service'])
      .setExpirationTime(now() + 3600)
      .sign(new TextEncoder().encode(secret));
    expect(await rejection(verify, `Bearer ${both}`)).toMatch(/not both/);
  });

  it('rejects a token that expired longer ago than the clock tolerance, saying it expired', async () => {
    const token = await craft({ sub: randomUUID(), role: 'user', exp: now() - 120 });
    expect(await rejection(verify, `Bearer ${token}`)).toMatch(/expired/);
  });

  it('still accepts a token that expired 10 s ago (inside the 30 s tolerance)', async () => {
    const userId = randomUUID();
    const token = await craft({ sub: userId, role: 'user', exp: now() - 10 });
    expect(await verify(`Bearer ${token}`)).toEqual({ role: 'person', userId });
  });

  it('rejects a token signed with another secret', async () => {
    const token = await craft({
      sub: randomUUID(),
      role: 'user',
      key: new TextEncoder().encode(otherSecret),
    });
    expect(await rejection(verify, `Bearer ${token}`)).toMatch(/signature/);
  });

  it('rejects a token for another audience', async () => {
    const token = await craft({ sub: randomUUID(), role: 'user', audience: 'someone-else' });
    expect(await rejection(verify, `Bearer ${token}`)).toMatch(/aud/);
  });

  it('rejects a token from another issuer', async () => {
    const token = await craft({ sub: randomUUID(), role: 'user', issuer: 'evil-issuer' });
    expect(await rejection(verify, `Bearer ${token}`)).toMatch(/iss/);
  });

  it('rejects an unsigned token (alg none)', async () => {
    const token = new UnsecuredJWT({ role: 'admin' })
      .setSubject(randomUUID())
      .setIssuer('lodestar')
      .setAudience('lodestar')
      .setIssuedAt()
      .setExpirationTime(now() + 3600)
      .encode();
    expect(token.endsWith('.')).toBe(true);
    await rejection(verify, `Bearer ${token}`);
  });

  it('rejects an HS512 token even when it is signed with the right secret', async () => {
    const token = await craft({ sub: randomUUID(), role: 'user', alg: 'HS512' });
    expect(await rejection(verify, `Bearer ${token}`)).toMatch(/algorithm/);
  });

  it.each(['Basic x', 'Bearer', 'Bearer ', 'Bearer a.b', 'bearer a.b.c.d', 'Token a.b.c'])(
    'rejects the malformed Authorization header %j',
    async (header) => {
      await rejection(verify, header);
    },
  );

  it('rejects a user token whose sub is not a uuid', async () => {
    const token = await craft({ sub: 'not-a-uuid', role: 'user' });
    expect(await rejection(verify, `Bearer ${token}`)).toMatch(/sub/);
  });

  it('rejects an admin token whose sub is not a uuid', async () => {
    const token = await craft({ sub: 'root', role: 'admin' });
    await rejection(verify, `Bearer ${token}`);
  });

  it('rejects a token with an unknown role claim', async () => {
    const token = await craft({ sub: randomUUID(), role: 'superuser' });
    expect(await rejection(verify, `Bearer ${token}`)).toMatch(/role/);
  });

  it('rejects a token whose role claim is not a string', async () => {
    const token = await craft({ sub: randomUUID(), role: ['admin'] });
    await rejection(verify, `Bearer ${token}`);
  });

  it('rejects a token without a sub claim', async () => {
    const token = await craft({ role: 'service' });
    await rejection(verify, `Bearer ${token}`);
  });

  it('rejects a token without an exp claim', async () => {
    const token = await new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(randomUUID())
      .setIssuer('lodestar')
      .setAudience('lodestar')
      .sign(new TextEncoder().encode(secret));
    await rejection(verify, `Bearer ${token}`);
  });

  describe('a token it verified before (remembered by its text)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('accepts it again until it expires (exp + the clock tolerance), then refuses it as expired', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const fresh = createTokenVerifier(hsAuth);
      const userId = randomUUID();
      const token = await craft({ sub: userId, exp: now() + 10 });
      const first = await fresh(`Bearer ${token}`);
      expect(first).toEqual({ role: 'person', userId });
      // The same object for every request that sends the token, so nobody may change it.
      expect(Object.isFrozen(first)).toBe(true);
      vi.setSystemTime(Date.now() + 39_000); // 10 s to exp + 30 s tolerance: still valid
      expect(await fresh(`Bearer ${token}`)).toEqual({ role: 'person', userId });
      vi.setSystemTime(Date.now() + 2_000);
      expect(await rejection(fresh, `Bearer ${token}`)).toMatch(/expired/);
    });

    it('checks it again after a minute at most, so a JWKS key withdrawn mid-life stops its tokens', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const { publicKey, privateKey } = await generateKeyPair('RS256');
      let keys: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] };
      const fresh = createTokenVerifier(
        { ...hsAuth, jwtSecret: undefined, jwksUrl: 'https://idp.example/jwks.json' },
        { jwks: (header, token) => createLocalJwks(keys)(header, token) },
      );
      const userId = randomUUID();
      const token = await craft({ sub: userId, alg: 'RS256', key: privateKey, kid: 'k1' });
      expect(await fresh(`Bearer ${token}`)).toEqual({ role: 'person', userId });
      keys = { keys: [] };
      // Remembered: the key set is not asked again within the minute.
      expect(await fresh(`Bearer ${token}`)).toEqual({ role: 'person', userId });
      vi.setSystemTime(Date.now() + 61_000);
      expect(await rejection(fresh, `Bearer ${token}`)).toMatch(/unknown key|could not be verified/);
    });

    it('does not remember a refusal: a bad signature is refused every time', async () => {
      const fresh = createTokenVerifier(hsAuth);
      const forged = await craft({ sub: randomUUID(), key: new TextEncoder().encode(otherSecret) });
      expect(await rejection(fresh, `Bearer ${forged}`)).toMatch(/signature/);
      expect(await rejection(fresh, `Bearer ${forged}`)).toMatch(/signature/);
    });
  });
});

describe('createTokenVerifier with a JWKS', () => {
  const jwksAuth: Config['auth'] = {
    ...hsAuth,
    jwtSecret: undefined,
    jwksUrl: 'https://idp.example/jwks.json',
  };
  let verify: TokenVerifier;
  let privateKey: CryptoKey;
  let strangerKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    const stranger = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    strangerKey = stranger.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
    verify = createTokenVerifier(jwksAuth, { jwks: createLocalJwks({ keys: [jwk] }) });
  });

  it('accepts an RS256 token signed with the key in the set', async () => {
    const userId = randomUUID();
    const token = await craft({ sub: userId, role: 'user', alg: 'RS256', key: privateKey, kid: 'key-1' });
    expect(await verify(`Bearer ${token}`)).toEqual({ role: 'person', userId });
  });

  it('accepts a matching RS256 token without a kid (the set has a single key)', async () => {
    const token = await craft({
      sub: 'worker-1',
      role: 'service',
      alg: 'RS256',
      key: privateKey,
      audience: 'lodestar-service',
    });
    expect(await verify(`Bearer ${token}`)).toEqual({ role: 'service', userId: null, subject: 'worker-1' });
  });

  it('rejects an RS256 token signed with another key that claims the same kid', async () => {
    const token = await craft({
      sub: randomUUID(),
      role: 'user',
      alg: 'RS256',
      key: strangerKey,
      kid: 'key-1',
    });
    await rejection(verify, `Bearer ${token}`);
  });

  it('rejects an RS256 token signed with a key the set does not know', async () => {
    const token = await craft({
      sub: randomUUID(),
      role: 'user',
      alg: 'RS256',
      key: strangerKey,
      kid: 'key-2',
    });
    await rejection(verify, `Bearer ${token}`);
  });

  it('rejects an HS256 token when only asymmetric keys are configured', async () => {
    const token = await craft({ sub: randomUUID(), role: 'admin' });
    await rejection(verify, `Bearer ${token}`);
  });

  it('still applies the audience check to JWKS-signed tokens', async () => {
    const token = await craft({
      sub: randomUUID(),
      role: 'user',
      alg: 'RS256',
      key: privateKey,
      kid: 'key-1',
      audience: 'other-api',
    });
    await rejection(verify, `Bearer ${token}`);
  });
});
