-- rebuild_ivfflat_index records the rows it indexed as count(column), the number the health check compares
-- with (vectorHealth), instead of the new index's reltuples, which counts deleted rows still visible to
-- another transaction's snapshot (CI saw 3,364 for 1,682 live rows right after a mass delete). Same
-- signature, owner and grants (CREATE OR REPLACE keeps them).
CREATE OR REPLACE FUNCTION rebuild_ivfflat_index(p_index text, p_lists integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_table text;
  v_def   text;
  v_tmp   text;
  v_rows  bigint;
  v_column text;
BEGIN
  IF p_lists IS NULL OR p_lists < 1 OR p_lists > 32768 THEN
    RAISE EXCEPTION 'lists must be between 1 and 32768' USING ERRCODE = '22023';
  END IF;
  SELECT t.relname, pg_get_indexdef(c.oid), a.attname INTO v_table, v_def, v_column
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_class t ON t.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_am am ON am.oid = c.relam
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
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
  -- The rows with a vector, counted as the health check counts them (vectorHealth: count(column)). Not
  -- the build's reltuples: that includes deleted rows another transaction's snapshot could still see,
  -- so right after a mass delete it overstated the build (the table seemed to have shrunk since). The
  -- build's SHARE lock holds until commit: no write comes between the build and this count.
  EXECUTE format('SELECT count(%I) FROM public.%I', v_column, v_table) INTO v_rows;
  INSERT INTO vector_index_state (index_name, table_name, method, rows_at_build, lists, built_at, built_by)
  VALUES (p_index, v_table, 'ivfflat', greatest(v_rows, 0), p_lists, now(), 'worker')
  ON CONFLICT (index_name) DO UPDATE SET table_name = EXCLUDED.table_name, rows_at_build = EXCLUDED.rows_at_build,
    lists = EXCLUDED.lists, built_at = EXCLUDED.built_at, built_by = EXCLUDED.built_by,
    recall = NULL, recall_k = NULL, recall_samples = NULL, recall_ms = NULL, recall_measured_at = NULL,
    updated_at = now();
  RETURN greatest(v_rows, 0);
END $$;

