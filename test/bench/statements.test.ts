import { describe, expect, it } from 'vitest';
import { isRoleLookup } from '../../bench/feed/feedPhase.js';
import { countPerRequest, labelOf } from '../../bench/shared/statements.js';
import { profileRoleSql, profileRolesSql } from '../../src/auth/effectiveRole.js';

// The bench's per-request statement count (bench/shared/statements.ts), fed by a scripted counter: the
// feed's cached role lookup is counted apart from the page's data statements (issue #17, target 3).
describe('countPerRequest', () => {
  // The gateway's own role lookups, as the proxy sees them: the bench matches their text.
  const role = profileRoleSql;
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
      apart: isRoleLookup,
    });
    expect(counted.perRequest).toEqual({ min: 1, max: 3, mean: 2.33 });
    expect(counted.apart).toEqual({ min: 0, max: 1, mean: 0.33 });
    expect(counted.data).toEqual({ min: 1, max: 3, mean: 2 });
    expect(counted.breakdown[labelOf(role)]).toBe(1);
    expect(counted.withTransactionControl.max).toBe(3);
  });

  it('knows both of the gateway’s role lookups, and nothing else, as the role lookup', () => {
    expect(isRoleLookup(profileRoleSql)).toBe(true);
    expect(isRoleLookup(`\n  ${profileRolesSql}\n`)).toBe(true);
    expect(isRoleLookup(read)).toBe(false);
    expect(isRoleLookup('SELECT user_id::text AS user_id, handle FROM profiles')).toBe(false);
  });
});
