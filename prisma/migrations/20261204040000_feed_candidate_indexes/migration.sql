-- The feed's CATEGORY candidates (issue #16): the most popular active listings of one of the viewer's
-- categories, as an index scan per category (a viewer's latest likes use likes_user_recent_idx).
CREATE INDEX marketplace_listings_active_category_popularity_idx
  ON marketplace_listings (category_id, popularity DESC, id DESC) WHERE status = 'active';
