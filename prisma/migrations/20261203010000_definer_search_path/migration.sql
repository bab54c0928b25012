-- SECURITY DEFINER functions run as their owner. With `search_path = public` PostgreSQL still searches
-- the caller's temporary schema first for tables and views (pg_temp is implicitly first unless named),
-- so a caller allowed to create a temporary view named like one of our tables (user_interests, ...)
-- could make such a function read it and run the caller's code as the owner. Every SECURITY DEFINER
-- function in public now searches public and then pg_temp, last. The test
-- test/db/definerFunctions.test.ts fails on any SECURITY DEFINER function without this, so a new one
-- has to say `SET search_path = public, pg_temp` too. (TEMP itself is taken from the application roles
-- by the migrator: database-level grants are not copied by CREATE DATABASE ... TEMPLATE.)
DO $$
DECLARE
  v_fn regprocedure;
BEGIN
  FOR v_fn IN
    SELECT p.oid::regprocedure FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
    ORDER BY p.oid
  LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = public, pg_temp', v_fn);
  END LOOP;
END $$;
