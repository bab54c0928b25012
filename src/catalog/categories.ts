import type pg from 'pg';
import type { Category } from '../generated/prisma/client.js';
import { namedStatement, statementConfig } from '../platform/pool.js';

/** categories: every category by name (a public table: no RLS, so no identity to set). */
const categoriesSql = namedStatement(
  'categories',
  `SELECT id, slug, name, created_at FROM categories ORDER BY name, id`,
);

/** Every category, by name then id, as Prisma returns a Category. */
export async function readCategories(pool: pg.Pool): Promise<Category[]> {
  const { rows } = await pool.query<{ id: number; slug: string; name: string; created_at: Date }>(
    statementConfig(pool, categoriesSql, []),
  );
  return rows.map((row) => ({ id: row.id, slug: row.slug, name: row.name, createdAt: row.created_at }));
}
