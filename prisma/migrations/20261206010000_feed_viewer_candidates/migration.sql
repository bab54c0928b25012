-- The feed's per-viewer candidate cache (issue #17, target 2): the viewer's personal candidates — the
-- nearest listings to their profile embedding (ivfflat) and their interests' discovery candidates —
-- as the feed statement last computed them, so the next pages and requests skip the vector search.
--
-- Written and read only by the feed's candidate statement (feedCandidatesSql, src/feed/sql.ts) on the
-- service path: a request that finds no usable row runs the vector search and stores its result here in
-- the same statement. A row is usable while it is younger than FEED_CANDIDATE_CACHE_SEC and newer than
-- the profile embedding (recompute_profile_embedding sets embedding_updated_at, so a like, hide or
-- interest change invalidates it). Liked, hidden and own listings are left out when it is computed;
-- exclusions (liked, hidden, served, own) and listing status are checked again at serve time, so a sold
-- or removed listing leaves feeds at once. One row per viewer, deleted with the profile.
CREATE TABLE feed_viewer_candidates (
  user_id     uuid PRIMARY KEY REFERENCES profiles (user_id) ON DELETE CASCADE,
  -- Parallel arrays, best first: listing id, score (cosine for the vector search; affinity × candidate
  -- score for an interest candidate; the larger when both), and which generators found it
  -- (1 = the vector search, 2 = the interests' candidates, 3 = both).
  listing_ids integer[] NOT NULL,
  scores      double precision[] NOT NULL,
  sources     smallint[] NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT feed_viewer_candidates_parallel CHECK (
    cardinality(listing_ids) = cardinality(scores) AND cardinality(listing_ids) = cardinality(sources)),
  CONSTRAINT feed_viewer_candidates_bounded CHECK (cardinality(listing_ids) <= 1000)
);

-- Per-user data: only the service path (the feed) touches it; RLS is not needed because no role that
-- runs a viewer's own queries has any privilege on it.
GRANT SELECT, INSERT, UPDATE ON feed_viewer_candidates TO lodestar_service;
