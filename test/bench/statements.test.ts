import { describe, expect, it } from 'vitest';
import { countPerRequest } from '../../bench/shared/statements.js';

// The bench's per-request statement count (bench/shared/statements.ts), fed by a scripted counter: the
// feed's cached role lookup is counted apart from the page's data statements (issue #17, target 3).
describe('countPerRequest', () => {
  const role = 'SELECT user_id::text AS user_id, role FROM profiles WHERE user_id = ANY($1::uuid[])';
  const read = 'WITH viewer AS MATERIALIZED (';
  const insert = "WITH identity AS MATERIALIZED (SELECT set_config('lodestar.user_id'";

  it('counts data statements and role lookups apart, leaving transaction control out', async () => {
    // What the proxy saw after each request: the unmeasured first one, then three counted ones.
    const seen = [
      [role, read, insert],
      [role, read, insert],
      [read, read, insert],
      ['BEGIN', read, 'COMMIT'],
    ];
    const counted = await countPerRequest({ take: () => seen.shift() ?? [] }, async () => undefined, 10, 3, {
      apart: /^\s*SELECT user_id::text AS user_id, role FROM profiles\b/,
    });
    expect(counted.perRequest).toEqual({ min: 1, max: 3, mean: 2.33 });
    expect(counted.apart).toEqual({ min: 0, max: 1, mean: 0.33 });
    expect(counted.data).toEqual({ min: 1, max: 3, mean: 2 });
    expect(counted.breakdown[role.slice(0, 90)]).toBe(1);
    expect(counted.withTransactionControl.max).toBe(3);
  });
});
