import type { Context } from '../context.js';
import { withIdentity } from '../db/identity.js';
import { createBadUserInputError, createUnauthenticatedError } from '../errors/errors.js';
import {
  listErasureRequests,
  requestErasure,
  type ErasureRequest,
  type ErasureRequestView,
} from '../privacy/erasure.js';
import { checkPageSize, DEFAULT_PAGE_SIZE } from '../validation/pageSize.js';
import { writeMutation } from './writeMutation.js';

/**
 * deleteMyAccount: the signed-in person asks for their account to be erased, confirming with their own
 * handle. From the commit on, their tokens are refused (this process forgets their role at once; other
 * gateways within AUTH_ROLE_CACHE_MS); the worker does the erasure (docs/privacy.md#erasure).
 */
export const deleteMyAccount = writeMutation('deleteMyAccount', {
  parse: (args: { confirmHandle: string }) => ({ confirmHandle: args.confirmHandle.trim().toLowerCase() }),
  run: async (ctx: Context, input): Promise<ErasureRequest> => {
    const { viewer } = ctx;
    if (viewer.userId === null) throw createUnauthenticatedError('sign in to delete your account');
    const userId = viewer.userId;
    const request = await withIdentity(ctx.db.pool, viewer, async (client) => {
      const { rows } = await client.query<{ handle: string }>(
        'SELECT handle FROM profiles WHERE user_id = $1',
        [userId],
      );
      const handle = rows[0]?.handle;
      if (handle === undefined) throw createUnauthenticatedError('the account of this token does not exist');
      if (handle !== input.confirmHandle) {
        throw createBadUserInputError(
          'confirmHandle must be your own handle: it confirms that this account is to be erased',
          'confirmHandle',
        );
      }
      return requestErasure(client, userId);
    });
    if (!request) throw createUnauthenticatedError('the account of this token does not exist');
    ctx.roles.forget(userId);
    return request;
  },
});

/** ops.erasureRequests: open requests first, then the latest finished ones. */
export async function erasureRequests(
  ctx: Context,
  first: number | null | undefined,
): Promise<ErasureRequestView[]> {
  const limit = checkPageSize('first', first ?? DEFAULT_PAGE_SIZE);
  return withIdentity(ctx.db.pool, ctx.viewer, (client) => listErasureRequests(client, limit));
}
