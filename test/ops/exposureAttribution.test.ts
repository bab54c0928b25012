import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelemetry, MAX_ERROR_USERS_PER_FLUSH } from '../../src/ops/telemetry.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { stableUserId } from '../support/flagsHarness.js';

interface ExposureRow {
  variant: string;
  requests: number;
  errors: number;
  error_user_ids: string[];
  error_user_counts: number[];
}

/** The telemetry recorder attributes each server error of flagged traffic to its user (item 5). */
describe('per-user error attribution in flag_exposure_stats', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  const rowsOf = async (flag: string) =>
    (
      await db.pool.query<ExposureRow>(
        `SELECT variant, requests, errors, error_user_ids::text[] AS error_user_ids, error_user_counts
           FROM flag_exposure_stats WHERE flag_key = $1 ORDER BY variant`,
        [flag],
      )
    ).rows;

  it('counts errors per user (lower-cased uuid); successes and non-uuid or anonymous callers are not attributed', async () => {
    const telemetry = createTelemetry({ pool: db.pool, logger: pino({ level: 'silent' }), flushMs: 60_000 });
    const a = stableUserId(1, 0xd);
    const b = stableUserId(2, 0xd);
    const on = [{ flag: 'attributed', variant: 'on' as const }];
    telemetry.recordExposures(on, 5, false, a);
    telemetry.recordExposures(on, 5, false, a.toUpperCase());
    telemetry.recordExposures(on, 5, false, b);
    telemetry.recordExposures(on, 5, true, b);
    telemetry.recordExposures(on, 5, false, 'not-a-uuid');
    telemetry.recordExposures(on, 5, false, null);
    telemetry.recordExposures([{ flag: 'attributed', variant: 'off' }], 5, true, a);
    await telemetry.close();
    expect(await rowsOf('attributed')).toEqual([
      { variant: 'off', requests: 1, errors: 0, error_user_ids: [], error_user_counts: [] },
      { variant: 'on', requests: 6, errors: 5, error_user_ids: [a, b], error_user_counts: [2, 1] },
    ]);
  });

  it(`attributes at most ${MAX_ERROR_USERS_PER_FLUSH} distinct users per flush; the rest still count as errors`, async () => {
    const telemetry = createTelemetry({ pool: db.pool, logger: pino({ level: 'silent' }), flushMs: 60_000 });
    const on = [{ flag: 'crowded', variant: 'on' as const }];
    for (let i = 0; i < MAX_ERROR_USERS_PER_FLUSH + 5; i += 1)
      telemetry.recordExposures(on, 5, false, stableUserId(i, 0xf));
    // A user already tracked keeps counting past the limit.
    telemetry.recordExposures(on, 5, false, stableUserId(0, 0xf));
    await telemetry.close();
    const [row] = await rowsOf('crowded');
    expect(row).toMatchObject({
      requests: MAX_ERROR_USERS_PER_FLUSH + 6,
      errors: MAX_ERROR_USERS_PER_FLUSH + 6,
    });
    expect(row!.error_user_ids).toHaveLength(MAX_ERROR_USERS_PER_FLUSH);
    expect(row!.error_user_counts.reduce((sum, n) => sum + n, 0)).toBe(MAX_ERROR_USERS_PER_FLUSH + 1);
    expect(row!.error_user_counts[0]).toBe(2);
  });
});
