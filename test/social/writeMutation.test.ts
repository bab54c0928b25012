import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { UserViewer } from '../../src/auth/viewer.js';
import { writeMutation } from '../../src/resolvers/writeMutation.js';
import { graphql } from '../support/graphql.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { RATE_LIMITS, storedKeys } from '../support/socialWorld.js';
import { socialEnv, socialFile, type SocialFile } from '../support/socialWrites.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';
import { it, test } from '../support/testFixtures.js';

const FOLLOW = graphql(
  'mutation ($userId: ID!, $key: String) { follow(userId: $userId, idempotencyKey: $key) { changed } }',
);

/**
 * The order every write mutation keeps (src/resolvers/writeMutation.ts): arguments checked, then the
 * budget spent, then the idempotency key picked (argument over header), then the domain called.
 */
test.override('env', socialEnv());

describe('writeMutation: the order of a write', () => {
  let file: SocialFile;

  /** What each write budget has spent so far, by action. */
  const spent = async (viewer: UserViewer) => {
    const limits = dataOf(await file.h.execute(RATE_LIMITS, { viewer })).me?.rateLimits ?? [];
    return Object.fromEntries(limits.map((l) => [l.action, l.limit - l.remaining]));
  };
  const nothingSpent = { LIKE: 0, COMMENT: 0, FOLLOW: 0, INTEREST: 0, SIGNAL: 0, HIDE: 0, FEEDBACK: 0 };

  test.beforeAll(async ({ db, redis, inProcess, inProcessWith }) => {
    file = socialFile({ db, redis, inProcess, inProcessWith });
  });

  beforeEach(async () => {
    await file.flushRedis();
    await awayFromWindowEdge();
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
  });

  it('input refused as BAD_USER_INPUT spends no budget; well-formed input that fails later does', async () => {
    const viewer = (await file.users(1))[0]!;
    const refused: [string, Record<string, unknown>][] = [
      ['mutation($id: ID!) { likeListing(listingId: $id) { changed } }', { id: 'x' }],
      ['mutation($id: ID!) { unlikeListing(listingId: $id) { changed } }', { id: '0' }],
      ['mutation($id: ID!) { addComment(listingId: $id, body: "one") { changed } }', { id: '-1' }],
      ['mutation($id: ID!) { addComment(listingId: $id, body: "  ") { changed } }', { id: '1' }],
      ['mutation($id: ID!) { deleteComment(commentId: $id) { changed } }', { id: 'x' }],
      ['mutation($id: ID!) { follow(userId: $id) { changed } }', { id: 'not-a-user' }],
      ['mutation($id: ID!) { follow(userId: $id) { changed } }', { id: viewer.userId }],
      ['mutation($id: ID!) { unfollow(userId: $id) { changed } }', { id: viewer.userId.toUpperCase() }],
      ['mutation($id: ID!) { recordSignal(kind: VIEW, listingId: $id) { signalId } }', { id: '1.5' }],
      ['mutation($id: ID!) { hideListing(listingId: $id) { hidden } }', { id: '' }],
      ['mutation($id: ID!) { recordFeedback(impressionId: $id, reward: 1) { reward } }', { id: 'x' }],
      [
        'mutation($id: ID!) { recordFeedback(impressionId: $id, reward: 2) { reward } }',
        { id: randomUUID() },
      ],
    ];
    for (const [source, variables] of refused) {
      expectErrorCode(await file.h.execute(source, { viewer, variables }), 'BAD_USER_INPUT');
    }
    expect(await spent(viewer)).toEqual(nothingSpent);
    // Checked arguments, then the budget, then the domain: a listing that does not exist costs one like.
    const missing = await file.h.execute('mutation { likeListing(listingId: "2000000000") { changed } }', {
      viewer,
    });
    expectErrorCode(missing, 'NOT_FOUND');
    expect(await spent(viewer)).toEqual({ ...nothingSpent, LIKE: 1 });
  });

  it('the idempotencyKey argument wins over the Idempotency-Key header; without one the header is used', async () => {
    const [viewer, a, b, c] = await file.users(4);
    const follow = (userId: string, key: string | null | undefined, header?: string) =>
      file.h.execute(FOLLOW, {
        viewer,
        variables: { userId, key },
        ...(header === undefined ? {} : { idempotencyKey: header }),
      });
    expect(dataOf(await follow(a!.userId, 'arg-1', 'header-1')).follow.changed).toBe(true);
    expect((await storedKeys(file.db.pool, viewer!.userId)).map((k) => k.key)).toEqual(['arg-1']);
    // The header alone is the key: bound to following a, so following b with it is refused.
    expectErrorCode(await follow(b!.userId, undefined, 'arg-1'), 'IDEMPOTENCY_KEY_REUSED');
    // An explicit null argument falls back to the header too.
    expect(dataOf(await follow(c!.userId, null, 'header-1')).follow.changed).toBe(true);
    expect((await storedKeys(file.db.pool, viewer!.userId)).map((k) => k.key)).toEqual(['arg-1', 'header-1']);
  });

  it('takes only mutation names that have a budget (a type error otherwise)', () => {
    const steps = { parse: () => null, run: () => Promise.resolve(null) };
    expect(typeof writeMutation('likeListing', steps)).toBe('function');
    // @ts-expect-error: not in MUTATION_BUDGETS (src/social/budgets.ts)
    expect(typeof writeMutation('noSuchMutation', steps)).toBe('function');
  });
});
