-- lodestar:no-transaction
-- Partitioned event logs, step 4 of 7: a partitioned table's primary key includes its partition key, so
-- intent_signals is unique on (id, created_at); built concurrently on the table as it is, it becomes the first
-- partition's key in the switch (steps 6 and 7) without a build under lock.
CREATE UNIQUE INDEX CONCURRENTLY intent_signals_id_created_at_key ON intent_signals (id, created_at);
