-- The bulk importer's progress (issue 15, `npm run import`): one row per input file being imported,
-- keyed by the upstream source, the file's kind and a fingerprint of its content, with the number of
-- records already committed. Each batch updates its row in the batch's own transaction, so after a
-- crash a re-run skips exactly the records whose writes committed. A run that finishes deletes its
-- rows (a later re-run then re-reads everything, which the idempotent writers make a no-op).
-- Owner only: the importer connects as the owner; no application role reads or writes it.
CREATE TABLE import_checkpoints (
  source       text NOT NULL,
  kind         text NOT NULL,
  fingerprint  text NOT NULL,
  rows_done    bigint NOT NULL DEFAULT 0,
  -- Per-outcome counts of the records already done (read, inserted, ...), for the summary of a resumed run.
  counts       jsonb NOT NULL DEFAULT '{}',
  finished     boolean NOT NULL DEFAULT false,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, kind, fingerprint),
  CONSTRAINT import_checkpoints_rows_done_nonnegative CHECK (rows_done >= 0)
);
