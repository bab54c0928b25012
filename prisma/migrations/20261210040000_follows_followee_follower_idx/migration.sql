-- lodestar:no-transaction
-- A person's followers in follower order (the privacy export's follower pages, and erasure's follows
-- step): a keyset page reads its page, not every follower, however many a person has. Built concurrently:
-- follows is written by every follow and unfollow. It replaces follows_followee_id_idx (next migration).
CREATE INDEX CONCURRENTLY follows_followee_follower_idx ON follows (followee_id, follower_id);
