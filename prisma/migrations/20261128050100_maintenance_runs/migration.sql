-- Scheduled maintenance: when each task last ran, shared by every worker, so a task runs once per
-- interval however many workers there are (each run also holds a transaction-level advisory lock).
CREATE TABLE maintenance_runs (
  task        text PRIMARY KEY,
  last_run_at timestamptz NOT NULL,
  last_result jsonb,
  last_ms     double precision
);
