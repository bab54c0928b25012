import { afterEach, beforeEach, describe, expect } from 'vitest';
import type { UserViewer } from '../../src/auth/viewer.js';
import { asIdentity } from '../support/db.js';
import { clusterCentre } from '../support/feedWorld.js';
import { insertCategory, insertInterest, parseVector } from '../support/fixtures.js';
import type { InProcess } from '../support/gateway.js';
import { graphql } from '../support/graphql.js';
import { dataOf, expectErrorCode } from '../support/graphqlResult.js';
import { awayFromWindowEdge } from '../support/rateWindow.js';
import { outboxWhere, socialEnv, socialFile, type SocialFile } from '../support/socialWrites.js';
import { it, test } from '../support/testFixtures.js';

const PAYLOAD = graphql(`
  fragment InterestsPayloadFields on InterestsPayload {
    interests {
      affinity
      interest {
        id
      }
    }
    interestCount
    addedInterestIds
    removedInterestIds
    hasEmbedding
    changed
  }
`);

const SET_INTERESTS = graphql(
  `
    mutation SetInterests($interests: [InterestInput!]!) {
      setInterests(interests: $interests) {
        ...InterestsPayloadFields
      }
    }
  `,
  [PAYLOAD],
);

const ADD_INTEREST = graphql(
  `
    mutation AddInterest($interestId: ID!, $affinity: Float) {
      addInterest(interestId: $interestId, affinity: $affinity) {
        ...InterestsPayloadFields
      }
    }
  `,
  [PAYLOAD],
);

const REMOVE_INTEREST = graphql(
  `
    mutation RemoveInterest($interestId: ID!) {
      removeInterest(interestId: $interestId) {
        ...InterestsPayloadFields
      }
    }
  `,
  [PAYLOAD],
);

const MAX_INTERESTS = 3;
const UNKNOWN_INTEREST = 2_000_000_000;

/** Unit vector along the (normalised) weighted sum of cluster centres, as the database computes it. */
function expectedEmbedding(weights: readonly [cluster: number, affinity: number][]): number[] {
  const sum = new Array<number>(clusterCentre(0).length).fill(0);
  for (const [cluster, affinity] of weights) {
    clusterCentre(cluster).forEach((x, i) => (sum[i]! += x * affinity));
  }
  const norm = Math.hypot(...sum);
  return sum.map((x) => x / norm);
}

test.override('env', socialEnv({ MAX_INTERESTS: String(MAX_INTERESTS) }));

