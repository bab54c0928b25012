import { createBadUserInputError, createNotFoundError } from '../errors/errors.js';
import { runWrite, type WriteContext, type WriteTx } from './runWrite.js';
import { parseSerialId } from '../validation/ids.js';

export interface InterestInput {
  interestId: number;
  /** 0..1; default 0.5. */
  affinity?: number | null;
}

export interface InterestsResult {
  userId: string;
  interestCount: number;
  added: number[];
  removed: number[];
  /** Whether the viewer now has a profile embedding (the feed personalises from it). */
  hasEmbedding: boolean;
  changed: boolean;
}

const DEFAULT_AFFINITY = 0.5;

function checkAffinity(affinity: number | null | undefined): number {
  const value = affinity ?? DEFAULT_AFFINITY;
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw createBadUserInputError(`affinity must be between 0 and 1, got ${value}`, 'affinity');
  }
  return value;
}

/** interest change lock: the viewer's profile row, held until commit. */
const lockProfileSql = `SELECT 1 FROM profiles WHERE user_id = $1 FOR NO KEY UPDATE`;
const knownInterestsSql = `SELECT id FROM interest_catalog WHERE id = ANY($1::int[])`;
const currentSql = `SELECT interest_id, affinity FROM user_interests WHERE user_id = $1`;
/** Upsert: a new interest, or a changed affinity of an existing one (which counts as reinforced). */
const upsertSql = `
INSERT INTO user_interests (user_id, interest_id, affinity) SELECT $1, * FROM unnest($2::int[], $3::real[])
ON CONFLICT (user_id, interest_id) DO UPDATE SET affinity = EXCLUDED.affinity, reinforced_at = now()
WHERE user_interests.affinity IS DISTINCT FROM EXCLUDED.affinity`;
const deleteSql = `DELETE FROM user_interests WHERE user_id = $1 AND interest_id = ANY($2::int[])`;
/** The profile embedding follows the interests at once: onboarding shows a personal feed right away. */
const recomputeSql = `SELECT recompute_profile_embedding($1) AS has`;
const hasEmbeddingSql = `SELECT embedding IS NOT NULL AS has FROM profiles WHERE user_id = $1`;

async function requireKnown(tx: WriteTx, ids: number[]): Promise<void> {
  const { rows } = await tx.client.query<{ id: number }>(knownInterestsSql, [ids]);
  const known = new Set(rows.map((r) => r.id));
  const unknown = ids.find((id) => !known.has(id));
  if (unknown !== undefined) throw createNotFoundError('interest', unknown);
}

const parseInterestId = (raw: string | number): number => parseSerialId(raw, 'interestId', 'interest');

/** What an interest change asks for; ids and affinities are checked by `changeInterests`. */
export type InterestChange =
  | { mode: 'set'; interests: { interestId: string | number; affinity?: number | null }[] }
  | { mode: 'add'; interests: { interestId: string | number; affinity?: number | null }[] }
  | { mode: 'remove'; interestIds: (string | number)[] };

/**
 * Changes the viewer's interests: `set` replaces them all, `add` adds or re-weights some, `remove` drops
 * some. At most `maxInterests` in total.
 */
export async function changeInterests(
  ctx: WriteContext,
  change: InterestChange,
  maxInterests: number,
  idempotencyKey?: string | null,
): Promise<InterestsResult> {
  const wanted =
    change.mode === 'remove'
      ? change.interestIds.map((id) => ({ interestId: parseInterestId(id), affinity: 0 }))
      : change.interests.map((i) => ({
          interestId: parseInterestId(i.interestId),
          affinity: checkAffinity(i.affinity),
        }));
  const ids = wanted.map((w) => w.interestId);
  if (new Set(ids).size !== ids.length)
    throw createBadUserInputError('each interest may appear once', 'interests');
  if (change.mode !== 'remove' && ids.length > maxInterests) {
    throw createBadUserInputError(`at most ${maxInterests} interests, got ${ids.length}`, 'interests');
  }
  const operation = `${change.mode}Interests`;
  const outcome = await runWrite(ctx, { operation, idempotencyKey, input: { wanted } }, async (tx) => {
    const userId = ctx.viewer.userId;
    // One interest change per user at a time, so concurrent adds cannot pass the cap together.
    await tx.client.query(lockProfileSql, [userId]);
    if (change.mode !== 'remove') await requireKnown(tx, ids);
    const current = new Map(
      (await tx.client.query<{ interest_id: number; affinity: number }>(currentSql, [userId])).rows.map(
        (r) => [r.interest_id, r.affinity],
      ),
    );
    const removed =
      change.mode === 'set'
        ? [...current.keys()].filter((id) => !ids.includes(id))
        : change.mode === 'remove'
          ? ids.filter((id) => current.has(id))
          : [];
    const upserts = change.mode === 'remove' ? [] : wanted;
    const added = upserts.filter((w) => !current.has(w.interestId)).map((w) => w.interestId);
    const reweighted = upserts
      .filter((w) => current.has(w.interestId) && current.get(w.interestId) !== w.affinity)
      .map((w) => w.interestId);
    const total = current.size - removed.length + added.length;
    if (total > maxInterests) {
      throw createBadUserInputError(
        `at most ${maxInterests} interests; this would make ${total}`,
        'interests',
      );
    }
    if (removed.length > 0) await tx.client.query(deleteSql, [userId, removed]);
    let updated = 0;
    if (upserts.length > 0) {
      const result = await tx.client.query(upsertSql, [
        userId,
        upserts.map((w) => w.interestId),
        upserts.map((w) => w.affinity),
      ]);
      updated = result.rowCount ?? 0;
    }
    const changed = removed.length > 0 || updated > 0;
    if (changed) await tx.enqueue('interests.changed', { userId, added, removed, reweighted });
    // A change recomputes the embedding at once; otherwise it is only read.
    const { rows } = await tx.client.query<{ has: boolean }>(changed ? recomputeSql : hasEmbeddingSql, [
      userId,
    ]);
    const hasEmbedding = rows[0]?.has === true;
    return { userId, interestCount: total, added, removed, hasEmbedding, changed };
  });
  if (outcome.result.changed && !outcome.replayed)
    await ctx.features.invalidate({ users: [ctx.viewer.userId] });
  return outcome.result;
}
