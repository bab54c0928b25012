-- Issue 13, item 14: a removed listing is seen only by its seller and by admins (and the service path,
-- privileged as in every other policy: the worker and the feed's service reads, which serve only active
-- listings anyway). Everyone else — anonymous callers and other users — reads as if it did not exist,
-- whatever the query: listing(id:), listings(status: REMOVED), nested listing fields, the feed.
DROP POLICY marketplace_listings_read ON marketplace_listings;
CREATE POLICY marketplace_listings_read ON marketplace_listings FOR SELECT
  USING (status <> 'removed' OR seller_id = app_current_user_id() OR app_is_privileged());
