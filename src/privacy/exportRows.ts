/**
 * The rows the export's statements return (src/privacy/exportSql.ts), as the pg driver gives them:
 * snake_case, timestamps as PostgreSQL's text (exactTimestampTypes, so no microsecond is lost on a keyset).
 */

/** A timestamptz as PostgreSQL's text (see exactTimestampTypes). */
export type Timestamp = string;

export interface InterestRow {
  interest_id: number;
  slug: string;
  name: string;
  affinity: number;
  reinforced_at: Timestamp;
  decayed_at: Timestamp | null;
  created_at: Timestamp;
}

export interface LikeRow {
  listing_id: number;
  created_at: Timestamp;
}

export interface CommentRow {
  id: string;
  listing_id: number;
  body: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: Timestamp | null;
}

export interface FollowRow {
  user_id: string;
  handle: string | null;
  created_at: Timestamp;
}

export interface ListingRow {
  id: number;
  category_id: number;
  title: string;
  description: string;
  price: string;
  currency: string;
  status: string;
  like_count: number;
  comment_count: number;
  source: string | null;
  external_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SignalRow {
  id: string;
  kind: string;
  listing_id: number | null;
  query: string | null;
  weight: number;
  created_at: Timestamp;
}

export interface ImpressionRow {
  id: string;
  listing_id: number;
  policy: string;
  source: string;
  propensity: number;
  position: number;
  reward: number | null;
  rewarded_at: Timestamp | null;
  context: unknown;
  created_at: Timestamp;
}

export interface IdempotencyKeyRow {
  key: string;
  operation: string;
  request_hash: string;
  response: unknown;
  created_at: Timestamp;
}

export interface ProblemReportRow {
  id: string;
  flag_key: string;
  variant: string;
  message: string;
  at: Timestamp;
}

export interface FeedCandidatesRow {
  listing_ids: number[];
  scores: number[];
  sources: number[];
  computed_at: Timestamp;
}
