-- Workers wake on LISTEN instead of polling tightly: one notification per inserting statement (not per
-- row), delivered at commit, so a new item starts within a second and an idle worker costs little.
CREATE FUNCTION trg_queue_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  PERFORM pg_notify('lodestar_' || TG_TABLE_NAME, '');
  RETURN NULL;
END $$;
CREATE TRIGGER events_queue_notify AFTER INSERT ON events_queue
  FOR EACH STATEMENT EXECUTE FUNCTION trg_queue_notify();
CREATE TRIGGER marketplace_discovery_queue_notify AFTER INSERT ON marketplace_discovery_queue
  FOR EACH STATEMENT EXECUTE FUNCTION trg_queue_notify();
