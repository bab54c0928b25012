import type pg from 'pg';
import { SEEDED_TABLES } from './prepareDatabase.js';

/**
 * Checks every foreign key of the seeded tables in one set-based pass (an anti-join per key),
 * for loads that skipped the per-row checks. Probes are built from the catalog, so keys added by
 * later migrations are covered too. Throws, failing the seed, if any row points nowhere.
 */
export async function verifyForeignKeys(client: pg.ClientBase): Promise<number> {
  const { rows: probes } = await client.query<{ probe: string }>(
    `SELECT format('SELECT %L AS name, count(*) AS orphans FROM %s c WHERE %s AND NOT EXISTS '
                   '(SELECT 1 FROM %s p WHERE %s)',
                   con.conname, con.conrelid::regclass,
                   string_agg(format('c.%I IS NOT NULL', ca.attname), ' AND '),
                   con.confrelid::regclass,
                   string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' AND ')) AS probe
       FROM pg_constraint con
       CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(child_att, parent_att)
       JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child_att
       JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent_att
      WHERE con.contype = 'f' AND con.conrelid = ANY($1::regclass[])
      GROUP BY con.oid, con.conname, con.conrelid, con.confrelid
      ORDER BY con.conname`,
    [SEEDED_TABLES.map((table) => `public.${table}`)],
  );
  if (probes.length === 0) return 0;
  const { rows } = await client.query<{ name: string; orphans: string }>(
    probes.map((p) => p.probe).join(' UNION ALL '),
  );
  const broken = rows.filter((r) => Number(r.orphans) > 0);
  if (broken.length > 0) {
    const detail = broken.map((r) => `${r.name} (${r.orphans} rows)`).join(', ');
    throw new Error(`seed generated rows that violate foreign keys: ${detail}`);
  }
  return probes.length;
}
