-- Partitioned event logs, step 5 of 7: validating the bound reads the table under SHARE UPDATE EXCLUSIVE,
-- which blocks no reader or writer; steps 6 and 7 then attach the table as a partition with no scan.
ALTER TABLE learning_events VALIDATE CONSTRAINT learning_events_before_partitions;
ALTER TABLE intent_signals VALIDATE CONSTRAINT intent_signals_before_partitions;
