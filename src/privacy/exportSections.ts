import type pg from 'pg';
import { timestamptzIso } from '../platform/pgTypes.js';
import type { NamedStatement } from '../platform/pool.js';
import {
  exportCommentsSql,
  exportFeedCandidatesSql,
  exportFollowersSql,
  exportFollowingSql,
  exportHiddenListingsSql,
  exportIdempotencyKeysSql,
  exportImpressionsSql,
  exportInterestsSql,
  exportLikesSql,
  exportListingsSql,
  exportProblemReportsSql,
  exportSignalsSql,
} from './exportSql.js';
import type {
  CommentRow,
  FeedCandidatesRow,
  FollowRow,
  IdempotencyKeyRow,
  ImpressionRow,
  InterestRow,
  LikeRow,
  ListingRow,
  ProblemReportRow,
  SignalRow,
  Timestamp,
} from './exportRows.js';

/**
 * The export's Postgres sections, in export order: what each reads, how it pages and how a row becomes a
 * record (camelCase; docs/privacy.md#export documents every field). Timestamps arrive as PostgreSQL's
 * text (exactTimestampTypes) and leave as ISO 8601 UTC with their microseconds.
 */

/** One exported record, without its `type`. */
export type ExportRecord = Record<string, unknown>;

/** Runs one statement under the export's identity and returns its rows. */
export type ReadRows = <R extends pg.QueryResultRow>(
  statement: NamedStatement,
  values: unknown[],
) => Promise<R[]>;

/** A section read in keyset pages: yields each page's records until a page comes back short. */
export interface ExportSection {
  /** The records' `type` and the section's key in the end line's counts. */
  name: string;
  pages: (read: ReadRows, userId: string, pageSize: number) => AsyncGenerator<ExportRecord[]>;
}

const iso = (at: Timestamp): string => timestamptzIso(at);
const isoOrNull = (at: Timestamp | null): string | null => (at === null ? null : timestamptzIso(at));

/** The smallest keys: the first page starts after them. */
const BEFORE_ALL_TIMES = '-infinity';
const BEFORE_ALL_UUIDS = '00000000-0000-0000-0000-000000000000';

/**
 * A section paged by a keyset: `start` is below every key, `after` is the key of a page's last row, and
 * the statement takes [user id, ...key, page size].
 */
function keysetSection<R extends pg.QueryResultRow>(spec: {
  name: string;
  statement: NamedStatement;
  start: readonly unknown[];
  after: (row: R) => readonly unknown[];
  record: (row: R) => ExportRecord;
}): ExportSection {
  return {
    name: spec.name,
    async *pages(read, userId, pageSize) {
      let key = spec.start;
      for (;;) {
        const rows = await read<R>(spec.statement, [userId, ...key, pageSize]);
        if (rows.length > 0) yield rows.map(spec.record);
        const last = rows.at(-1);
        if (rows.length < pageSize || last === undefined) return;
        key = spec.after(last);
      }
    },
  };
}

/** A section of at most one row, read in one statement of [user id]. */
function singleRowSection<R extends pg.QueryResultRow>(spec: {
  name: string;
  statement: NamedStatement;
  record: (row: R) => ExportRecord;
}): ExportSection {
  return {
    name: spec.name,
    async *pages(read, userId) {
      const rows = await read<R>(spec.statement, [userId]);
      if (rows.length > 0) yield rows.map(spec.record);
    },
  };
}

const follow = (row: FollowRow): ExportRecord => ({
  userId: row.user_id,
  handle: row.handle,
  createdAt: iso(row.created_at),
});

/** Bits of feed_viewer_candidates.sources (src/feed/sql.ts): near the viewer's embedding; from an interest. */
const VIA_EMBEDDING = 1;
const VIA_INTEREST = 2;

