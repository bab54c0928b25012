import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { databaseUrl, testDatabaseAdminUrl } from './env.js';

export interface TestDatabase {
  name: string;
  /** Owner URL (superuser in tests): migrations, fixtures, assertions past RLS. */
  url: string;
  /** URL that connects as the gateway role, lodestar_app, so RLS applies. */
  appUrl: string;
  /** Owner pool for fixtures and assertions. */
  pool: pg.Pool;
  drop: () => Promise<void>;
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: testDatabaseAdminUrl });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/** A fresh, randomly named database cloned from the migrated template; drop it in afterAll. */
export async function createTestDatabase(options: { template?: string | null } = {}): Promise<TestDatabase> {
  const name = `lodestar_t_${randomBytes(6).toString('hex')}`;
  const template = options.template === undefined ? inject('templateDatabase') : options.template;
  await withAdmin(async (admin) => {
    // Cloning needs the template free of connections; retry briefly if another file is cloning too.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await admin.query(
          template ? `CREATE DATABASE ${name} TEMPLATE ${template}` : `CREATE DATABASE ${name}`,
        );
        return;
      } catch (error) {
        if (attempt >= 20 || !String(error).includes('is being accessed by other users')) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 + attempt * 50));
      }
    }
  });
  const url = databaseUrl(name);
  const app = new URL(url);
  app.searchParams.set('options', '-c role=lodestar_app');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // pool.end() can return before its sockets close; DROP ... WITH (FORCE) then ends them (57P01).
  pool.on('error', () => undefined);
  return {
    name,
    url,
    appUrl: app.toString(),
    pool,
    drop: async () => {
      await pool.end();
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * Runs `fn` in one transaction as the gateway role with the given identity set transaction-locally,
 * exactly as the gateway does, then rolls back so the test's fixtures stay as they were.
 */
export async function asIdentity<T>(
  db: TestDatabase,
  identity: { userId?: string | null; role: 'anonymous' | 'user' | 'admin' | 'service' },
  fn: (client: pg.PoolClient) => Promise<T>,
  options: { commit?: boolean } = {},
): Promise<T> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL ROLE lodestar_app');
    await client.query(
      `SELECT set_config('lodestar.user_id', $1, true), set_config('lodestar.role', $2, true)`,
      [identity.userId ?? '', identity.role],
    );
    const result = await fn(client);
    await client.query(options.commit ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}
