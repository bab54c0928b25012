import { numberArrayLiteral, textArrayLiteral } from '../platform/pgArrays.js';
import { uuidV7s } from '../platform/uuidV7.js';
import type { Viewer } from '../auth/viewer.js';
import type { Category, Listing } from '../generated/prisma/client.js';
import { joinedListingsOf, type ListingSqlRow } from '../catalog/listingRows.js';
import type { ServiceDb } from '../db/service.js';
import type { SlotDecision } from './policies/types.js';
import { impressionStatements } from './sql.js';

/**
 * The check of kept candidates a page ranked from them needs (src/feed/candidateMemory.ts): which of
 * `ids` the viewer may no longer be served, looking back `lookBackSec` and at feed session `session`.
 */
export interface KeptCheck {
  ids: number[];
  lookBackSec: number;
  session: string;
}

/** A page of kept candidates that was not logged: these of them are no longer eligible. */
export interface RefusedPage {
  excluded: Set<number>;
}

/** A served page as logged: its impression ids (in page order) and its listings as they are now. */
export interface LoggedPage {
  impressionIds: string[];
  /** The page's listings by id, as the same statement read them; one no longer active is missing. */
  listings: Map<number, Listing>;
  /** Their categories, read with them (for the request's category loader). */
  categories: Category[];
}

/** What a page's impressions are logged with besides its decisions. */
export interface ImpressionMeta {
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
  /**
   * Read the listings' descriptions with them (default). False when the document asks for none: the
   * statement leaves them out (most of a listing's bytes) and the listings carry '' (toListing).
   */
  description?: boolean;
}

type ImpressionContext = {
  requestId: string;
  viewer: Viewer;
  db: { service: ServiceDb };
  /** Told that this request wrote on the primary (its viewer's next reads must see it). */
  writes?: { primary: boolean };
};

/**
 * Logs a served page's impressions (learning_events) and reads its listings, in one statement
 * (insertImpressionsSql): the candidate rows carry only what ranking needs. With `check` (a page ranked
 * from kept candidates) the same statement first checks them (insertCheckedImpressionsSql) and logs
 * the page only when none is excluded; otherwise it logs nothing and says which are.
 */
export async function recordImpressions(
  ctx: ImpressionContext,
  page: SlotDecision[],
  sourceOf: (decision: SlotDecision) => string,
  meta: ImpressionMeta,
): Promise<LoggedPage>;
export async function recordImpressions(
  ctx: ImpressionContext,
  page: SlotDecision[],
  sourceOf: (decision: SlotDecision) => string,
  meta: ImpressionMeta,
  check: KeptCheck | undefined,
): Promise<LoggedPage | RefusedPage>;
export async function recordImpressions(
  ctx: ImpressionContext,
  page: SlotDecision[],
  sourceOf: (decision: SlotDecision) => string,
  meta: ImpressionMeta,
  check?: KeptCheck,
): Promise<LoggedPage | RefusedPage> {
  if (page.length === 0) return { impressionIds: [], listings: new Map(), categories: [] };
  // Time-ordered: feedback on an impression finds its week's partition from the id (uuid_v7_time).
  const ids = uuidV7s(page.length);
  const policyOf = (i: number) =>
    typeof meta.policy === 'string' ? meta.policy : (meta.policy[i] ?? 'fallback');
  // Array literals built here (src/platform/pgArrays.ts): pg would quote and escape every element.
  const values = [
    textArrayLiteral(ids),
    textArrayLiteral(page.map(() => ctx.viewer.userId)),
    numberArrayLiteral(page.map((d) => d.item.id)),
    textArrayLiteral(page.map((_d, i) => policyOf(i))),
    textArrayLiteral(page.map(sourceOf)),
    numberArrayLiteral(page.map((d) => d.propensity)),
    numberArrayLiteral(page.map((_d, i) => meta.basePosition + i)),
    JSON.stringify(
      page.map((d, i) => {
        const features = meta.features?.(d) ?? null;
        return {
          session: meta.session,
          requestId: ctx.requestId,
          position: meta.basePosition + i,
          // Its place on this page (Thompson's arm statistics count places below FEED_EXPLOIT_TOP_SLOTS).
          place: i,
          // Shown elsewhere than decided (FEED_EXPLOIT_TOP_SLOTS): the slot the policy decided it for.
          ...(d.decidedAt !== undefined ? { decidedAt: meta.basePosition + d.decidedAt } : {}),
          ...(meta.experiment ? { experiment: meta.experiment, arm: meta.arm } : {}),
          ...(features ? { features, featuresVersion: meta.featuresVersion } : {}),
        };
      }),
    ),
    ctx.viewer.userId ?? '',
  ];
  let rows: ListingSqlRow[];
  const statements = impressionStatements[meta.description === false ? 'brief' : 'full'];
  // Before the statement: even one that fails may have committed (a lost connection after COMMIT).
  if (ctx.writes) ctx.writes.primary = true;
  if (check) {
    // Prepared once per session, as the plain insert: one of the two runs for every feed page.
    const checked = await ctx.db.service.query<ListingSqlRow & { excluded: number[] | null }>(
      statements.checked.text,
      [...values, numberArrayLiteral(check.ids), `${check.lookBackSec} seconds`, check.session],
      statements.checked.name,
    );
    const excluded = checked[0]?.excluded ?? null;
    if (excluded !== null) return { excluded: new Set(excluded) };
    // One row with no listing when none of the page's is still active.
    rows = checked.filter((row) => row.id !== null);
  } else {
    // Prepared once per session: it runs once per feed page.
    rows = await ctx.db.service.query<ListingSqlRow>(statements.insert.text, values, statements.insert.name);
  }
  // `listing { category }` resolves from the row, with no loader call.
  const { listings, categories } = joinedListingsOf(rows);
  return { impressionIds: ids, listings: new Map(listings.map((l) => [l.id, l])), categories };
}
