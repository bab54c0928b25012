import {
  checkInterest,
  checkListing,
  checkUser,
  type Checked,
  type InterestRow,
  type ListingRow,
  type UserRow,
} from '../catalog/rows.js';
import { interestIdsSql, listingIdsSql, profilesByExternalIdSql } from '../catalog/sql.js';
import { upsertInterests, upsertListings, upsertUsers, type RowOutcome } from '../catalog/writeCatalog.js';
import type { Queryable } from '../queue/leaseQueue.js';
import {
  checkCategory,
  checkInteraction,
  checkUserInterest,
  isSignalKind,
  type CategoryRow,
  type InteractionRow,
  type UserInterestRow,
} from './checks.js';
import {
  insertFollowsSql,
  insertLikesSql,
  insertSignalsSql,
  deferCountersSql,
  insertUserInterestsSql,
  interestsBySlugSql,
  upsertCategoriesSql,
} from './sql.js';

/**
 * The six kinds of input file, in import order (each may refer to the ones before it): how a record
 * is checked and how a batch of checked rows is written. Catalogue kinds go through the API's writers
 * (catalog/writeCatalog.ts), which throw CatalogRowError for a row they refuse (the runner rejects it
 * and retries the rest); the importer's own writers report unknown references as rejects directly.
 */

export const KIND_NAMES = [
  'categories',
  'users',
  'interests',
  'listings',
  'userInterests',
  'interactions',
] as const;
export type KindName = (typeof KIND_NAMES)[number];

export interface RowReject {
  /** Position in the batch given to write(). */
  index: number;
  field: string;
  message: string;
}

export interface WriteOutcome {
  inserted: number;
  updated: number;
  unchanged: number;
  skippedOld: number;
  rejects: RowReject[];
}

/** What an import's history batches touched, recounted after the files (their counters are deferred). */
export interface Touched {
  listings: Set<number>;
  profiles: Set<string>;
}

export interface WriteContext {
  source: string;
  /** Intent signals created before this are skipped (counted as skipped-old). */
  retentionCutoff: Date;
  /** Filled by the interactions writer: every listing liked and profile followed or following. */
  touched: Touched;
}

export interface Kind<T> {
  name: KindName;
  check: (input: Readonly<Record<string, unknown>>, now: number) => Checked<T>;
  /**
   * A row's identity for upserts: a batch never holds two rows with the same key (the second starts a
   * new batch), since one INSERT ... ON CONFLICT DO UPDATE cannot touch a row twice. The later row wins,
   * as it would through the API.
   */
  key?: (row: T) => string;
  write: (client: Queryable, rows: readonly T[], context: WriteContext) => Promise<WriteOutcome>;
}

const none = (): WriteOutcome => ({ inserted: 0, updated: 0, unchanged: 0, skippedOld: 0, rejects: [] });

function tally(outcomes: readonly { outcome: RowOutcome }[]): WriteOutcome {
  const result = none();
  for (const { outcome } of outcomes) result[outcome] += 1;
  return result;
}

const categories: Kind<CategoryRow> = {
  name: 'categories',
  check: (input) => checkCategory(input),
  key: (row) => row.slug,
  async write(client, rows) {
    const { rows: written } = await client.query<{ slug: string; inserted: boolean }>(upsertCategoriesSql, [
      rows.map((r) => r.slug),
      rows.map((r) => r.name),
    ]);
    const inserted = written.filter((w) => w.inserted).length;
    const updated = written.length - inserted;
    return { ...none(), inserted, updated, unchanged: rows.length - written.length };
  },
};

const users: Kind<UserRow> = {
  name: 'users',
  check: (input, now) => checkUser(input, now),
  key: (row) => row.externalId,
  write: async (client, rows, { source }) => tally((await upsertUsers(client, source, rows)).rows),
};

