import type { TestDatabase } from './db.js';

/** A LOGIN role that is only a member of lodestar_app: no superuser, no BYPASSRLS, owns nothing. */
export const gatewayLoginRole = 'lodestar_test_app_login';

/**
 * The URL a production gateway connects with: the test database as `gatewayLoginRole`, the kind of
 * login production runs with (a superuser login is for the migrator only). Roles are cluster-wide, so
 * the role is created once and shared by every file; creating it races safely.
 */
export async function gatewayLoginUrl(db: Pick<TestDatabase, 'url' | 'pool'>): Promise<string> {
  await db.pool.query(`
    DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${gatewayLoginRole}') THEN
        CREATE ROLE ${gatewayLoginRole} LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE lodestar_app;
      END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another test file created it at the same moment
    END $$`);
  const url = new URL(db.url);
  url.username = gatewayLoginRole;
  url.password = '';
  return url.toString();
}
