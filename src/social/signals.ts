import { createBadUserInputError } from '../errors/errors.js';
import { listingTarget } from './listingTarget.js';
import { runWrite, type WriteContext } from './runWrite.js';

export const SIGNAL_KINDS = ['view', 'click', 'dwell', 'share', 'save', 'search'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

export interface SignalResult {
  signalId: string;
  kind: SignalKind;
  listingId: number | null;
  weight: number;
}

const insertSignalSql = `
INSERT INTO intent_signals (user_id, kind, listing_id, query, weight) VALUES ($1, $2, $3, $4, $5) RETURNING id::text`;

/**
 * Records one behaviour signal: a listing for view/click/dwell/share/save, a query (1–200 characters)
 * for search; weight 0..1000 (default 1; e.g. dwell seconds).
 */
export async function recordSignal(
  ctx: WriteContext,
  input: { kind: SignalKind; listingId: number | null; query: string | null; weight: number | null },
  idempotencyKey?: string | null,
): Promise<SignalResult> {
  const weight = input.weight ?? 1;
  if (!Number.isFinite(weight) || weight < 0 || weight > 1000) {
    throw createBadUserInputError(`weight must be between 0 and 1000, got ${weight}`, 'weight');
  }
  const query = input.query?.trim() ?? null;
  if (input.kind === 'search') {
    if (!query || [...query].length > 200) {
      throw createBadUserInputError('a search signal needs a query of 1 to 200 characters', 'query');
    }
  } else if (input.listingId === null) {
    throw createBadUserInputError(`a ${input.kind} signal needs a listingId`, 'listingId');
  }
  const { result } = await runWrite(
    ctx,
    { operation: 'recordSignal', idempotencyKey, input: { ...input, query, weight } },
    async (tx): Promise<SignalResult> => {
      // Any status: a sold listing can still be viewed.
      if (input.listingId !== null) await listingTarget(tx, input.listingId);
      const { rows } = await tx.client.query<{ id: string }>(insertSignalSql, [
        ctx.viewer.userId,
        input.kind,
        input.listingId,
        input.kind === 'search' ? query : null,
        weight,
      ]);
      const signalId = rows[0]?.id ?? '';
      await tx.enqueue('signal.recorded', {
        signalId,
        userId: ctx.viewer.userId,
        kind: input.kind,
        listingId: input.listingId,
      });
      return { signalId, kind: input.kind, listingId: input.listingId, weight };
    },
  );
  return result;
}
