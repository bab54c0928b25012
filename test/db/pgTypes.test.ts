import { describe, expect, it } from 'vitest';
import { numberArrayLiteral, textArrayLiteral } from '../../src/platform/pgArrays.js';
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

  it('read the array literals of src/platform/pgArrays.ts as the same values as pg’s own encoding', async () => {
    const db = await createTestDatabase();
    const pool = createPool({
      url: db.url,
      applicationName: 'lodestar-pgarrays-test',
      max: 1,
      onError: () => {},
    });
    const ints = [1, -7, 2147483647, 0];
    const floats = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -2.5, 0.7 * 0.3];
    const texts = [
      'SIMILAR',
      'epsilon-greedy',
      '',
      'NULL',
      'null',
      'a b',
      'x,y',
      '{z}',
      'say "hi"',
      'back\\slash',
      'é ☃',
    ];
    const uuids = ['0190a6f2-8e1c-7c4b-9a51-1f0e2d3c4b5a', null];
    const sql = `SELECT $1::int[] AS ints, $2::float8[] AS floats, $3::text[] AS texts, $4::uuid[] AS uuids`;
    try {
      const ours = await pool.query(sql, [
        numberArrayLiteral(ints),
        numberArrayLiteral(floats),
        textArrayLiteral(texts),
        textArrayLiteral(uuids),
      ]);
      const theirs = await pool.query(sql, [ints, floats, texts, uuids]);
      expect(ours.rows).toEqual(theirs.rows);
      expect(ours.rows[0]).toEqual({ ints, floats, texts, uuids });
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