describe('setInterests, addInterest and removeInterest', () => {
  let file: SocialFile;
  /** withEmbedding[k] points at cluster k's centre. */
  let withEmbedding: number[];
  /** An interest without an embedding: it cannot personalise the feed. */
  let withoutEmbedding: number;
  let viewer: UserViewer;

  const id = (k: number) => String(withEmbedding[k]!);
  const set = (interests: { interestId: string; affinity?: number }[], as = viewer, h?: InProcess) =>
    (h ?? file.h).execute(SET_INTERESTS, {
      viewer: as,
      variables: { interests },
    });
  const add = (interestId: string, affinity?: number, as = viewer) =>
    file.h.execute(ADD_INTEREST, {
      viewer: as,
      variables: { interestId, affinity },
    });
  const remove = (interestId: string, as = viewer) =>
    file.h.execute(REMOVE_INTEREST, {
      viewer: as,
      variables: { interestId },
    });
  /** The viewer's interests as stored: id → affinity. */
  const stored = async (userId = viewer.userId) => {
    const { rows } = await file.db.pool.query<{ interest_id: number; affinity: number }>(
      'SELECT interest_id, affinity FROM user_interests WHERE user_id = $1 ORDER BY interest_id',
      [userId],
    );
    return Object.fromEntries(rows.map((r) => [String(r.interest_id), r.affinity]));
  };
  const profile = async (userId = viewer.userId) => {
    const { rows } = await file.db.pool.query<{ embedding: string | null; updated: Date | null }>(
      'SELECT embedding::text AS embedding, embedding_updated_at AS updated FROM profiles WHERE user_id = $1',
      [userId],
    );
    const row = rows[0]!;
    return { embedding: row.embedding === null ? null : parseVector(row.embedding), updated: row.updated };
  };
  const expectVector = (actual: number[] | null, expected: number[]) => {
    expect(actual).not.toBeNull();
    expect(actual).toHaveLength(expected.length);
    const worst = Math.max(...expected.map((x, i) => Math.abs(x - actual![i]!)));
    expect(worst).toBeLessThan(1e-5);
  };
  const outbox = (userId = viewer.userId) => outboxWhere(file.db.pool, ['interests.changed'], { userId });
  const nothingChanged = async () => {
    expect(await stored()).toEqual({});
    expect(await profile()).toEqual({ embedding: null, updated: null });
    expect(await outbox()).toEqual([]);
  };

  test.beforeAll(async ({ db, redis, inProcess, inProcessWith }) => {
    file = socialFile({ db, redis, inProcess, inProcessWith });
    const categoryId = await insertCategory(file.db.pool);
    withEmbedding = [];
    for (let k = 0; k < 6; k += 1) {
      withEmbedding.push(await insertInterest(file.db.pool, { categoryId, embedding: clusterCentre(k) }));
    }
    withoutEmbedding = await insertInterest(file.db.pool, { categoryId, embedding: null });
  });

  beforeEach(async () => {
    await file.flushRedis();
    viewer = (await file.users(1))[0]!;
  });

  afterEach(async () => {
    expect(await file.openTransactions()).toBe(0);
  });

  describe('setInterests', () => {
    it('on a new user adds each interest, lists them strongest first and personalises at once', async () => {
      const payload = dataOf(
        await set([
          { interestId: id(0), affinity: 0.25 },
          { interestId: id(1), affinity: 0.75 },
        ]),
      ).setInterests;
      expect(payload).toEqual({
        interests: [
          { affinity: 0.75, interest: { id: id(1) } },
          { affinity: 0.25, interest: { id: id(0) } },
        ],
        interestCount: 2,
        addedInterestIds: [id(0), id(1)],
        removedInterestIds: [],
        hasEmbedding: true,
        changed: true,
      });
      expect(await stored()).toEqual({ [id(0)]: 0.25, [id(1)]: 0.75 });
      const { embedding, updated } = await profile();
      expectVector(
        embedding,
        expectedEmbedding([
          [0, 0.25],
          [1, 0.75],
        ]),
      );
      expect(updated).not.toBeNull();
    });

    it('replaces the whole set: drops what is missing, adds what is new, re-weights what stays', async () => {
      dataOf(await set([{ interestId: id(0) }, { interestId: id(1), affinity: 0.5 }]));
      const payload = dataOf(
        await set([
          { interestId: id(1), affinity: 1 },
          { interestId: id(2), affinity: 0.5 },
        ]),
      ).setInterests;
      expect(payload).toMatchObject({
        interestCount: 2,
        addedInterestIds: [id(2)],
        removedInterestIds: [id(0)],
        changed: true,
      });
      expect(await stored()).toEqual({ [id(1)]: 1, [id(2)]: 0.5 });
      expectVector(
        (await profile()).embedding,
        expectedEmbedding([
          [1, 1],
          [2, 0.5],
        ]),
      );
    });

    it('an omitted affinity is 0.5', async () => {
      const payload = dataOf(await set([{ interestId: id(3) }])).setInterests;
      expect(payload.interests).toEqual([{ affinity: 0.5, interest: { id: id(3) } }]);
      expect(await stored()).toEqual({ [id(3)]: 0.5 });
    });

    it('setting the same interests again changes nothing: changed false, no event, the embedding left alone', async () => {
      const list = [
        { interestId: id(0), affinity: 0.3 },
        { interestId: id(1), affinity: 0.6 },
      ];
      dataOf(await set(list));
      const before = await profile();
      const payload = dataOf(await set([...list].reverse())).setInterests;
      expect(payload).toMatchObject({
        interestCount: 2,
        addedInterestIds: [],
        removedInterestIds: [],
        hasEmbedding: true,
        changed: false,
      });
      expect(await profile()).toEqual(before);
      expect(await outbox()).toHaveLength(1);
    });

    it('an empty list removes every interest and the embedding with them', async () => {
      dataOf(await set([{ interestId: id(0) }, { interestId: id(1) }]));
      const payload = dataOf(await set([])).setInterests;
      expect(payload).toEqual({
        interests: [],
        interestCount: 0,
        addedInterestIds: [],
        removedInterestIds: [id(0), id(1)],
        hasEmbedding: false,
        changed: true,
      });
      expect(await stored()).toEqual({});
      const { embedding, updated } = await profile();
      expect(embedding).toBeNull();
      expect(updated).not.toBeNull();
    });
  });

  describe('addInterest and removeInterest', () => {
    it('addInterest adds one and keeps the others', async () => {
      dataOf(await set([{ interestId: id(0), affinity: 0.5 }]));
      const payload = dataOf(await add(id(1), 0.5)).addInterest;
      expect(payload).toMatchObject({
        interestCount: 2,
        addedInterestIds: [id(1)],
        removedInterestIds: [],
        hasEmbedding: true,
        changed: true,
      });
      expect(await stored()).toEqual({ [id(0)]: 0.5, [id(1)]: 0.5 });
    });

    it('addInterest on one the user has re-weights it (and reinforces it); the same weight again is a no-op', async () => {
      dataOf(await add(id(0), 0.2));
      const { rows: before } = await file.db.pool.query<{ reinforced_at: Date }>(
        'SELECT reinforced_at FROM user_interests WHERE user_id = $1',
        [viewer.userId],
      );
      const reweighted = dataOf(await add(id(0), 0.9)).addInterest;
      expect(reweighted).toEqual({
        interests: [{ affinity: 0.9, interest: { id: id(0) } }],
        interestCount: 1,
        addedInterestIds: [],
        removedInterestIds: [],
        hasEmbedding: true,
        changed: true,
      });
      const { rows: after } = await file.db.pool.query<{ reinforced_at: Date }>(
        'SELECT reinforced_at FROM user_interests WHERE user_id = $1',
        [viewer.userId],
      );
      expect(after[0]!.reinforced_at.getTime()).toBeGreaterThan(before[0]!.reinforced_at.getTime());
      expect(dataOf(await add(id(0), 0.9)).addInterest).toMatchObject({ changed: false, interestCount: 1 });
      expect(await stored()).toEqual({ [id(0)]: 0.9 });
      expect((await outbox()).length).toBe(2);
    });

    it('removeInterest removes one and recomputes the embedding from the rest', async () => {
      dataOf(await set([{ interestId: id(0) }, { interestId: id(1) }]));
      const payload = dataOf(await remove(id(0))).removeInterest;
      expect(payload).toEqual({
        interests: [{ affinity: 0.5, interest: { id: id(1) } }],
        interestCount: 1,
        addedInterestIds: [],
        removedInterestIds: [id(0)],
        hasEmbedding: true,
        changed: true,
      });
      expectVector((await profile()).embedding, clusterCentre(1));
    });

    it('removing an interest the user does not have is a no-op, even an id nobody has', async () => {
      dataOf(await add(id(0)));
      for (const absent of [id(1), String(UNKNOWN_INTEREST)]) {
        expect(dataOf(await remove(absent)).removeInterest).toMatchObject({
          interestCount: 1,
          addedInterestIds: [],
          removedInterestIds: [],
          changed: false,
        });
      }
      expect(await stored()).toEqual({ [id(0)]: 0.5 });
      expect(await outbox()).toHaveLength(1);
    });
  });

  describe('validation', () => {
    it.each([-0.01, 1.01, 5])(
      'affinity %d is BAD_USER_INPUT, by set and by add, and nothing is written',
      async (a) => {
        const bySet = expectErrorCode(await set([{ interestId: id(0), affinity: a }]), 'BAD_USER_INPUT');
        expect(bySet.message).toBe(`affinity must be between 0 and 1, got ${a}`);
        expect(bySet.extensions.field).toBe('affinity');
        expect(expectErrorCode(await add(id(0), a), 'BAD_USER_INPUT').message).toBe(
          `affinity must be between 0 and 1, got ${a}`,
        );
        await nothingChanged();
      },
    );

    it('affinities 0 and 1 are accepted', async () => {
      const payload = dataOf(
        await set([
          { interestId: id(0), affinity: 0 },
          { interestId: id(1), affinity: 1 },
        ]),
      ).setInterests;
      expect(payload.interests.map((i) => i.affinity)).toEqual([1, 0]);
    });

    it('an unknown interest is NOT_FOUND naming it; a set that includes one writes nothing', async () => {
      const bySet = expectErrorCode(
        await set([{ interestId: id(0) }, { interestId: String(UNKNOWN_INTEREST) }]),
        'NOT_FOUND',
      );
      expect(bySet.message).toBe(`interest ${UNKNOWN_INTEREST} was not found`);
      expect(expectErrorCode(await add(String(UNKNOWN_INTEREST)), 'NOT_FOUND').message).toBe(
        `interest ${UNKNOWN_INTEREST} was not found`,
      );
      await nothingChanged();
    });

    it.each(['abc', '0', '-4', '1.5', '99999999999'])(
      'a malformed interest id (%s) is BAD_USER_INPUT on interestId',
      async (bad) => {
        const { message, extensions } = expectErrorCode(await add(bad), 'BAD_USER_INPUT');
        expect(message).toBe(`interestId must be an interest id (a positive whole number), got "${bad}"`);
        expect(extensions.field).toBe('interestId');
        expectErrorCode(await set([{ interestId: bad }]), 'BAD_USER_INPUT');
        expectErrorCode(await remove(bad), 'BAD_USER_INPUT');
        await nothingChanged();
      },
    );

    it('an interest listed twice in one set is BAD_USER_INPUT, and nothing is written', async () => {
      const { message, extensions } = expectErrorCode(
        await set([
          { interestId: id(0), affinity: 0.2 },
          { interestId: id(0), affinity: 0.8 },
        ]),
        'BAD_USER_INPUT',
      );
      expect(message).toBe('each interest may appear once');
      expect(extensions.field).toBe('interests');
      await nothingChanged();
    });
  });

  describe(`at most MAX_INTERESTS (${MAX_INTERESTS} here)`, () => {
    it('a set of 4 is refused; so is adding a 4th; re-weighting or replacing at the cap is fine', async () => {
      const four = [0, 1, 2, 3].map((k) => ({ interestId: id(k) }));
      const bySet = expectErrorCode(await set(four), 'BAD_USER_INPUT');
      expect(bySet.message).toBe('at most 3 interests, got 4');
      expect(bySet.extensions.field).toBe('interests');
      await nothingChanged();

      dataOf(await set(four.slice(0, 3)));
      const byAdd = expectErrorCode(await add(id(3)), 'BAD_USER_INPUT');
      expect(byAdd.message).toBe('at most 3 interests; this would make 4');
      expect(byAdd.extensions.field).toBe('interests');
      expect(Object.keys(await stored())).toHaveLength(3);

      expect(dataOf(await add(id(0), 0.9)).addInterest).toMatchObject({ interestCount: 3, changed: true });
      const replaced = dataOf(await set(four.slice(1))).setInterests;
      expect(replaced).toMatchObject({
        interestCount: 3,
        addedInterestIds: [id(3)],
        removedInterestIds: [id(0)],
      });
    });

    it('concurrent adds cannot take a user past the cap', async () => {
      const results = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => add(id(k))));
      const refused = results.filter((r) => r.errors !== undefined);
      for (const r of refused) expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      expect(Object.keys(await stored()).length).toBeLessThanOrEqual(MAX_INTERESTS);
      expect(results.length - refused.length).toBe(Object.keys(await stored()).length);
    });
  });

  describe('the profile embedding', () => {
    it('follows the interests as they change, and hasEmbedding says whether there is one', async () => {
      const onlyPlain = dataOf(await add(String(withoutEmbedding))).addInterest;
      expect(onlyPlain.hasEmbedding).toBe(false);
      const afterPlain = await profile();
      expect(afterPlain.embedding).toBeNull();
      expect(afterPlain.updated).not.toBeNull();

      expect(dataOf(await add(id(2), 0.8)).addInterest.hasEmbedding).toBe(true);
      const first = await profile();
      expectVector(first.embedding, clusterCentre(2));

      dataOf(await add(id(4), 0.4));
      const second = await profile();
      expectVector(
        second.embedding,
        expectedEmbedding([
          [2, 0.8],
          [4, 0.4],
        ]),
      );
      expect(second.updated!.getTime()).toBeGreaterThanOrEqual(first.updated!.getTime());

      expect(dataOf(await remove(id(2))).removeInterest.hasEmbedding).toBe(true);
      expectVector((await profile()).embedding, clusterCentre(4));
    });

    it('an interest with affinity 0 does not personalise: hasEmbedding stays false', async () => {
      const payload = dataOf(await add(id(0), 0)).addInterest;
      expect(payload).toMatchObject({ changed: true, hasEmbedding: false, interestCount: 1 });
      expect((await profile()).embedding).toBeNull();
    });
  });

  describe('outbox', () => {
    it('writes one interests.changed per real change, with what was added, removed and re-weighted, none otherwise', async () => {
      dataOf(await set([{ interestId: id(0) }, { interestId: id(1) }]));
      dataOf(await set([{ interestId: id(1) }, { interestId: id(0) }]));
      dataOf(await add(id(1), 0.9));
      dataOf(await add(id(1), 0.9));
      dataOf(await set([{ interestId: id(1), affinity: 0.9 }, { interestId: id(2) }]));
      dataOf(await remove(id(2)));
      dataOf(await remove(id(2)));
      expectErrorCode(await add(String(UNKNOWN_INTEREST)), 'NOT_FOUND');
      expectErrorCode(await add(id(3), 2), 'BAD_USER_INPUT');
      const u = viewer.userId;
      const [i0, i1, i2] = withEmbedding;
      expect(await outbox()).toEqual([
        { kind: 'interests.changed', payload: { userId: u, added: [i0, i1], removed: [], reweighted: [] } },
        { kind: 'interests.changed', payload: { userId: u, added: [], removed: [], reweighted: [i1] } },
        { kind: 'interests.changed', payload: { userId: u, added: [i2], removed: [i0], reweighted: [] } },
        { kind: 'interests.changed', payload: { userId: u, added: [], removed: [i2], reweighted: [] } },
      ]);
    });
  });

  describe('row-level security', () => {
    it("user A's transaction cannot add an interest for user B (42501) nor re-weight B's", async () => {
      const other = (await file.users(1))[0]!;
      dataOf(await add(id(0), 0.5, other));
      const insert = asIdentity(file.db, { role: 'user', userId: viewer.userId }, (client) =>
        client.query('INSERT INTO user_interests (user_id, interest_id, affinity) VALUES ($1, $2, 0.9)', [
          other.userId,
          withEmbedding[1],
        ]),
      );
      await expect(insert).rejects.toMatchObject({
        code: '42501',
        message: 'new row violates row-level security policy for table "user_interests"',
      });
      const updated = await asIdentity(
        file.db,
        { role: 'user', userId: viewer.userId },
        async (client) =>
          (await client.query('UPDATE user_interests SET affinity = 1 WHERE user_id = $1', [other.userId]))
            .rowCount,
        { commit: true },
      );
      expect(updated).toBe(0);
      expect(await stored(other.userId)).toEqual({ [id(0)]: 0.5 });
    });
  });

  describe('rate limit', () => {
    it('the change after the budget is RATE_LIMITED and writes nothing', async () => {
      const limited = file.harness({ RATE_LIMIT_INTERESTS_PER_MIN: '2' });
      // The three changes must fall in one window, or the third gets a fresh budget.
      await awayFromWindowEdge();
      dataOf(await set([{ interestId: id(0) }], viewer, limited));
      dataOf(await set([{ interestId: id(1) }], viewer, limited));
      const { message, extensions } = expectErrorCode(
        await set([{ interestId: id(2) }], viewer, limited),
        'RATE_LIMITED',
      );
      expect(message).toMatch(/^too many interests; retry in \d+ s$/);
      expect(extensions).toMatchObject({ action: 'interest' });
      expect(await stored()).toEqual({ [id(1)]: 0.5 });
    });
  });
});
