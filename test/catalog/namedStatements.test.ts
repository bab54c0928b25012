import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { briefPageStatements, pageStatements } from '../../src/catalog/listingsPage.js';
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
    ['forward', pageStatements.forward, /id < COALESCE\(\$2, 2147483647\)/],
    ['backward', pageStatements.backward, /id > COALESCE\(\$2, 0\)/],
    ['brief forward', briefPageStatements.forward, /id < COALESCE\(\$2, 2147483647\)/],
    ['brief backward', briefPageStatements.backward, /id > COALESCE\(\$2, 0\)/],
  ])('the %s page seeks from its cursor in the id index', async (_label, statement, cond) => {
    const scan = await genericScan(statement, ['active', 5000, 21]);
    expect(scan?.['Index Name']).toBe('marketplace_listings_pkey');
    expect(scan?.['Index Cond']).toMatch(cond);
  });

  it.each([
    ['forward', pageStatements.forwardInCategory],
    ['backward', pageStatements.backwardInCategory],
    ['brief forward', briefPageStatements.forwardInCategory],
    ['brief backward', briefPageStatements.backwardInCategory],
  ])('the %s page of one category seeks by category and cursor', async (_label, statement) => {
    const scan = await genericScan(statement, ['active', 5000, 21, 3]);
    expect(scan?.['Index Name']).toBe('marketplace_listings_category_id_idx');
    expect(scan?.['Index Cond']).toMatch(/category_id = \$4/);
    expect(scan?.['Index Cond']).toMatch(/id [<>] COALESCE\(\$2/);
  });
});