const interests: Kind<InterestRow> = {
  name: 'interests',
  check: (input) => checkInterest(input),
  key: (row) => row.externalId,
  write: async (client, rows, { source }) =>
    tally((await upsertInterests(client, source, rows, { enqueueFollowUps: false })).rows),
};

const listings: Kind<ListingRow> = {
  name: 'listings',
  check: (input, now) => checkListing(input, now),
  key: (row) => row.externalId,
  write: async (client, rows, { source }) =>
    tally((await upsertListings(client, source, rows, { enqueueFollowUps: false })).rows),
};

async function userIds(client: Queryable, source: string, externalIds: Iterable<string>) {
  const unique = [...new Set(externalIds)];
  if (unique.length === 0) return new Map<string, string>();
  const { rows } = await client.query<{ user_id: string; external_id: string }>(profilesByExternalIdSql, [
    source,
    unique,
  ]);
  return new Map(rows.map((r) => [r.external_id, r.user_id]));
}

async function listingIds(client: Queryable, source: string, externalIds: Iterable<string>) {
  const unique = [...new Set(externalIds)];
  if (unique.length === 0) return new Map<string, number>();
  const { rows } = await client.query<{ id: number; external_id: string }>(listingIdsSql, [source, unique]);
  return new Map(rows.map((r) => [r.external_id, Number(r.id)]));
}

const userInterests: Kind<UserInterestRow> = {
  name: 'userInterests',
  check: (input, now) => checkUserInterest(input, now),
  async write(client, rows, { source }) {
    const people = await userIds(
      client,
      source,
      rows.map((r) => r.userExternalId),
    );
    const byExternal = rows.flatMap((r) => ('externalId' in r.interest ? [r.interest.externalId] : []));
    const bySlug = rows.flatMap((r) => ('slug' in r.interest ? [r.interest.slug] : []));
    const interestByExternal = new Map<string, number>();
    const interestBySlug = new Map<string, number>();
    if (byExternal.length > 0) {
      const { rows: found } = await client.query<{ id: number; external_id: string }>(interestIdsSql, [
        source,
        [...new Set(byExternal)],
      ]);
      for (const f of found) interestByExternal.set(f.external_id, Number(f.id));
    }
    if (bySlug.length > 0) {
      const { rows: found } = await client.query<{ id: number; slug: string }>(interestsBySlugSql, [
        [...new Set(bySlug)],
      ]);
      for (const f of found) interestBySlug.set(f.slug, Number(f.id));
    }
    const outcome = none();
    const userCol: string[] = [];
    const interestCol: number[] = [];
    const affinityCol: number[] = [];
    const createdCol: (Date | null)[] = [];
    rows.forEach((row, index) => {
      const userId = people.get(row.userExternalId);
      if (userId === undefined) {
        outcome.rejects.push({
          index,
          field: 'user',
          message: `names no user imported from source "${source}"`,
        });
        return;
      }
      const interestId =
        'externalId' in row.interest
          ? interestByExternal.get(row.interest.externalId)
          : interestBySlug.get(row.interest.slug);
      if (interestId === undefined) {
        outcome.rejects.push(
          'externalId' in row.interest
            ? { index, field: 'interest', message: `names no interest imported from source "${source}"` }
            : { index, field: 'interestSlug', message: 'names no interest' },
        );
        return;
      }
      userCol.push(userId);
      interestCol.push(interestId);
      affinityCol.push(row.affinity);
      createdCol.push(row.createdAt);
    });
    if (userCol.length > 0) {
      const { rowCount } = await client.query(insertUserInterestsSql, [
        userCol,
        interestCol,
        affinityCol,
        createdCol,
      ]);
      outcome.inserted = rowCount ?? 0;
    }
    outcome.unchanged = userCol.length - outcome.inserted;
    return outcome;
  },
};

