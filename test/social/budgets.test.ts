import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect } from 'vitest';
import { MUTATION_BUDGETS, QUERY_BUDGETS, RATE_LIMITED_ACTIONS } from '../../src/social/budgets.js';
import { createSchema } from '../../src/schema/index.js';
import { postGraphQL } from '../support/http.js';
import { insertUsers, seedSocialWorld, type SocialWorld } from '../support/socialWorld.js';
import { it, test } from '../support/testFixtures.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';

const LIMIT = 3;

test.override('env', {
  REDIS_COMMAND_TIMEOUT_MS: '1000',
  RATE_LIMIT_HIDES_PER_MIN: String(LIMIT),
  RATE_LIMIT_FEEDBACK_PER_MIN: String(LIMIT),
  RATE_LIMIT_ADMIN_PER_MIN: String(LIMIT),
});

/** Every root field has a budget in src/social/budgets.ts: a new mutation without one fails here. */
describe('the budget table covers the schema', () => {
  const schema = createSchema();

  it('every Mutation field has a rate-limit budget, and the table names no field the schema lacks', () => {
    const fields = Object.keys(schema.getMutationType()?.getFields() ?? {}).sort();
    expect(fields.length).toBeGreaterThan(20);
    expect(fields.filter((f) => !Object.hasOwn(MUTATION_BUDGETS, f))).toEqual([]);
    expect(Object.keys(MUTATION_BUDGETS).sort()).toEqual(fields);
    for (const action of Object.values(MUTATION_BUDGETS)) expect(RATE_LIMITED_ACTIONS).toContain(action);
  });

  it('every Query field is listed with its read budget (or an explicit null), the feed and search included', () => {
    const fields = Object.keys(schema.getQueryType()?.getFields() ?? {}).sort();
    expect(Object.keys(QUERY_BUDGETS).sort()).toEqual(fields);
    expect(QUERY_BUDGETS.suggestions).toBe('feed');
    for (const costly of ['interests', 'listings', 'similarListings', 'userFeatures'] as const) {
      expect(QUERY_BUDGETS[costly]).toBe('read');
    }
  });
});

describe('hideListing, recordFeedback and the admin operations spend a budget', () => {
  let world: SocialWorld;

  test.beforeAll(async ({ db }) => {
    world = await seedSocialWorld(db.pool, 2 * LIMIT + 2);
  });

  beforeEach(async () => {
    await awayFromWindowEdge();
  });

  const codes = (body: { errors?: { extensions?: Record<string, unknown> }[] }) =>
    body.errors?.map((e) => e.extensions?.code) ?? [];

  it('hides past the budget are RATE_LIMITED (429, Retry-After) and hide nothing', async ({
    db,
    gateway,
    tokens,
  }) => {
    const [viewer] = await insertUsers(db.pool, 1);
    const token = await tokens.user(viewer!.userId);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT * 2; i += 1) {
      const { status, body, headers } = await postGraphQL(
        gateway,
        'mutation($id: ID!) { hideListing(listingId: $id) { hidden } }',
        { token, variables: { id: String(world.listingIds[i]) } },
      );
      statuses.push(status);
      if (i >= LIMIT) {
        expect(codes(body)).toEqual(['RATE_LIMITED']);
        expect(Number(headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM hidden_listings WHERE user_id = $1',
      [viewer!.userId],
    );
    expect(rows[0]?.n).toBe(LIMIT);
  });

  it('feedback past the budget is RATE_LIMITED', async ({ db, gateway, tokens }) => {
    const [viewer] = await insertUsers(db.pool, 1);
    const token = await tokens.user(viewer!.userId);
    const seen: unknown[] = [];
    for (let i = 0; i < LIMIT + 2; i += 1) {
      const { body } = await postGraphQL(
        gateway,
        'mutation($id: ID!) { recordFeedback(impressionId: $id, reward: 1) { reward } }',
        { token, variables: { id: randomUUID() } },
      );
      seen.push(...codes(body));
    }
    // Unknown impressions are refused as bad input, but still spend the budget (the lookup costs).
    expect(seen).toEqual([...Array<string>(LIMIT).fill('BAD_USER_INPUT'), 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('admin operations share one admin budget', async ({ db, gateway, tokens }) => {
    const [admin] = await insertUsers(db.pool, 1);
    await db.pool.query(`UPDATE profiles SET role = 'admin' WHERE user_id = $1`, [admin!.userId]);
    const token = await tokens.admin(admin!.userId);
    const seen: unknown[] = [];
    for (const query of [
      'mutation { evaluateRollouts(dryRun: true) { auditId } }',
      'mutation { requeueStuckEvents { auditId } }',
      'mutation { evaluateRollouts(dryRun: true) { auditId } }',
      'mutation { requeueStuckEvents { auditId } }',
      'mutation { analyzeHotTables { auditId } }',
    ]) {
      const { body } = await postGraphQL(gateway, query, { token });
      seen.push(codes(body)[0] ?? 'ok');
    }
    expect(seen).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED']);
  });
});
