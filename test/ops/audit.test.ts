import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSchema } from '../../src/schema/index.js';
import { adminRootFields } from '../../src/server/telemetryPlugin.js';
import { cursorOf, dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { insertProfile } from '../support/fixtures.js';
import { openOpsFile, type OpsFile } from '../support/opsHarness.js';
import { graphql, type ResultOf } from '../support/graphql.js';

/** ops_audit: one row per admin action, success or failure, and the ops.auditLog that pages it. */

const AUDIT_LOG = graphql(`
  query Audit(
    $first: Int
    $after: String
    $last: Int
    $before: String
    $action: String
    $actor: String
    $since: DateTime
    $until: DateTime
  ) {
    ops {
      auditLog(
        first: $first
        after: $after
        last: $last
        before: $before
        action: $action
        actor: $actor
        since: $since
        until: $until
      ) {
        edges {
          cursor
          node {
            id
            actorId
            actorHandle
            action
            actorRole
            argsJson
            resultJson
            ok
            error
            durationMs
            requestId
            at
          }
        }
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
      }
    }
  }
`);

const REQUEUE = graphql(`
  mutation AuditRequeue($reason: String) {
    requeueStuckEvents(reason: $reason) {
      auditId
    }
  }
`);

describe('ops audit', () => {
  let file: OpsFile;

  const page = async (variables: Record<string, unknown>) =>
    (await file.data(AUDIT_LOG, variables)).ops.auditLog;
  /** Every entry, following endCursor `size` at a time. */
  const pageThrough = async (size: number, action?: string) => {
    const ids: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 100; guard += 1) {
      const current: ResultOf<typeof AUDIT_LOG>['ops']['auditLog'] = await page({
        first: size,
        after,
        action,
      });
      ids.push(...current.edges.map((e) => e.node.id));
      if (!current.pageInfo.hasNextPage) return ids;
      after = current.pageInfo.endCursor;
    }
    throw new Error('auditLog never reached its last page');
  };
  /** The audit ids newest first, read from the table. */
  const newestFirst = async (action?: string) => (await file.audit(action)).map((r) => r.id).reverse();

  beforeAll(async () => {
    file = await openOpsFile();
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
  });

  afterAll(async () => {
    await file?.close();
  });

  it('records who ran which action, with which arguments, the result, the duration and the request id', async () => {
    const result = dataOf(
      await file.execute(
        graphql('mutation { requeueDiscoveryErrors(maxAttempts: 4) { requeued auditId durationMs } }'),
        {},
        { requestId: 'req-audit-1' },
      ),
    ).requeueDiscoveryErrors;
    const [row] = await file.audit('requeueDiscoveryErrors');
    expect(row).toEqual({
      id: result.auditId,
      actor_id: file.admin.userId,
      actor_role: 'admin',
      action: 'requeueDiscoveryErrors',
      args: { maxAttempts: 4 },
      result: { requeued: 0, maxAttempts: 4 },
      ok: true,
      error: null,
      duration_ms: expect.any(Number) as unknown,
      request_id: 'req-audit-1',
    });
    expect(row!.duration_ms).toBeGreaterThan(0);
    expect(row!.duration_ms).toBeCloseTo(result.durationMs, 6);

    // The defaults the action applied are what it ran with, so they are what is recorded.
    await file.data('mutation { requeueDiscoveryErrors { requeued } }');
    expect((await file.audit('requeueDiscoveryErrors')).at(-1)?.args).toEqual({ maxAttempts: 5 });
  });

  it('records a failing action with ok = false and its error message', async () => {
    expectErrorCode(
      await file.execute(
        'mutation { enqueueDiscovery(interestId: 424242) { enqueued } }',
        {},
        { requestId: 'req-audit-fail' },
      ),
      'NOT_FOUND',
    );
    const row = (await file.audit('enqueueDiscovery')).at(-1);
    expect(row).toMatchObject({
      actor_id: file.admin.userId,
      actor_role: 'admin',
      args: { interestId: 424242 },
      result: null,
      ok: false,
      error: 'interest 424242 was not found',
      request_id: 'req-audit-fail',
    });
  });

  it('every admin mutation takes a reason, kept with its arguments in the audit row', async () => {
    // The console asks for a reason before every action (issue #20): no admin mutation may lack one.
    const schema = createSchema();
    const mutations = schema.getMutationType()?.getFields() ?? {};
    // The catalogue writes (service callers' batches) carry their `source` instead.
    const catalogueWrites = new Set(['setListingStatus', 'upsertInterests', 'upsertListings']);
    const withoutReason = [...adminRootFields(schema)].filter(
      (name) =>
        mutations[name] &&
        !catalogueWrites.has(name) &&
        !mutations[name].args.some((arg) => arg.name === 'reason'),
    );
    expect(withoutReason).toEqual([]);

    await file.data('mutation { requeueStuckEvents(reason: "  ticket OPS-42: lease storm  ") { requeued } }');
    expect((await file.audit('requeueStuckEvents')).at(-1)?.args).toEqual({
      reason: 'ticket OPS-42: lease storm',
    });
    await file.data(
      graphql(`
        mutation {
          saveExperiment(
            input: {
              key: "audit-reason"
              active: false
              arms: [{ name: "control", weight: 100, policy: EPSILON_GREEDY }]
            }
            reason: "try a smaller epsilon"
          ) {
            key
          }
        }
      `),
    );
    expect((await file.audit('saveExperiment')).at(-1)?.args).toMatchObject({
      key: 'audit-reason',
      reason: 'try a smaller epsilon',
    });
    const tooLong = 'x'.repeat(501);
    expectErrorCode(
      await file.execute(`mutation { requeueStuckEvents(reason: "${tooLong}") { requeued } }`),
      'BAD_USER_INPUT',
    );
    expectErrorCode(
      await file.execute(
        `mutation { saveExperiment(input: { key: "audit-reason", active: false, arms: [{ name: "control", weight: 100, policy: EPSILON_GREEDY }] }, reason: "${tooLong}") { key } }`,
      ),
      'BAD_USER_INPUT',
    );
  });

  it('auditLog shows the newest entry first with its arguments and result', async () => {
    await file.data('mutation { gcIntentSignals(retentionDays: 30) { deleted } }');
    await file.data('mutation { analyzeHotTables { tables } }');
    const first = await page({ first: 2 });
    expect(first.edges.map((e) => e.node)).toMatchObject([
      {
        action: 'analyzeHotTables',
        actorRole: 'admin',
        argsJson: '{}',
        ok: true,
        error: null,
      },
      {
        action: 'gcIntentSignals',
        actorId: file.admin.userId,
        argsJson: '{"retentionDays":30}',
        resultJson: '{"deleted":0}',
        ok: true,
      },
    ]);
    expect(JSON.parse(first.edges[0]!.node.resultJson ?? 'null')).toEqual({
      tables: [
        'interest_catalog',
        'profiles',
        'marketplace_listings',
        'events_queue',
        'marketplace_discovery_queue',
      ],
    });
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it('auditLog pages newest first, two at a time, past the tenth entry', async () => {
    for (let i = 0; i < 6; i += 1) {
      await file.data('mutation { decayInterests { decayed } }');
      await file.data('mutation { requeueStuckEvents { requeued } }');
    }
    const expected = await newestFirst();
    expect(expected.length).toBeGreaterThan(12);
    const firstPage = await page({ first: 2 });
    expect(firstPage.edges.map((e) => e.node.id)).toEqual(expected.slice(0, 2));
    expect(await pageThrough(2)).toEqual(expected);
  });

  it('auditLog(action:) lists only that action, newest first', async () => {
    const decays = await page({ first: 100, action: 'decayInterests' });
    expect(new Set(decays.edges.map((e) => e.node.action))).toEqual(new Set(['decayInterests']));
    expect(decays.edges.map((e) => e.node.id)).toEqual(await newestFirst('decayInterests'));
    expect(await pageThrough(4, 'requeueStuckEvents')).toEqual(await newestFirst('requeueStuckEvents'));
    expect((await page({ first: 5, action: 'noSuchAction' })).edges).toEqual([]);
  });

  it('auditLog(actor:, since:, until:) finds one admin’s actions, by handle or id, in a time window', async () => {
    const handle = `auditor_${Date.now() % 100_000}`;
    const userId = await insertProfile(file.db.pool, { handle, role: 'admin' });
    const auditor = { role: 'admin' as const, userId };
    const run = () =>
      file.execute(REQUEUE, { reason: 'audit filter test' }, { viewer: auditor }).then(dataOf);
    await run();
    // 20 ms on either side of `between`: a DateTime has milliseconds, so `since` below is `between`
    // truncated, and an action in the same millisecond would fall on the wrong side of it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [{ at: between } = { at: '' }] = (
      await file.db.pool.query<{ at: string }>('SELECT now()::text AS at')
    ).rows;
    await new Promise((resolve) => setTimeout(resolve, 20));
    await run();

    const byHandle = await page({ first: 10, actor: handle.toUpperCase() });
    expect(byHandle.edges.map((e) => [e.node.actorId, e.node.actorHandle, e.node.action])).toEqual([
      [userId, handle, 'requeueStuckEvents'],
      [userId, handle, 'requeueStuckEvents'],
    ]);
    // As the console shows it, and an id in any case.
    for (const actor of [`@${handle}`, userId, userId.toUpperCase()]) {
      expect(
        (await page({ first: 10, actor })).edges.map((e) => e.node.id),
        actor,
      ).toEqual(byHandle.edges.map((e) => e.node.id));
    }
    const [newer, older] = byHandle.edges.map((e) => e.node.id);
    const since = new Date(between).toISOString();
    expect((await page({ first: 10, actor: handle, since })).edges.map((e) => e.node.id)).toEqual([newer]);
    expect((await page({ first: 10, actor: handle, until: since })).edges.map((e) => e.node.id)).toEqual([
      older,
    ]);
    expect((await page({ first: 10, actor: 'nobody_here' })).edges).toEqual([]);
    // The file's own admin has no profile: its rows have an id and no handle.
    const others = await page({ first: 5, actor: file.admin.userId });
    expect(others.edges.length).toBeGreaterThan(0);
    expect(others.edges.every((e) => e.node.actorHandle === null)).toBe(true);
    const error = expectErrorCode(
      await file.execute(AUDIT_LOG, { first: 1, since, until: since }),
      'BAD_USER_INPUT',
    );
    expect(error.extensions.field).toBe('since');
    const tooLong = expectErrorCode(
      await file.execute(AUDIT_LOG, { first: 1, actor: 'x'.repeat(65) }),
      'BAD_USER_INPUT',
    );
    expect(tooLong.extensions.field).toBe('actor');
    // A blank actor is a mistake, not "every actor" (leaving it out is).
    for (const actor of ['', '@', '   ']) {
      const blank = expectErrorCode(await file.execute(AUDIT_LOG, { first: 1, actor }), 'BAD_USER_INPUT');
      expect(blank.extensions.field, JSON.stringify(actor)).toBe('actor');
    }
  });

  it('auditLog pages backwards with last/before', async () => {
    const expected = await newestFirst();
    const oldest = await page({ last: 3 });
    expect(oldest.edges.map((e) => e.node.id)).toEqual(expected.slice(-3));
    expect(oldest.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    const newer = await page({ last: 3, before: oldest.pageInfo.startCursor });
    expect(newer.edges.map((e) => e.node.id)).toEqual(expected.slice(-6, -3));
  });

  it('auditLog refuses a cursor it did not make', async () => {
    const error = expectErrorCode(
      await file.execute(AUDIT_LOG, { first: 2, after: cursorOf({ v: 1, k: ['1; DROP TABLE ops_audit'] }) }),
      'BAD_USER_INPUT',
    );
    expect(error.extensions.field).toBe('after');
  });
});
