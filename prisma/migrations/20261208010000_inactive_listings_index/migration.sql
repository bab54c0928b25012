-- The ids of listings that are not active (issue #17): a feed page ranked from a gateway's kept candidates
-- checks which of ~240 candidates were sold, deactivated or removed since they were read
-- (insertCheckedImpressionsSql). Through the primary key that was a lookup and a heap fetch per candidate,
-- most of the check; through this index, a few per cent of the table, a candidate that is still active is
-- settled in the index alone. Rows enter it only when a listing leaves 'active'.
CREATE INDEX marketplace_listings_inactive_id_idx ON marketplace_listings (id) WHERE status <> 'active';
