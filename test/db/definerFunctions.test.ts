import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateUrl } from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  embeddingFor,
  insertCategory,
  insertInterest,
  insertProfile,
  sqlStateOf,
} from '../support/fixtures.js';

/** Every role the application connects as (or switches to). */
const applicationRoles = ['lodestar_app', 'lodestar_service', 'lodestar_worker'] as const;

/**
 * SECURITY DEFINER functions run as their owner (the superuser that migrated). One that finds tables
 * through a search_path without pg_temp last can be made to read a caller's temporary view, and so to
 * run the caller's code as the owner. Two defences, each tested: every such function searches
 * `public, pg_temp`, and the application roles cannot create temporary objects at all.
 */
describe('SECURITY DEFINER functions', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('every one in public has a search_path that ends in pg_temp', async () => {
    const { rows } = await db.pool.query<{ fn: string; config: string[] | null }>(
      `SELECT p.oid::regprocedure::text AS fn, p.proconfig AS config
         FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
        ORDER BY 1`,
    );
    // Sanity: the catalogue query finds them (23 when this test was written).
    expect(rows.length).toBeGreaterThanOrEqual(23);
    const searchPathOf = (config: string[] | null) =>
      (config ?? []).find((setting) => setting.startsWith('search_path='))?.slice('search_path='.length);
    const unsafe = rows
      .filter((row) => {
        const path = searchPathOf(row.config);
        if (path === undefined) return true;
        const schemas = path.split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
        return schemas.at(-1) !== 'pg_temp';
      })
      .map((row) => `${row.fn} (${searchPathOf(row.config) ?? 'no search_path'})`);
    expect(unsafe).toEqual([]);
  });

  /**
   * The reviewed attack: a temporary view named user_interests whose rows come from the caller's own
   * function; recompute_profile_embedding reads "user_interests" as the owner. The database is a clone
   * of the template, and clones get the default database ACL (TEMP for PUBLIC), so this exercises the
   * search_path defence alone.
   */
  it.each(['lodestar_app', 'lodestar_worker'])(
    'a temporary view named like a table does not make recompute_profile_embedding run %s code as the owner',
    async (role) => {
      const userId = await insertProfile(db.pool);
      const interestId = await insertInterest(db.pool, {
        categoryId: await insertCategory(db.pool),
        embedding: embeddingFor(1),
      });
      const client: pg.PoolClient = await db.pool.connect();
      client.on('error', () => undefined);
      try {
        await client.query(`SET ROLE ${role}`);
        await client.query(`SELECT set_config('lodestar.role', 'service', false)`);
        await client.query(`
          CREATE FUNCTION pg_temp.escalate() RETURNS integer LANGUAGE plpgsql AS $$
          BEGIN
            EXECUTE 'CREATE TABLE IF NOT EXISTS public.hijacked_${role} (who text)';
            EXECUTE 'INSERT INTO public.hijacked_${role} VALUES (current_user)';
            RETURN 1;
          END $$`);
        // The view's one row is the victim's interest; reading its affinity runs the caller's function.
        // (Literals, because CREATE VIEW takes no parameters; both are generated ids.)
        await client.query(`
          CREATE TEMP VIEW user_interests AS
          SELECT '${userId}'::uuid AS user_id, ${interestId}::integer AS interest_id,
                 pg_temp.escalate()::real AS affinity`);
        await client.query('SELECT recompute_profile_embedding($1)', [userId]);
      } finally {
        await client.query('RESET ROLE').catch(() => undefined);
        // Temporary objects go with the session.
        client.release(true);
      }
      const { rows } = await db.pool.query<{ hijacked: string | null }>(
        `SELECT to_regclass('public.hijacked_${role}')::text AS hijacked`,
      );
      expect(rows[0]?.hijacked).toBeNull();
    },
  );

  it('the migrator takes TEMP from the application roles (PUBLIC) and leaves it to the owner', async () => {
    const has = async () =>
      (
        await db.pool.query<{ role: string; temp: boolean }>(
          `SELECT r AS role, has_database_privilege(r, current_database(), 'TEMP') AS temp
             FROM unnest($1::text[]) r ORDER BY r`,
          [[...applicationRoles]],
        )
      ).rows;
    // A clone of the template starts with the default ACL: CREATE DATABASE ... TEMPLATE copies no grants.
    expect((await has()).every((r) => r.temp)).toBe(true);
    await migrateUrl(db.url);
    expect(await has()).toEqual(applicationRoles.map((role) => ({ role, temp: false })));
    const owner = await db.pool.query<{ temp: boolean }>(
      `SELECT has_database_privilege(pg_get_userbyid(datdba), datname, 'TEMP') AS temp
         FROM pg_database WHERE datname = current_database()`,
    );
    expect(owner.rows[0]?.temp).toBe(true);
    // And the attack's first step is now refused outright.
    for (const role of applicationRoles) {
      const client = await db.pool.connect();
      client.on('error', () => undefined);
      try {
        await client.query('BEGIN');
        await client.query(`SET LOCAL ROLE ${role}`);
        expect(await sqlStateOf(client, 'CREATE TEMP VIEW user_interests AS SELECT 1 AS x')).toBe('42501');
        expect(await sqlStateOf(client, 'CREATE TEMP TABLE scratch (x int)')).toBe('42501');
        await client.query('ROLLBACK');
      } finally {
        client.release(true);
      }
    }
    // Running the migrator again changes nothing (idempotent).
    await migrateUrl(db.url);
    expect(await has()).toEqual(applicationRoles.map((role) => ({ role, temp: false })));
  });
});
