-- Social writes: idempotency keys for every mutation (IETF Idempotency-Key semantics), kept per user.

-- The first result of a mutation under a key: a retry with the same key and input replays it; a
-- different input under the key is refused. The row is written in the mutation's own transaction, so
-- it exists exactly when the effect committed (a failed attempt leaves no key behind), and a concurrent
-- attempt with the same key waits on the primary key until the first commits or rolls back.
CREATE TABLE idempotency_keys (
  user_id      uuid NOT NULL REFERENCES profiles (user_id) ON DELETE CASCADE,
  key          text NOT NULL,
  operation    text NOT NULL,
  request_hash text NOT NULL,
  response     jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key),
  CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 255)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_own ON idempotency_keys
  USING (user_id = app_current_user_id())
  WITH CHECK (user_id = app_current_user_id());
GRANT SELECT, INSERT, DELETE ON idempotency_keys TO lodestar_app;
GRANT UPDATE (operation, request_hash, response, created_at) ON idempotency_keys TO lodestar_app;

-- Keys are kept at least 24 hours; older ones are deleted in batches (the worker runs this daily).
CREATE FUNCTION gc_idempotency_keys(p_older_than interval DEFAULT interval '48 hours', p_batch integer DEFAULT 5000)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v_total bigint := 0;
  v_n integer;
BEGIN
  IF p_older_than < interval '24 hours' THEN
    RAISE EXCEPTION 'idempotency keys are kept at least 24 hours, got %', p_older_than USING ERRCODE = '22023';
  END IF;
  LOOP
    DELETE FROM idempotency_keys
     WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE created_at < now() - p_older_than LIMIT p_batch);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_total := v_total + v_n;
    EXIT WHEN v_n < p_batch;
  END LOOP;
  RETURN v_total;
END $$;
REVOKE EXECUTE ON FUNCTION gc_idempotency_keys(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gc_idempotency_keys(interval, integer) TO lodestar_app;
