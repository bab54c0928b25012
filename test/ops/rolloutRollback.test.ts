import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flagBucket } from '../../src/flags/flagBucket.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { stableUserId } from '../support/flagsHarness.js';
import { createTestGateway, type TestGateway } from '../support/gateway.js';
import { firstCode, postGraphQL, seedHttpFixtures } from '../support/http.js';
import { waitUntil } from '../support/workerHarness.js';
import { graphql } from '../support/graphql.js';

/**
 * Issue #13 item 5, end to end through the HTTP gateway: one signed-in user exposed to a 5% flag
 * sends 220 requests in a few seconds. On the code before the fix, 220 `interests(search:)` requests
 * with a NUL answered INTERNAL_SERVER_ERROR, counted as 220 server errors of 220 exposed requests
 * (100% > 2%), and evaluateRollouts rolled the flag back for everyone.
 */

const FLAG = 'one-caller-probe';
const SEARCH = graphql('query($s: String) { interests(search: $s) { edges { node { id } } } }');
const EVALUATE = graphql(`
  mutation {
    evaluateRollouts {
      evaluations {
        key
        decision
        reasons
        held
        on {
          requests
          errors
          countedErrors
          affectedUsers
          errorRate
        }
      }
    }
  }
`);

describe('a flag rollout cannot be rolled back by one caller', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let adminToken: string;
  /** Users whose bucket puts them in the 5% that sees the flag. */
  let exposed: string[];
  const tokens = new Map<string, string>();

  const exposedStats = async () =>
    (
      await db.pool.query<{ requests: number; errors: number }>(
        `SELECT coalesce(sum(requests), 0)::int AS requests, coalesce(sum(errors), 0)::int AS errors
           FROM flag_exposure_stats WHERE flag_key = $1 AND variant = 'on'`,
        [FLAG],
      )
    ).rows[0]!;

  /** Waits for the gateway's telemetry to have written `requests` exposed requests. */
  const flushed = (requests: number) =>
    waitUntil(async () => (await exposedStats()).requests >= requests, `${requests} exposed requests`);

  const evaluate = async () => {
    const res = await postGraphQL(gateway, EVALUATE, {
      token: adminToken,
    });
    expect(res.body.errors, res.raw).toBeUndefined();
    const evaluation = res.body.data!.evaluateRollouts.evaluations.find((e) => e.key === FLAG);
    if (!evaluation) throw new Error(`no evaluation of ${FLAG}: ${res.raw}`);
    return evaluation;
  };

  const rollout = async () =>
    (
      await db.pool.query<{ rollout_pct: number; state: string }>(
        'SELECT rollout_pct, state FROM feature_flags WHERE key = $1',
        [FLAG],
      )
    ).rows[0]!;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seedHttpFixtures(db.pool, 'roll');
    exposed = [];
    for (let i = 0; exposed.length < 6; i += 1) {
      const id = stableUserId(i, 0x5);
      if (flagBucket(FLAG, id) < 5) exposed.push(id);
    }
    for (const [i, id] of exposed.entries()) {
      await db.pool.query(`INSERT INTO profiles (user_id, handle, display_name) VALUES ($1, $2, $2)`, [
        id,
        `exposed_${i}`,
      ]);
    }
    // An admin outside the 5%: its evaluateRollouts requests must not count towards the flag.
    let adminId = '';
    for (let i = 0; !adminId; i += 1) {
      const id = stableUserId(i, 0xa);
      if (flagBucket(FLAG, id) >= 5) adminId = id;
    }
    await db.pool.query(
      `INSERT INTO profiles (user_id, handle, display_name, role) VALUES ($1, 'roll_admin', 'roll_admin', 'admin')`,
      [adminId],
    );
    await db.pool.query(
      `INSERT INTO feature_flags (key, description, rollout_pct, state) VALUES ($1, 'probe', 5, 'rolling')`,
      [FLAG],
    );
    gateway = await createTestGateway(db, { TELEMETRY_FLUSH_MS: '100' });
    adminToken = await gateway.token({ sub: adminId, role: 'admin' });
    for (const id of exposed) tokens.set(id, await gateway.token({ sub: id, role: 'user' }));
  });

  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  it('220 requests with a NUL from one user are BAD_USER_INPUT, count as no server error, and roll nothing back', async () => {
    const attacker = exposed[0]!;
    const codes = new Map<string, number>();
    for (let i = 0; i < 220; i += 1) {
      const res = await postGraphQL(gateway, SEARCH, {
        variables: { s: `x\u0000${i}` },
        token: tokens.get(attacker)!,
      });
      const code = firstCode(res.body) ?? 'none';
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(Object.fromEntries(codes)).toEqual({ BAD_USER_INPUT: 220 });
    await flushed(220);
    expect(await exposedStats()).toEqual({ requests: 220, errors: 0 });
    const evaluation = await evaluate();
    expect(evaluation).toMatchObject({ decision: 'healthy', reasons: [], held: [] });
    expect(evaluation.on).toMatchObject({ requests: 220, errors: 0, affectedUsers: 0, errorRate: 0 });
    expect(await rollout()).toEqual({ rollout_pct: 5, state: 'rolling' });
  });

  it('220 real server errors from one user are held (1 user < 5); errors from 5+ users roll the flag back', async () => {
    // A genuine server failure for everyone: the gateway's role loses its read grant on the catalogue.
    await db.pool.query('REVOKE SELECT ON interest_catalog FROM lodestar_app');
    try {
      const before = (await exposedStats()).requests;
      const attacker = exposed[0]!;
      for (let i = 0; i < 220; i += 1) {
        const res = await postGraphQL(gateway, SEARCH, {
          variables: { s: 'shoes' },
          token: tokens.get(attacker)!,
        });
        expect(firstCode(res.body)).toBe('INTERNAL_SERVER_ERROR');
      }
      await flushed(before + 220);
      const alone = await evaluate();
      // Measured: 220 errors of 440 exposed requests, counted 10 (the cap), 2.3% > 2%, but 1 user.
      expect(alone.on).toMatchObject({ requests: 440, errors: 220, countedErrors: 10, affectedUsers: 1 });
      expect(alone.decision).toBe('healthy');
      expect(alone.reasons).toEqual([]);
      expect(alone.held).toEqual([expect.stringMatching(/from 1 user\(s\) \(at least 5 needed\)$/)]);
      expect(await rollout()).toEqual({ rollout_pct: 5, state: 'rolling' });

      // Four more users hit the same failure a few times each: five distinct users now.
      for (const user of exposed.slice(1, 5)) {
        for (let i = 0; i < 3; i += 1) {
          const res = await postGraphQL(gateway, SEARCH, {
            variables: { s: 'shoes' },
            token: tokens.get(user)!,
          });
          expect(firstCode(res.body)).toBe('INTERNAL_SERVER_ERROR');
        }
      }
      await flushed(before + 232);
      const many = await evaluate();
      expect(many.on).toMatchObject({ requests: 452, errors: 232, countedErrors: 22, affectedUsers: 5 });
      expect(many.decision).toBe('rolled_back');
      expect(many.reasons).toEqual([
        expect.stringMatching(/^error rate 4\.9% > 2\.0% over 452 exposed requests from 5 users$/),
      ]);
      expect(await rollout()).toEqual({ rollout_pct: 0, state: 'rolled_back' });
    } finally {
      await db.pool.query('GRANT SELECT ON interest_catalog TO lodestar_app');
    }
  });
});
