import type pg from 'pg';
import { SeedError } from './SeedError.js';

/*
 * Triggers switched off for the load, inside the seeding transaction so nobody else ever sees
 * them off: the counters they maintain are inserted exact already, and profiles_set_updated_at
 * would stamp the wall clock on every profile when embeddings are set, breaking reproducibility.
 */
const SUSPENDED_TRIGGERS: readonly (readonly [table: string, trigger: string])[] = [
  ['likes', 'likes_count'],
  ['comments', 'comments_count'],
  ['follows', 'follows_count'],
  ['profiles', 'profiles_set_updated_at'],
];

export interface SuspendedTriggers {
  /** True when foreign keys were not checked row by row and must be verified before commit. */
  foreignKeysSkipped: boolean;
}

async function setTriggers(client: pg.ClientBase, verb: 'ENABLE' | 'DISABLE'): Promise<void> {
  for (const [table, trigger] of SUSPENDED_TRIGGERS) {
    try {
      await client.query(`ALTER TABLE ${table} ${verb} TRIGGER ${trigger}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/must be owner/.test(message)) {
        throw new SeedError(
          `the seeder must connect as the role that owns the tables (the migration role): ${message}`,
        );
      }
      throw error;
    }
  }
}

/**
 * Also skips per-row foreign-key checks when the role may (superuser: session_replication_role
 * = replica). Those checks are an SPI query per key — over a million for the 100k-listing data
 * set, ~20 s of the load — and verifyForeignKeys re-checks everything set-based in ~1 s.
 */
export async function suspendTriggers(client: pg.ClientBase): Promise<SuspendedTriggers> {
  await setTriggers(client, 'DISABLE');
  const { rows } = await client.query<{ superuser: boolean }>(
    `SELECT current_setting('is_superuser') = 'on' AS superuser`,
  );
  const foreignKeysSkipped = rows[0]?.superuser === true;
  if (foreignKeysSkipped) await client.query(`SET LOCAL session_replication_role = replica`);
  return { foreignKeysSkipped };
}

export async function resumeTriggers(client: pg.ClientBase, suspended: SuspendedTriggers): Promise<void> {
  if (suspended.foreignKeysSkipped) await client.query(`SET LOCAL session_replication_role = origin`);
  await setTriggers(client, 'ENABLE');
}
