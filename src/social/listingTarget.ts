import { createBadUserInputError, createNotFoundError } from '../errors/errors.js';
import type { WriteTx } from './runWrite.js';

/** write target: the listing's state and seller (a like's or comment's foreign key then holds the row). */
const listingSql = `SELECT status, seller_id FROM marketplace_listings WHERE id = $1`;

export interface ListingTarget {
  status: string;
  sellerId: string;
}

/**
 * The listing a write is about: NOT_FOUND when it does not exist; with `action`, BAD_USER_INPUT unless it
 * is active ("it cannot be <action>").
 */
export async function listingTarget(tx: WriteTx, listingId: number, action?: string): Promise<ListingTarget> {
  const { rows } = await tx.client.query<{ status: string; seller_id: string }>(listingSql, [listingId]);
  const listing = rows[0];
  if (!listing) throw createNotFoundError('listing', listingId);
  if (action && listing.status !== 'active') {
    throw createBadUserInputError(
      `listing ${listingId} is ${listing.status}, not active: it cannot be ${action}`,
      'listingId',
    );
  }
  return { status: listing.status, sellerId: listing.seller_id };
}
