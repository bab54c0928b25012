import type { Context } from '../context.js';
import { migrationStatus, type MigrationStatus } from '../db/migrator.js';

/** Which migrations the database has and which are pending (admin diagnostics). */
export async function schemaMigrations(ctx: Context): Promise<MigrationStatus> {
  const client = await ctx.db.pool.connect();
  try {
    return await migrationStatus(client);
  } finally {
    client.release();
  }
}
