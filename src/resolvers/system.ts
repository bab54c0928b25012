import type { Context } from '../context.js';
import { withClient } from '../db/checkout.js';
import { migrationStatus, type MigrationStatus } from '../db/migrator.js';

/** Which migrations the database has and which are pending (admin diagnostics). */
export async function schemaMigrations(ctx: Context): Promise<MigrationStatus> {
  return withClient(ctx.db.pool, (client) => migrationStatus(client));
}
