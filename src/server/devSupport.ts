import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { signToken } from '../auth/signToken.js';
import type { Config } from '../config/config.js';
import { seedDatabase } from '../db/seed/seedDatabase.js';
import type { Logger } from '../platform/logger.js';

/** The demo data set a newcomer gets on first start: a few hundred users, a few thousand listings. */
export const demoSeed = { users: 300, listings: 3000, interests: 120, categories: 12, seed: 42 } as const;

/**
 * Development without JWT_SECRET: a random secret kept beside the embedded data, so demo tokens keep
 * working across restarts. Never used in production (the config refuses to start without one there).
 */
export async function developmentJwtSecret(config: Config): Promise<string> {
  const file = path.resolve(config.database.embeddedDataDir, '..', 'dev-jwt-secret');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch {
    // Not there yet: create it below.
  }
  const secret = randomBytes(32).toString('base64url');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Loads the demo data into an empty database; a database with any profile is left alone. */
export async function seedDemoDataIfEmpty(url: string, logger: Logger): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  // A lost connection fails the statement in progress; the event itself must not end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    // demo seed: only a database without any user gets the demo data
    const { rows } = await client.query<{ empty: boolean }>(
      'SELECT NOT EXISTS (SELECT 1 FROM profiles) AS empty',
    );
    if (!rows[0]?.empty) return false;
    logger.info(demoSeed, 'empty database: loading the demo data set (once)');
    await seedDatabase(client, { ...demoSeed, asOf: new Date() }, (progress) =>
      logger.debug({ phase: progress.phase, ms: Math.round(progress.elapsedMs) }, 'seeding'),
    );
    return true;
  } finally {
    await client.end();
  }
}

export interface DemoTokens {
  user: string;
  admin: string;
}

/** Tokens for the seeded demo accounts (handles "demo" and "admin"), when they exist. */
export async function demoTokens(pool: pg.Pool, auth: Config['auth']): Promise<DemoTokens | undefined> {
  if (!auth.jwtSecret) return undefined;
  // demo tokens: the seeded demo accounts, read through the public projection
  const { rows } = await pool.query<{ handle: string; user_id: string }>(
    `SELECT handle, user_id FROM public_profiles WHERE handle IN ('demo', 'admin')`,
  );
  const user = rows.find((r) => r.handle === 'demo');
  const admin = rows.find((r) => r.handle === 'admin');
  if (!user || !admin) return undefined;
  const options = { expiresIn: '30d' };
  return {
    user: await signToken(auth, { sub: user.user_id, role: 'user' }, options),
    admin: await signToken(auth, { sub: admin.user_id, role: 'admin' }, options),
  };
}
