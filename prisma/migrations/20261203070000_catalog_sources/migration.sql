-- A marketplace's own catalogue and history (issue 15): listings, interests and people written from an
-- upstream system carry that system's short name (`source`) and its id for the row (`external_id`), so
-- the catalogue API and the bulk importer upsert by (source, external_id) and a re-run changes nothing.
-- Rows created by Lodestar itself (sellers through the API, the seeder) have neither.
ALTER TABLE marketplace_listings
  ADD COLUMN source text,
  ADD COLUMN external_id text,
  ADD CONSTRAINT marketplace_listings_external_ref CHECK ((source IS NULL) = (external_id IS NULL)),
  ADD CONSTRAINT marketplace_listings_source_format CHECK (source ~ '^[a-z][a-z0-9_-]{0,31}$'),
  ADD CONSTRAINT marketplace_listings_external_id_length CHECK (char_length(external_id) BETWEEN 1 AND 200);
CREATE UNIQUE INDEX marketplace_listings_source_external_id_key ON marketplace_listings (source, external_id);

ALTER TABLE interest_catalog
  ADD COLUMN source text,
  ADD COLUMN external_id text,
  ADD CONSTRAINT interest_catalog_external_ref CHECK ((source IS NULL) = (external_id IS NULL)),
  ADD CONSTRAINT interest_catalog_source_format CHECK (source ~ '^[a-z][a-z0-9_-]{0,31}$'),
  ADD CONSTRAINT interest_catalog_external_id_length CHECK (char_length(external_id) BETWEEN 1 AND 200),
  ADD CONSTRAINT interest_catalog_name_length CHECK (char_length(name) BETWEEN 1 AND 200);
CREATE UNIQUE INDEX interest_catalog_source_external_id_key ON interest_catalog (source, external_id);

ALTER TABLE profiles
  ADD COLUMN source text,
  ADD COLUMN external_id text,
  ADD CONSTRAINT profiles_external_ref CHECK ((source IS NULL) = (external_id IS NULL)),
  ADD CONSTRAINT profiles_source_format CHECK (source ~ '^[a-z][a-z0-9_-]{0,31}$'),
  ADD CONSTRAINT profiles_external_id_length CHECK (char_length(external_id) BETWEEN 1 AND 200);
CREATE UNIQUE INDEX profiles_source_external_id_key ON profiles (source, external_id);

-- The catalogue API runs as lodestar_app under a service or admin identity: it names the upstream row
-- and may move a listing to another seller (RLS still lets a seller touch only their own listings, and
-- keep them theirs).
GRANT INSERT (source, external_id) ON marketplace_listings TO lodestar_app;
GRANT UPDATE (seller_id) ON marketplace_listings TO lodestar_app;

-- Interests were written only by migrations and the owner; the catalogue API now writes them too,
-- under a service or admin identity only.
ALTER TABLE interest_catalog ENABLE ROW LEVEL SECURITY;
CREATE POLICY interest_catalog_read ON interest_catalog FOR SELECT USING (true);
CREATE POLICY interest_catalog_catalog_insert ON interest_catalog FOR INSERT TO lodestar_app
  WITH CHECK (app_is_privileged());
CREATE POLICY interest_catalog_catalog_update ON interest_catalog FOR UPDATE TO lodestar_app
  USING (app_is_privileged()) WITH CHECK (app_is_privileged());
GRANT INSERT (slug, name, category_id, embedding, source, external_id),
      UPDATE (name, category_id, embedding)
  ON interest_catalog TO lodestar_app;

-- A catalogue change queues discovery (candidate refresh) for the interests it affects; a service caller
-- may queue only that reason (admins already queue any).
CREATE POLICY discovery_queue_catalog_insert ON marketplace_discovery_queue FOR INSERT TO lodestar_app
  WITH CHECK (app_current_role() = 'service' AND reason = 'catalog');