export const EXPORT_SECTIONS: readonly ExportSection[] = [
  keysetSection<InterestRow>({
    name: 'interest',
    statement: exportInterestsSql,
    start: [0],
    after: (row) => [row.interest_id],
    record: (row) => ({
      interestId: row.interest_id,
      slug: row.slug,
      name: row.name,
      affinity: row.affinity,
      reinforcedAt: iso(row.reinforced_at),
      decayedAt: isoOrNull(row.decayed_at),
      createdAt: iso(row.created_at),
    }),
  }),
  keysetSection<LikeRow>({
    name: 'like',
    statement: exportLikesSql,
    start: [BEFORE_ALL_TIMES, 0],
    after: (row) => [row.created_at, row.listing_id],
    record: (row) => ({ listingId: row.listing_id, createdAt: iso(row.created_at) }),
  }),
  keysetSection<CommentRow>({
    name: 'comment',
    statement: exportCommentsSql,
    start: [BEFORE_ALL_TIMES, 0],
    after: (row) => [row.created_at, row.id],
    record: (row) => ({
      id: row.id,
      listingId: row.listing_id,
      body: row.body,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
      deletedAt: isoOrNull(row.deleted_at),
    }),
  }),
  keysetSection<FollowRow>({
    name: 'following',
    statement: exportFollowingSql,
    start: [BEFORE_ALL_UUIDS],
    after: (row) => [row.user_id],
    record: follow,
  }),
  keysetSection<FollowRow>({
    name: 'follower',
    statement: exportFollowersSql,
    start: [BEFORE_ALL_UUIDS],
    after: (row) => [row.user_id],
    record: follow,
  }),
  keysetSection<ListingRow>({
    name: 'listing',
    statement: exportListingsSql,
    start: [0],
    after: (row) => [row.id],
    record: (row) => ({
      id: row.id,
      categoryId: row.category_id,
      title: row.title,
      description: row.description,
      price: row.price,
      currency: row.currency,
      status: row.status,
      likeCount: row.like_count,
      commentCount: row.comment_count,
      source: row.source,
      externalId: row.external_id,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
    }),
  }),
  keysetSection<LikeRow>({
    name: 'hiddenListing',
    statement: exportHiddenListingsSql,
    start: [0],
    after: (row) => [row.listing_id],
    record: (row) => ({ listingId: row.listing_id, createdAt: iso(row.created_at) }),
  }),
  keysetSection<SignalRow>({
    name: 'signal',
    statement: exportSignalsSql,
    start: [BEFORE_ALL_TIMES, 0],
    after: (row) => [row.created_at, row.id],
    record: (row) => ({
      id: row.id,
      kind: row.kind,
      listingId: row.listing_id,
      query: row.query,
      weight: row.weight,
      createdAt: iso(row.created_at),
    }),
  }),
  keysetSection<ImpressionRow>({
    name: 'feedImpression',
    statement: exportImpressionsSql,
    start: [BEFORE_ALL_TIMES, BEFORE_ALL_UUIDS],
    after: (row) => [row.created_at, row.id],
    record: (row) => ({
      impressionId: row.id,
      listingId: row.listing_id,
      policy: row.policy,
      source: row.source,
      propensity: row.propensity,
      position: row.position,
      reward: row.reward,
      rewardedAt: isoOrNull(row.rewarded_at),
      context: row.context,
      createdAt: iso(row.created_at),
    }),
  }),
  keysetSection<IdempotencyKeyRow>({
    name: 'idempotencyKey',
    statement: exportIdempotencyKeysSql,
    start: [''],
    after: (row) => [row.key],
    record: (row) => ({
      key: row.key,
      operation: row.operation,
      requestHash: row.request_hash,
      response: row.response,
      createdAt: iso(row.created_at),
    }),
  }),
  keysetSection<ProblemReportRow>({
    name: 'problemReport',
    statement: exportProblemReportsSql,
    start: [0],
    after: (row) => [row.id],
    record: (row) => ({
      id: row.id,
      flagKey: row.flag_key,
      variant: row.variant,
      message: row.message,
      at: iso(row.at),
    }),
  }),
  singleRowSection<FeedCandidatesRow>({
    name: 'feedCandidates',
    statement: exportFeedCandidatesSql,
    record: (row) => ({
      computedAt: iso(row.computed_at),
      candidates: row.listing_ids.map((listingId, i) => ({
        listingId,
        score: row.scores[i] ?? null,
        viaEmbedding: ((row.sources[i] ?? 0) & VIA_EMBEDDING) !== 0,
        viaInterest: ((row.sources[i] ?? 0) & VIA_INTEREST) !== 0,
      })),
    }),
  }),
];

/** The profiles row of the export's person (exportProfileSql). */
export interface ProfileRow {
  user_id: string;
  handle: string;
  display_name: string;
  role: string;
  follower_count: number;
  following_count: number;
  embedding: number[] | null;
  embedding_updated_at: Timestamp | null;
  source: string | null;
  external_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export const profileRecord = (row: ProfileRow): ExportRecord => ({
  userId: row.user_id,
  handle: row.handle,
  displayName: row.display_name,
  role: row.role,
  followerCount: row.follower_count,
  followingCount: row.following_count,
  embedding: row.embedding,
  embeddingUpdatedAt: isoOrNull(row.embedding_updated_at),
  source: row.source,
  externalId: row.external_id,
  createdAt: iso(row.created_at),
  updatedAt: iso(row.updated_at),
});
