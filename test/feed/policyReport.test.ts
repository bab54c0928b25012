import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createFeedHarness, suggestionsPage, type FeedHarness } from '../support/feedHarness.js';
import { createFeedViewer, seedFeedWorld, type FeedWorld } from '../support/feedWorld.js';
import { graphql } from '../support/graphql.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';

const REPORT = graphql(`
  query ($since: DateTime) {
    ops {
      policyReport(since: $since) {
        since
        policies {
          policy
          impressions
          rewarded
          ctr {
            value
            low
            high
          }
        }
        arms {
          policy
          experiment
          arm
          impressions
          rewarded
          actions {
            action
            impressions
            rewarded
            ctr {
              value
            }
            ips {
              value
              low
              high
            }
            snips {
              value
              low
              high
            }
            effectiveSampleSize
          }
        }
      }
    }
  }
`);

const RECORD_FEEDBACK = graphql(`
  mutation ($id: ID!) {
    recordFeedback(impressionId: $id, reward: 1) {
      reward
    }
  }
`);

const admin: Viewer = { role: 'admin', userId: '00000000-0000-4000-8000-00000000a002' };

describe('ops.policyReport', () => {
  let db: TestDatabase;
  let world: FeedWorld;
  let h: FeedHarness;

  const report = async (since?: string) =>
    dataOf(await h.execute(REPORT, { viewer: admin, variables: { since } })).ops.policyReport;

  beforeAll(async () => {
    db = await createTestDatabase();
    world = await seedFeedWorld(db.pool, [30, 30, 30]);
    h = createFeedHarness(db, { FEED_EPSILON: '0.5' });
  });

  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  it('counts what the feed served and rewarded, per policy and action, with IPS/SNIPS estimates', async () => {
    const viewers = await Promise.all(
      Array.from({ length: 4 }, () =>
        createFeedViewer(db.pool, [{ interestId: world.interestIds[0]!, affinity: 1 }]),
      ),
    );
    let served = 0;
    for (const who of viewers) {
      const page = await suggestionsPage(h, who, { first: 10 });
      served += page.edges.length;
      // The viewer likes what came first on the page.
      const first = page.edges[0]!.node.impressionId;
      await h.execute(RECORD_FEEDBACK, {
        viewer: who,
        variables: { id: first },
      });
    }
    const result = await report();
    const greedy = result.policies.find((p) => p.policy === 'epsilon-greedy');
    expect(greedy).toMatchObject({ impressions: served, rewarded: 4 });
    expect(greedy!.ctr!.value).toBeCloseTo(4 / served, 6);
    const [group] = result.arms;
    expect(group).toMatchObject({
      policy: 'epsilon-greedy',
      experiment: null,
      arm: null,
      impressions: served,
    });
    const actions = group!.actions;
    expect(actions.reduce((n, a) => n + a.impressions, 0)).toBe(served);
    const similar = actions.find((a) => a.action === 'SIMILAR')!;
    // ε = 0.5: SIMILAR's propensity is 0.5, so each SIMILAR impression weighs 2 in IPS.
    expect(similar.effectiveSampleSize).toBeCloseTo(similar.impressions, 6);
    expect(similar.snips!.value).toBeCloseTo(similar.rewarded / similar.impressions, 6);
    expect(similar.ips!.value).toBeCloseTo((2 * similar.rewarded) / served, 6);
  });

  it('leaves out impressions before `since`', async () => {
    // Every impression so far was written before this moment.
    const boundary = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const result = await report(boundary.toISOString());
    expect(result.policies).toEqual([]);
  });

  it('refuses a `since` in the future with BAD_USER_INPUT', async () => {
    const result = await h.execute(REPORT, {
      viewer: admin,
      variables: { since: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(expectErrorCode(result, 'BAD_USER_INPUT').message).toContain('since');
  });

  it('is admin only: users get FORBIDDEN, anonymous callers UNAUTHENTICATED', async () => {
    const user = await createFeedViewer(db.pool, []);
    expectErrorCode(await h.execute(REPORT, { viewer: user }), 'FORBIDDEN');
    expectErrorCode(await h.execute(REPORT, {}), 'UNAUTHENTICATED');
  });
});
