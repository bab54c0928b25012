import { SignJWT } from 'jose';
import type { Config } from '../config/config.js';

export interface TokenClaims {
  sub: string;
  role: 'user' | 'admin' | 'service';
}

/**
 * Signs an HS256 token the gateway accepts. For development tools, demo logins and tests; production
 * tokens come from the identity provider. A `service` token is issued for the service audience; any
 * other is a person's token, whose role claim the gateway ignores (profiles.role decides).
 */
export async function signToken(
  auth: Pick<Config['auth'], 'jwtSecret' | 'issuer' | 'audience' | 'serviceAudience'>,
  claims: TokenClaims,
  options: { expiresIn?: string | number } = {},
): Promise<string> {
  if (!auth.jwtSecret) throw new Error('signToken needs JWT_SECRET (HS256)');
  return new SignJWT({ role: claims.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(auth.issuer)
    .setAudience(claims.role === 'service' ? auth.serviceAudience : auth.audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(auth.jwtSecret));
}