/** One column set per statement: likes, follows, intent signals. */
class Columns {
  readonly likes = { user: [] as string[], listing: [] as number[], at: [] as Date[] };
  readonly follows = { follower: [] as string[], followee: [] as string[], at: [] as Date[] };
  readonly signals = {
    user: [] as string[],
    kind: [] as string[],
    listing: [] as number[],
    weight: [] as number[],
    at: [] as Date[],
  };
  get size(): number {
    return this.likes.user.length + this.follows.follower.length + this.signals.user.length;
  }
}

const interactions: Kind<InteractionRow> = {
  name: 'interactions',
  check: (input, now) => checkInteraction(input, now),
  async write(client, rows, { source, retentionCutoff, touched }) {
    const outcome = none();
    // The like and follow counters are recounted after the files (the runner, from `touched`): a
    // counter update per like rewrote the listing's 1.6 KB row and every index entry of it.
    await client.query(deferCountersSql);
    // Signals past retention are skipped before anything is looked up: they would be collected at once.
    const live = rows.flatMap((row, index) =>
      isSignalKind(row.type) && row.createdAt < retentionCutoff ? [] : [{ row, index }],
    );
    outcome.skippedOld = rows.length - live.length;
    const people = await userIds(
      client,
      source,
      live.flatMap(({ row }) =>
        row.type === 'follow' ? [row.userExternalId, row.targetExternalId] : [row.userExternalId],
      ),
    );
    const listingsById = await listingIds(
      client,
      source,
      live.flatMap(({ row }) => (row.type === 'follow' ? [] : [row.targetExternalId])),
    );
    const columns = new Columns();
    for (const { row, index } of live) {
      const userId = people.get(row.userExternalId);
      if (userId === undefined) {
        outcome.rejects.push({
          index,
          field: 'user',
          message: `names no user imported from source "${source}"`,
        });
        continue;
      }
      if (row.type === 'follow') {
        const followee = people.get(row.targetExternalId);
        if (followee === undefined) {
          outcome.rejects.push({
            index,
            field: 'target',
            message: `names no user imported from source "${source}" (a follow's target is a user)`,
          });
        } else if (followee === userId) {
          outcome.rejects.push({ index, field: 'target', message: 'is the user themself (no self-follows)' });
        } else {
          columns.follows.follower.push(userId);
          columns.follows.followee.push(followee);
          columns.follows.at.push(row.createdAt);
          touched.profiles.add(userId).add(followee);
        }
        continue;
      }
      const listingId = listingsById.get(row.targetExternalId);
      if (listingId === undefined) {
        outcome.rejects.push({
          index,
          field: 'target',
          message: `names no listing imported from source "${source}"`,
        });
        continue;
      }
      if (row.type === 'like') {
        columns.likes.user.push(userId);
        columns.likes.listing.push(listingId);
        columns.likes.at.push(row.createdAt);
        touched.listings.add(listingId);
      } else {
        columns.signals.user.push(userId);
        columns.signals.kind.push(row.type);
        columns.signals.listing.push(listingId);
        columns.signals.weight.push(row.weight);
        columns.signals.at.push(row.createdAt);
      }
    }
    const { likes, follows, signals } = columns;
    let inserted = 0;
    if (likes.user.length > 0) {
      inserted += (await client.query(insertLikesSql, [likes.user, likes.listing, likes.at])).rowCount ?? 0;
    }
    if (follows.follower.length > 0) {
      inserted +=
        (await client.query(insertFollowsSql, [follows.follower, follows.followee, follows.at])).rowCount ??
        0;
    }
    if (signals.user.length > 0) {
      inserted +=
        (
          await client.query(insertSignalsSql, [
            signals.user,
            signals.kind,
            signals.listing,
            signals.weight,
            signals.at,
          ])
        ).rowCount ?? 0;
    }
    outcome.inserted = inserted;
    outcome.unchanged = columns.size - inserted;
    return outcome;
  },
};

// Each kind's row type differs; the runner only moves rows from check() to write() of the same kind.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous table of Kind<T>
export const KINDS: Record<KindName, Kind<any>> = {
  categories,
  users,
  interests,
  listings,
  userInterests,
  interactions,
};
