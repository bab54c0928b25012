import { SignJWT } from 'jose';
import type { Config } from '../config/config.js';

export interface TokenClaims {
  sub: string;
  role: 'user' | 'admin' | 'service';
}

/**
 * Signs an HS256 token the gateway accepts. For development tools, demo logins and tests; production
 * tokens come from the identity provider.
 */
export async function signToken(
  auth: Pick<Config['auth'], 'jwtSecret' | 'issuer' | 'audience'>,
  claims: TokenClaims,
  options: { expiresIn?: string | number } = {},
): Promise<string> {
  if (!auth.jwtSecret) throw new Error('signToken needs JWT_SECRET (HS256)');
  return new SignJWT({ role: claims.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(auth.issuer)
    .setAudience(auth.audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(auth.jwtSecret));
}
