/** experiments: every experiment, newest change first. */
export const listExperimentsSql = `
SELECT key, description, arms, active, updated_at FROM experiments ORDER BY updated_at DESC, key`;

/** save experiment: create or replace one experiment: $1 key, $2 description, $3 arms (json), $4 active. */
export const upsertExperimentSql = `
INSERT INTO experiments (key, description, arms, active) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO UPDATE SET description = EXCLUDED.description, arms = EXCLUDED.arms, active = EXCLUDED.active
RETURNING key, description, arms, active, updated_at`;
