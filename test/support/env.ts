/** Where the tests find Postgres and Redis; CI uses the defaults on 127.0.0.1. */
export const testDatabaseAdminUrl =
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function databaseUrl(name: string): string {
  const url = new URL(testDatabaseAdminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
