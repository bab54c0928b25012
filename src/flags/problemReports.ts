import type { Database } from '../db/database.js';
import { withIdentity, type RlsViewer } from '../db/identity.js';
import { createNotFoundError } from '../errors/errors.js';
import { flagVariant } from './flagBucket.js';

/** report problem: the flag's rollout, to tell which variant the reporter sees. $1 flag key. */
const flagRolloutSql = 'SELECT rollout_pct FROM feature_flags WHERE key = $1';

/** report problem: $1 flag key, $2 user id, $3 variant the user sees, $4 message. */
const insertReportSql = `
INSERT INTO flag_problem_reports (flag_key, user_id, variant, message) VALUES ($1, $2, $3, $4)`;

/**
 * A signed-in user reports a problem with a flag; the variant they see is recorded with it. Rollouts
 * count distinct users, so repeating a report adds nothing but a row. The key and message are checked.
 */
export async function reportProblem(
  deps: { viewer: RlsViewer; db: Pick<Database, 'pool'> },
  userId: string,
  flagKey: string,
  message: string,
): Promise<true> {
  return withIdentity(deps.db.pool, deps.viewer, async (client) => {
    const flag = (await client.query<{ rollout_pct: number }>(flagRolloutSql, [flagKey])).rows[0];
    if (!flag) throw createNotFoundError('feature flag', flagKey);
    await client.query(insertReportSql, [
      flagKey,
      userId,
      flagVariant(flagKey, flag.rollout_pct, userId),
      message,
    ]);
    return true as const;
  });
}
