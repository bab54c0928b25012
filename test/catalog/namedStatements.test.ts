import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pageStatements } from '../../src/catalog/listingsPage.js';
import { interestsPageStatement } from '../../src/catalog/interestsPage.js';
import { withClient } from '../../src/db/checkout.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

/**
 * The gateway sends its hot reads as named prepared statements, and after five executions PostgreSQL may
 * keep one generic plan for every parameter value. A condition written as `$2 IS NULL OR l.id < $2`
 * can then only be a filter: a page behind a deep cursor walked the whole id index (470 ms on the
 * bench's 100k listings). Forced generic plans (sequential scans and sorts off, so the tiny test tables
 * still show which index conditions each plan could use) must seek with the cursor and the category.
 */
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** A test value as an SQL literal (numbers and plain words only). */
const literal = (v: unknown) => (typeof v === 'number' ? String(v) : `'${String(v)}'`);

function listingScan(plan: PlanNode): PlanNode | null {
  if (plan['Index Name']?.startsWith('marketplace_listings_')) return plan;
  for (const child of plan.Plans ?? []) {
    const found = listingScan(child);
    if (found) return found;
  }
  return null;
}

describe('listings page statements under a generic plan', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function genericScan(statement: { name: string; text: string }, values: unknown[]) {
    return withClient(db.pool, async (client) => {
      await client.query(`SET plan_cache_mode = force_generic_plan`);
      await client.query(`SET enable_seqscan = off`);
      await client.query(`SET enable_sort = off`);
      // Prepared the way the gateway prepares it (pg's extended protocol), then explained by name.
      await client.query({ name: statement.name, text: statement.text, values });
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (FORMAT JSON) EXECUTE ${statement.name}(${values.map(literal).join(', ')})`,
      );
      await client.query(`DEALLOCATE ${statement.name}`);
      await client.query(`RESET ALL`);
      return listingScan(rows[0]!['QUERY PLAN'][0].Plan);
    });
  }

  it.each([
    ['forward', pageStatements('active').forward, /id < COALESCE\(\$1, 2147483647\)/],
    ['backward', pageStatements('active').backward, /id > COALESCE\(\$1, 0\)/],
    ['brief forward', pageStatements('active', false).forward, /id < COALESCE\(\$1, 2147483647\)/],
    ['brief backward', pageStatements('active', false).backward, /id > COALESCE\(\$1, 0\)/],
    ['sold forward', pageStatements('sold').forward, /id < COALESCE\(\$1, 2147483647\)/],
  ])('the %s page seeks from its cursor in the id index', async (_label, statement, cond) => {
    const scan = await genericScan(statement, [5000, 21]);
    // Pages of listings that are not active may walk the smaller index of those (same id order).
    expect(scan?.['Index Name']).toMatch(/^marketplace_listings_(pkey|inactive_id_idx)$/);
    expect(scan?.['Index Cond']).toMatch(cond);
  });

  it.each([
    ['forward', pageStatements('active').forwardInCategory],
    ['backward', pageStatements('active').backwardInCategory],
    ['brief forward', pageStatements('active', false).forwardInCategory],
    ['brief backward', pageStatements('active', false).backwardInCategory],
  ])('the %s page of one category seeks by category and cursor', async (_label, statement) => {
    const scan = await genericScan(statement, [5000, 21, 3]);
    expect(scan?.['Index Name']).toBe('marketplace_listings_category_id_idx');
    expect(scan?.['Index Cond']).toMatch(/category_id = \$3/);
    expect(scan?.['Index Cond']).toMatch(/id [<>] COALESCE\(\$1/);
  });

  /**
   * What the server chooses on its own (plan_cache_mode auto), as the gateway's role under RLS: after
   * five custom plans a statement whose generic plan looks no dearer keeps that one, and Bind no longer
   * plans. The listings page's generic plan used to look three times dearer (a parameter status and
   * limit), so every execution was planned again.
   */
  describe('without forcing', () => {
    /**
     * Statistics like a real catalogue's (the bench's 100k: 86 % active, the rest sold, inactive or
     * removed), which is where a parameter status made the generic plan look dear: 5,000 more listings
     * in 12 categories, analysed.
     */
    async function catalogueLikeStatistics() {
      const categories = await db.pool.query<{ id: number }>(
        `INSERT INTO categories (slug, name)
         SELECT 'plans-' || g, 'Plans ' || g FROM generate_series(1, 12) AS g RETURNING id`,
      );
      await db.pool.query(
        `INSERT INTO marketplace_listings (category_id, title, price, status)
         SELECT ($1::int[])[1 + g % 12], 'listing ' || g, 10,
                CASE WHEN g % 100 < 86 THEN 'active' WHEN g % 100 < 95 THEN 'sold'
                     WHEN g % 100 < 99 THEN 'inactive' ELSE 'removed' END
         FROM generate_series(1, 5000) AS g`,
        [categories.rows.map((r) => r.id)],
      );
      await db.pool.query('ANALYZE marketplace_listings');
    }

    async function plansChosen(statement: { name: string; text: string }, values: unknown[]) {
      // A name of its own: pg remembers which names a connection prepared, and the tests above deallocate.
      const name = `${statement.name}_auto`;
      return withClient(db.pool, async (client) => {
        await client.query('SET ROLE lodestar_app');
        try {
          for (let i = 0; i < 10; i += 1) await client.query({ name, text: statement.text, values });
          const { rows } = await client.query<{ generic: number; custom: number }>(
            `SELECT generic_plans::int AS generic, custom_plans::int AS custom
             FROM pg_prepared_statements WHERE name = $1`,
            [name],
          );
          return rows[0];
        } finally {
          await client.query('RESET ALL');
        }
      });
    }

    beforeAll(catalogueLikeStatistics);

    it.each([
      ['first listings page', pageStatements('active', false).forward, [null, 21]],
      ['listings page after a cursor', pageStatements('active').forward, [5000, 21]],
      ['category page', pageStatements('active').forwardInCategory, [null, 21, 3]],
      ['interests page', interestsPageStatement('forward', false, false), [21]],
      ['interests search after a cursor', interestsPageStatement('forward', true, true), ['a', 0.5, 3, 21]],
    ])('the server keeps the generic plan of the %s', async (_label, statement, values) => {
      // Five custom plans to learn their cost, then the generic plan for the other five executions.
      expect(await plansChosen(statement, values)).toEqual({ generic: 5, custom: 5 });
    });
  });
});
