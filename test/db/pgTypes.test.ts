import { describe, expect, it } from 'vitest';
import { createPool } from '../../src/platform/pool.js';
import { createTestDatabase } from '../support/db.js';

describe('the pools’ type parsers', () => {
  it('read timestamptz columns with parseTimestamptz: the instant PostgreSQL holds, to the millisecond', async () => {
    const db = await createTestDatabase();
    const pool = createPool({
      url: db.url,
      applicationName: 'lodestar-pgtypes-test',
      max: 1,
      onError: () => {},
    });
    try {
      const { rows } = await pool.query<{ at: Date; forever: unknown }>(
        `SELECT '2026-12-04 19:20:38.123456+05:30'::timestamptz AS at, 'infinity'::timestamptz AS forever`,
      );
      expect(rows[0]!.at).toBeInstanceOf(Date);
      expect(rows[0]!.at.toISOString()).toBe('2026-12-04T13:50:38.123Z');
      expect(rows[0]!.forever).toBe(Infinity);
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
