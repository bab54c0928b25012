import { withClient } from '../db/checkout.js';
import type { Database } from '../db/database.js';
import { isConnectionError } from '../errors/databaseErrors.js';
import { migrationStatus } from '../db/migrator.js';
import { redisState, type RedisState, type RedisClient } from '../platform/redis.js';

export interface ReadinessReport {
  ready: boolean;
  /** ok; degraded = serving, but Redis is configured and down (features from Postgres, arms from the hash); unavailable = not ready. */
  status: 'ok' | 'degraded' | 'unavailable';
  postgres: { reachable: boolean; migrated: boolean; pendingMigrations: string[]; error?: string };
  redis: RedisState;
}

/** Ready = Postgres reachable and fully migrated. Redis is reported, never required (degraded mode). */
export async function readiness(db: Database, redis: RedisClient | null): Promise<ReadinessReport> {
  const [postgres, redisReport] = await Promise.all([postgresReadiness(db), redisState(redis)]);
  const ready = postgres.reachable && postgres.migrated;
  return {
    ready,
    status: !ready ? 'unavailable' : redisReport === 'down' ? 'degraded' : 'ok',
    postgres,
    redis: redisReport,
  };
}

async function postgresReadiness(db: Database): Promise<ReadinessReport['postgres']> {
  try {
    return await withClient(db.pool, async (client) => {
      try {
        const { pending } = await migrationStatus(client);
        return { reachable: true, migrated: pending.length === 0, pendingMigrations: pending };
      } catch (error) {
        if (isConnectionError(error)) throw error;
        // A failed or edited migration: not ready. The details are for operators (db:migrate says
        // them), not for an unauthenticated probe.
        return {
          reachable: true,
          migrated: false,
          pendingMigrations: [],
          error: 'the migration history does not match this build; run npm run db:migrate for details',
        };
      }
    });
  } catch {
    // Could not check out a client, or its connection died while we asked (Postgres going away).
    return { reachable: false, migrated: false, pendingMigrations: [], error: 'cannot connect to Postgres' };
  }
}
