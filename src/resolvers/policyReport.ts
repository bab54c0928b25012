import type { Context } from '../context.js';
import { createBadUserInputError } from '../errors/errors.js';
import { policyReport as readPolicyReport, type PolicyReportResult } from '../feed/policyReport.js';

export type { PolicyReportResult } from '../feed/policyReport.js';

const DAY_MS = 24 * 3600 * 1000;
/** learning_events are kept 180 days (gc_learning_events), so older windows add nothing. */
const MAX_WINDOW_DAYS = 180;

/**
 * Admin: how each feed policy and experiment arm performs (src/feed/policyReport.ts). Default window:
 * the last 7 days.
 */
export async function policyReport(
  ctx: Context,
  since: Date | null | undefined,
): Promise<PolicyReportResult> {
  const from = since ?? new Date(Date.now() - 7 * DAY_MS);
  if (Number.isNaN(from.getTime()) || from.getTime() > Date.now()) {
    throw createBadUserInputError('since must be a moment in the past', 'since');
  }
  if (Date.now() - from.getTime() > MAX_WINDOW_DAYS * DAY_MS) {
    throw createBadUserInputError(`since must be within the last ${MAX_WINDOW_DAYS} days`, 'since');
  }
  return readPolicyReport(ctx.db, from, ctx.feed.ranker);
}
