-- lodestar:no-transaction
-- follows_followee_follower_idx (previous migration) serves every lookup by followee this one did.
DROP INDEX CONCURRENTLY IF EXISTS follows_followee_id_idx;
