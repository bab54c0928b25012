import { randomUUID } from 'node:crypto';
import type { Viewer } from '../auth/viewer.js';
import type { Category, Listing } from '../generated/prisma/client.js';
import { joinedListingsOf, type ListingSqlRow } from '../catalog/listingRows.js';
import type { ServiceDb } from '../db/service.js';
import type { SlotDecision } from './policies/types.js';
import { insertImpressionsSql } from './sql.js';

/** A served page as logged: its impression ids (in page order) and its listings as they are now. */
export interface LoggedPage {
  impressionIds: string[];
  /** The page's listings by id, as the same statement read them; one no longer active is missing. */
  listings: Map<number, Listing>;
  /** Their categories, read with them (for the request's category loader). */
  categories: Category[];
}

/**
 * Logs a served page's impressions (learning_events) and reads its listings, in one statement
 * (insertImpressionsSql): the candidate rows carry only what ranking needs.
 */
export async function recordImpressions(
  ctx: { requestId: string; viewer: Viewer; db: { service: ServiceDb } },
  page: SlotDecision[],
  sourceOf: (decision: SlotDecision) => string,
  meta: {
    /** One name for the page, or one per item (fallback fills are logged as 'fallback'). */
    policy: string | readonly string[];
    session: string;
    basePosition: number;
    /** The feed experiment and the viewer's arm, when an experiment chose the policy. */
    experiment?: string | null;
    arm?: string | null;
    /** The ranking features of each item as shown (RANKING_FEATURES order), logged for training. */
    features?: (decision: SlotDecision) => readonly number[] | null;
    featuresVersion?: number;
  },
): Promise<LoggedPage> {
  if (page.length === 0) return { impressionIds: [], listings: new Map(), categories: [] };
  const ids = page.map(() => randomUUID());
  const rows = await ctx.db.service.query<ListingSqlRow>(
    insertImpressionsSql,
    [
      ids,
      page.map(() => ctx.viewer.userId),
      page.map((d) => d.item.id),
      page.map((_d, i) => (typeof meta.policy === 'string' ? meta.policy : (meta.policy[i] ?? 'fallback'))),
      page.map(sourceOf),
      page.map((d) => d.propensity),
      page.map((d, i) => meta.basePosition + i),
      page.map((d, i) => {
        const features = meta.features?.(d) ?? null;
        return JSON.stringify({
          session: meta.session,
          requestId: ctx.requestId,
          position: meta.basePosition + i,
          ...(meta.experiment ? { experiment: meta.experiment, arm: meta.arm } : {}),
          ...(features ? { features, featuresVersion: meta.featuresVersion } : {}),
        });
      }),
      ctx.viewer.userId ?? '',
    ],
    // Prepared once per session: it runs once per feed page.
    'feed_impressions',
  );
  // `listing { category }` resolves from the row, with no loader call.
  const { listings, categories } = joinedListingsOf(rows);
  return { impressionIds: ids, listings: new Map(listings.map((l) => [l.id, l])), categories };
}
