-- Vector index recall (issue 13, item 18). Per vector index: how many rows it indexed when it was
-- built (so maintenance rebuilds an ivfflat index whose table grew or shrank more than 2× since), and
-- its last measured recall@k against exact search (ops.vectorHealth, /metrics, ops.alerts).
CREATE TABLE vector_index_state (
  index_name          text PRIMARY KEY,
  table_name          text NOT NULL,
  method              text NOT NULL,
  -- Rows with a vector when the index was built; NULL = unknown (built by a migration, maybe empty).
  rows_at_build       bigint CHECK (rows_at_build >= 0),
  lists               integer CHECK (lists >= 1),
  built_at            timestamptz,
  built_by            text,
  recall              double precision CHECK (recall BETWEEN 0 AND 1),
  recall_k            integer CHECK (recall_k >= 1),
  recall_samples      integer CHECK (recall_samples >= 0),
  recall_ms           double precision,
  recall_measured_at  timestamptz,
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The ivfflat indexes that exist now were built by migrations, on whatever the table held then
-- (an empty table in a fresh install): unknown, so the first maintenance pass with data rebuilds them.
INSERT INTO vector_index_state (index_name, table_name, method, rows_at_build, lists, built_by)
SELECT c.relname, t.relname, am.amname, NULL,
       (SELECT split_part(o, '=', 2)::int FROM unnest(c.reloptions) o WHERE o LIKE 'lists=%'),
       'migration'
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = c.relam
WHERE n.nspname = 'public' AND am.amname = 'ivfflat'
ON CONFLICT (index_name) DO NOTHING;

-- Ops data, no user data: anyone with a grant reads it; the gateway writes only as an admin (the
-- on-demand measurement), the worker for its scheduled tasks. The owner (ops CLI, rebuilds) bypasses RLS.
ALTER TABLE vector_index_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY vector_index_state_read ON vector_index_state FOR SELECT USING (true);
CREATE POLICY vector_index_state_admin_insert ON vector_index_state FOR INSERT TO lodestar_app
  WITH CHECK (app_current_role() = 'admin');
CREATE POLICY vector_index_state_admin_update ON vector_index_state FOR UPDATE TO lodestar_app
  USING (app_current_role() = 'admin') WITH CHECK (app_current_role() = 'admin');
CREATE POLICY vector_index_state_worker_insert ON vector_index_state FOR INSERT TO lodestar_worker
  WITH CHECK (true);
CREATE POLICY vector_index_state_worker_update ON vector_index_state FOR UPDATE TO lodestar_worker
  USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE ON vector_index_state TO lodestar_app, lodestar_worker;

-- Measuring recall of profiles_embedding_hnsw reads every profile's vector (the worker acts as the
-- service identity, which RLS lets see every profile); only the key and the vector.
GRANT SELECT (user_id, embedding) ON profiles TO lodestar_worker;

-- The worker's rebuild of an ivfflat index that outgrew (or outshrank) its build. It cannot own the
-- index, so the owner's function does it: only ivfflat indexes in public, only `lists` changes. The copy
-- is built in the caller's transaction (CREATE INDEX takes SHARE: reads go on, writes to the table wait
-- for the build), then swapped under the old name; the state row records the rows it indexed.
CREATE FUNCTION rebuild_ivfflat_index(p_index text, p_lists integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_table text;
  v_def   text;
  v_tmp   text;
  v_rows  bigint;
BEGIN
  IF p_lists IS NULL OR p_lists < 1 OR p_lists > 32768 THEN
    RAISE EXCEPTION 'lists must be between 1 and 32768' USING ERRCODE = '22023';
  END IF;
  SELECT t.relname, pg_get_indexdef(c.oid) INTO v_table, v_def
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_am am ON am.oid = c.relam
  WHERE n.nspname = 'public' AND am.amname = 'ivfflat' AND c.relname = p_index;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no ivfflat index % in schema public', p_index USING ERRCODE = '42704';
  END IF;
  v_tmp := left(p_index, 54) || '_rebuild';
  EXECUTE format('DROP INDEX IF EXISTS public.%I', v_tmp);
  v_def := regexp_replace(v_def, '^CREATE INDEX \S+ ON ', format('CREATE INDEX %I ON ', v_tmp));
  IF v_def ~ ' WITH \(' THEN
    v_def := regexp_replace(v_def, ' WITH \([^)]*\)', format(' WITH (lists = %s)', p_lists));
  ELSIF position(' WHERE ' IN v_def) > 0 THEN
    v_def := regexp_replace(v_def, ' WHERE ', format(' WITH (lists = %s) WHERE ', p_lists));
  ELSE
    v_def := v_def || format(' WITH (lists = %s)', p_lists);
  END IF;
  EXECUTE v_def;
  EXECUTE format('DROP INDEX public.%I', p_index);
  EXECUTE format('ALTER INDEX public.%I RENAME TO %I', v_tmp, p_index);
  -- The build sets the index's reltuples to the vectors it indexed.
  SELECT c.reltuples::bigint INTO v_rows FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = p_index;
  INSERT INTO vector_index_state (index_name, table_name, method, rows_at_build, lists, built_at, built_by)
  VALUES (p_index, v_table, 'ivfflat', greatest(v_rows, 0), p_lists, now(), 'worker')
  ON CONFLICT (index_name) DO UPDATE SET table_name = EXCLUDED.table_name, rows_at_build = EXCLUDED.rows_at_build,
    lists = EXCLUDED.lists, built_at = EXCLUDED.built_at, built_by = EXCLUDED.built_by,
    recall = NULL, recall_k = NULL, recall_samples = NULL, recall_ms = NULL, recall_measured_at = NULL,
    updated_at = now();
  RETURN greatest(v_rows, 0);
END $$;

REVOKE EXECUTE ON FUNCTION rebuild_ivfflat_index(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rebuild_ivfflat_index(text, integer) TO lodestar_worker;
